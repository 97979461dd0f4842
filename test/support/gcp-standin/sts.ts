import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FaultSwitch } from './faults.js';
import { googleError, sendError, sendJson } from './google-errors.js';

/**
 * Google's Security Token Service as workload identity federation uses it (RFC 8693 token
 * exchange, POST /v1/token, form-encoded), plus the credentials file CI writes for it: an
 * `external_account` whose subject token is read from a file. The subject token and the access
 * token it is exchanged for are planted secrets: recognisable strings tests grep outputs for.
 */

const GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT = 'urn:ietf:params:oauth:token-type:jwt';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
export const PLANTED = 'TSUITE-PLANTED-SECRET';

export class TokenService {
  /** What the CI provider's OIDC token would be: the file credential_source names holds it. */
  readonly subjectToken = `eyJ${PLANTED}-subject-${randomBytes(12).toString('hex')}`;
  /** What STS hands out; every Compute and Storage call must carry it. */
  readonly accessToken = `ya29.${PLANTED}-access-${randomBytes(12).toString('hex')}`;
  readonly audience: string;

  constructor(project: string, private readonly faults: FaultSwitch) {
    this.audience = `//iam.googleapis.com/projects/${projectNumber(project)}/locations/global/workloadIdentityPools/tsuite-ci/providers/tsuite-oidc`;
  }

  /** Writes the subject token file and the external_account credentials file; returns the latter's path. */
  async writeCredentials(dir: string, origin: string): Promise<string> {
    const tokenFile = join(dir, 'oidc-subject-token');
    await writeFile(tokenFile, this.subjectToken, { mode: 0o600 });
    const file = join(dir, 'external-account.json');
    const creds = {
      type: 'external_account',
      audience: this.audience,
      subject_token_type: JWT,
      token_url: `${origin}/v1/token`,
      credential_source: { file: tokenFile, format: { type: 'text' } },
      universe_domain: 'googleapis.com',
    };
    await writeFile(file, `${JSON.stringify(creds, null, 2)}\n`, { mode: 0o600 });
    return file;
  }

  /** POST /v1/token. */
  exchange(form: URLSearchParams, res: ServerResponse): void {
    const oauthError = (status: number, error: string, description: string) =>
      sendJson(res, status, { error, error_description: description });
    const fault = this.faults.take('sts');
    if (fault) return oauthError(fault.status ?? 400, fault.reason ?? 'invalid_grant', fault.message ?? 'The token exchange was refused (tsuite stand-in fault).');
    if (form.get('grant_type') !== GRANT) return oauthError(400, 'unsupported_grant_type', `grant_type must be ${GRANT}`);
    if (form.get('subject_token_type') !== JWT) return oauthError(400, 'invalid_request', `subject_token_type must be ${JWT}`);
    const requested = form.get('requested_token_type');
    if (requested !== ACCESS_TOKEN) return oauthError(400, 'invalid_request', `requested_token_type must be ${ACCESS_TOKEN}`);
    if (form.get('audience') !== this.audience) return oauthError(400, 'invalid_target', 'The audience does not name this workload identity pool provider.');
    if (form.get('subject_token') !== this.subjectToken) return oauthError(400, 'invalid_grant', 'The subject token is invalid.');
    sendJson(res, 200, { access_token: this.accessToken, issued_token_type: ACCESS_TOKEN, token_type: 'Bearer', expires_in: 3599 });
  }

  /**
   * Whether a Compute or Storage request carries the access token; if not, answers 401 as Google
   * does (with `WWW-Authenticate`) and returns false.
   */
  authorize(req: IncomingMessage, res: ServerResponse): boolean {
    const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    if (m && m[1] === this.accessToken) return true;
    const body = m
      ? googleError(401, 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.', 'authError')
      : googleError(401, 'Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential.', 'required');
    body.error.errors[0]!.location = 'Authorization';
    body.error.errors[0]!.locationType = 'header';
    sendError(res, body, { 'www-authenticate': m ? 'Bearer realm="https://accounts.google.com/", error="invalid_token"' : 'Bearer realm="https://accounts.google.com/"' });
    return false;
  }
}

/** A stable 12-digit project number for a project id, as the audience needs one. */
function projectNumber(project: string): string {
  let h = 7;
  for (const c of project) h = (h * 31 + c.charCodeAt(0)) % 1e12;
  return String(100000000000 + (h % 899999999999));
}
