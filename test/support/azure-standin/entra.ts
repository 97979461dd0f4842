import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FaultSwitch } from './faults.js';
import { sendJson } from './arm-errors.js';

/**
 * Microsoft Entra ID as @azure/identity (MSAL) reaches it when `authorityHost` is the stand-in:
 *
 * - `GET /{tenant}/v2.0/.well-known/openid-configuration`: MSAL resolves the token endpoint from it;
 * - `GET /common/discovery/instance`: instance discovery, answered so that MSAL accepts the host
 *   (MSAL sends it to login.microsoftonline.com unless the credential has
 *   `disableInstanceDiscovery: true`; see README.md);
 * - `POST /{tenant}/oauth2/v2.0/token`, form-encoded `grant_type=client_credentials` with either
 *   `client_secret` (ClientSecretCredential, via EnvironmentCredential) or
 *   `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer` +
 *   `client_assertion` (WorkloadIdentityCredential: the federated token file CI writes).
 *
 * Access tokens are v1-shaped JWTs (HS256 with a key nobody else has) whose `aud` is the scope's
 * resource and whose `iss` is `https://sts.windows.net/{tenant}/`, the issuer Azurite's
 * `--oauth basic` accepts. The client secret, the federated token and every access token issued
 * are planted secrets: output must never contain them.
 */

export const PLANTED = 'TSUITE-PLANTED-SECRET';
const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

export interface IssuedToken {
  token: string;
  audience: string;
  expiresAt: number;
}

const b64url = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

export class EntraId {
  readonly tenantId = randomUUID();
  readonly clientId = randomUUID();
  readonly clientSecret = `tsuite~${PLANTED}-secret-${randomBytes(12).toString('hex')}`;
  /** What GitHub's OIDC token would be: JWT-shaped, the planted marker in its subject. */
  readonly federatedToken: string;
  private readonly signingKey = randomBytes(32);
  private readonly issued = new Map<string, IssuedToken>();
  /** Every access token handed out (secrets). */
  readonly tokens: string[] = [];

  constructor(private readonly faults: FaultSwitch, private readonly tokenLifetimeS = 3599) {
    const now = Math.floor(Date.now() / 1000);
    this.federatedToken = [
      b64url({ alg: 'RS256', typ: 'JWT' }),
      b64url({ iss: 'https://token.actions.githubusercontent.com', sub: `repo:tsuite/ci:${PLANTED}`, aud: 'api://AzureADTokenExchange', iat: now, nbf: now, exp: now + 3600 }),
      `${PLANTED}-federated-${randomBytes(12).toString('hex')}`,
    ].join('.');
  }

  /** Handles Entra's paths; false when the path is not one of them. */
  handle(req: IncomingMessage, res: ServerResponse, url: URL, body: Buffer, origin: string): boolean {
    const parts = url.pathname.split('/').filter(Boolean);
    if (req.method === 'GET' && url.pathname === '/common/discovery/instance') {
      const host = new URL(origin).host;
      sendJson(res, 200, {
        tenant_discovery_endpoint: `${origin}/${this.tenantId}/v2.0/.well-known/openid-configuration`,
        'api-version': '1.1',
        metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
      });
      return true;
    }
    if (req.method === 'GET' && parts.length === 4 && parts[1] === 'v2.0' && parts[2] === '.well-known' && parts[3] === 'openid-configuration') {
      const tenant = parts[0]!;
      if (tenant !== this.tenantId && tenant !== 'organizations' && tenant !== 'common') {
        sendJson(res, 400, { error: 'invalid_tenant', error_description: `AADSTS90002: Tenant '${tenant}' not found.`, error_codes: [90002] });
        return true;
      }
      sendJson(res, 200, {
        token_endpoint: `${origin}/${this.tenantId}/oauth2/v2.0/token`,
        authorization_endpoint: `${origin}/${this.tenantId}/oauth2/v2.0/authorize`,
        device_authorization_endpoint: `${origin}/${this.tenantId}/oauth2/v2.0/devicecode`,
        end_session_endpoint: `${origin}/${this.tenantId}/oauth2/v2.0/logout`,
        jwks_uri: `${origin}/${this.tenantId}/discovery/v2.0/keys`,
        issuer: `${origin}/${this.tenantId}/v2.0`,
        token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
        response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
        scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
        subject_types_supported: ['pairwise'],
        id_token_signing_alg_values_supported: ['RS256'],
        tenant_region_scope: 'EU',
        cloud_instance_name: 'microsoftonline.com',
      });
      return true;
    }
    if (req.method === 'POST' && parts.length === 4 && parts[1] === 'oauth2' && parts[2] === 'v2.0' && parts[3] === 'token') {
      this.token(parts[0]!, new URLSearchParams(body.toString('utf8')), res);
      return true;
    }
    return false;
  }

  private token(tenant: string, form: URLSearchParams, res: ServerResponse): void {
    const federated = form.get('client_assertion_type') === ASSERTION_TYPE;
    const oauthError = (status: number, error: string, aadsts: number, text: string) =>
      sendJson(res, status, {
        error,
        error_description: `AADSTS${aadsts}: ${text} Trace ID: ${randomUUID()} Correlation ID: ${randomUUID()} Timestamp: ${new Date().toISOString().replace('T', ' ').slice(0, 19)}Z`,
        error_codes: [aadsts],
        timestamp: new Date().toISOString(),
        trace_id: randomUUID(),
        correlation_id: randomUUID(),
        error_uri: `https://login.microsoftonline.com/error?code=${aadsts}`,
      });
    const fault = this.faults.take('token');
    if (fault) {
      if (federated) return oauthError(fault.status ?? 400, fault.code ?? 'invalid_client', 700213, fault.message ?? `No matching federated identity record found for presented assertion subject 'repo:tsuite/ci'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion.`);
      return oauthError(fault.status ?? 401, fault.code ?? 'invalid_client', 7000215, fault.message ?? `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${this.clientId}'.`);
    }
    if (tenant !== this.tenantId) return oauthError(400, 'invalid_request', 90002, `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`);
    if (form.get('grant_type') !== 'client_credentials') return oauthError(400, 'unsupported_grant_type', 70003, `The app requested an unsupported grant type '${form.get('grant_type') ?? ''}'.`);
    if (form.get('client_id') !== this.clientId) return oauthError(400, 'unauthorized_client', 700016, `Application with identifier '${form.get('client_id') ?? ''}' was not found in the directory '${tenant}'.`);
    if (federated) {
      if (form.get('client_assertion') !== this.federatedToken) return oauthError(400, 'invalid_client', 700211, 'No matching federated identity record found for presented assertion issuer.');
    } else if (form.get('client_secret') !== this.clientSecret) {
      return oauthError(401, 'invalid_client', 7000215, 'Invalid client secret provided.');
    }
    const scopes = (form.get('scope') ?? '').split(' ').filter((s) => s.endsWith('/.default'));
    if (scopes.length !== 1) return oauthError(400, 'invalid_scope', 1002012, `The provided value for scope ${form.get('scope') ?? ''} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`);
    const audience = scopes[0]!.slice(0, -'/.default'.length);
    const issued = this.issue(audience);
    sendJson(res, 200, { token_type: 'Bearer', expires_in: this.tokenLifetimeS, ext_expires_in: this.tokenLifetimeS, access_token: issued.token });
  }

  /** A token the stand-in itself uses (reading blobs from Azurite, as Azure's own services do). */
  internalToken(audience: string): string {
    return this.issue(audience).token;
  }

  private issue(audience: string): IssuedToken {
    const now = Math.floor(Date.now() / 1000);
    const header = b64url({ typ: 'JWT', alg: 'HS256' });
    const claims = b64url({
      aud: audience,
      iss: `https://sts.windows.net/${this.tenantId}/`,
      iat: now - 5,
      nbf: now - 5,
      exp: now + this.tokenLifetimeS,
      appid: this.clientId,
      appidacr: '1',
      idp: `https://sts.windows.net/${this.tenantId}/`,
      oid: this.clientId,
      sub: this.clientId,
      tid: this.tenantId,
      uti: randomBytes(16).toString('base64url'),
      ver: '1.0',
    });
    const sig = createHmac('sha256', this.signingKey).update(`${header}.${claims}`).digest('base64url');
    const token = `${header}.${claims}.${sig}`;
    const record = { token, audience: audience.replace(/\/$/, ''), expiresAt: (now + this.tokenLifetimeS) * 1000 };
    this.issued.set(token, record);
    this.tokens.push(token);
    return record;
  }

  /**
   * The bearer token of a request if this stand-in issued it for `audience` and it has not expired;
   * otherwise the reason, in the words ARM uses.
   */
  check(req: IncomingMessage, audience: string): { ok: true } | { ok: false; code: string; message: string } {
    const auth = req.headers.authorization;
    if (!auth) return { ok: false, code: 'AuthenticationFailed', message: "Authentication failed. The 'Authorization' header is missing." };
    const m = /^Bearer (\S+)$/.exec(auth);
    if (!m) return { ok: false, code: 'AuthenticationFailed', message: "Authentication failed. The 'Authorization' header is provided in an invalid format." };
    const t = this.issued.get(m[1]!);
    if (!t) return { ok: false, code: 'InvalidAuthenticationToken', message: 'The access token is invalid.' };
    if (t.expiresAt < Date.now()) return { ok: false, code: 'ExpiredAuthenticationToken', message: 'The access token expiry UTC time is earlier than current UTC time.' };
    if (t.audience !== audience.replace(/\/$/, '')) return { ok: false, code: 'InvalidAuthenticationTokenAudience', message: `The access token has been obtained for wrong audience or resource '${t.audience}'. It should exactly match with one of the allowed audiences '${audience}'.` };
    return { ok: true };
  }
}
