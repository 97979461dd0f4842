/**
 * A small client for the OCI distribution HTTP API (distribution-spec v1.1), on undici: plain HTTP,
 * or HTTPS trusting a given CA (never with verification off), and Basic auth on every request when
 * credentials are given — what registry 2.8 with htpasswd expects. It does not do the token (Bearer)
 * flow; a registry that asks for one gets an error that says so.
 */
import type { Readable } from 'node:stream';
import type * as Undici from 'undici';
import type { Dispatcher } from 'undici';
import { InfraError } from '../../src/core/errors.js';
import { lazyRequire } from '../../src/core/lazy-require.js';
import type { RegistryCredentials } from './htpasswd.js';

// undici costs ~80 ms to import: loaded when a registry is first spoken to, not by every run that plans a suite using one.
const undici = lazyRequire<typeof Undici>('undici');

/** Where a registry is and how to reach it. A LocalRegistry is one. */
export interface RegistryAccess {
  /** `HOST:PORT` as a client dials it. */
  host: string;
  scheme: 'http' | 'https';
  /** PEM of the CA to trust for https (instead of the system's). */
  caPem?: string;
  credentials?: RegistryCredentials;
}

export interface RegistryResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A registry answered something other than what the step needed, or could not be reached. */
export class RegistryError extends InfraError {
  constructor(
    message: string,
    readonly registry: string,
    readonly repo: string | undefined,
    /** The HTTP status, when the registry answered at all. */
    readonly status: number | undefined,
    /** The registry's body (its `errors` JSON), cut short. */
    readonly body: string,
    fix?: string,
  ) {
    super(message, fix);
  }
}

export interface SendOptions {
  headers?: Record<string, string>;
  body?: Buffer | Readable;
  /** The repository the request is about, for error messages. */
  repo?: string;
}

/** A registry that takes long to answer headers is stuck, not busy: fail rather than hang a run. */
const HEADERS_TIMEOUT_MS = 30_000;
const BODY_TIMEOUT_MS = 120_000;
const BODY_IN_ERRORS = 600;

export class RegistryClient {
  /** `scheme://host`, the base of every path. */
  readonly base: string;
  private readonly agent: Dispatcher;
  private readonly authorization?: string;

  constructor(private readonly access: RegistryAccess) {
    this.base = `${access.scheme}://${access.host}`;
    this.agent = new (undici().Agent)({
      headersTimeout: HEADERS_TIMEOUT_MS,
      bodyTimeout: BODY_TIMEOUT_MS,
      ...(access.scheme === 'https' && access.caPem && { connect: { ca: access.caPem } }),
    });
    const c = access.credentials;
    if (c) this.authorization = `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
  }

  /** One request; any status comes back (only a failure to get an answer throws). `path` may be absolute (an upload Location). */
  async send(method: Dispatcher.HttpMethod, path: string, opts: SendOptions = {}): Promise<RegistryResponse> {
    const url = new URL(path, this.base);
    // A user agent of our own: the registry's access log then says who made each request.
    const headers: Record<string, string> = { 'user-agent': 'tsuite', ...opts.headers };
    if (this.authorization) headers.authorization = this.authorization;
    let res: Dispatcher.ResponseData;
    try {
      res = await undici().request(url, { method, headers, body: opts.body, dispatcher: this.agent });
    } catch (err) {
      const why = this.redact(err instanceof Error ? `${err.message}${codeOf(err)}` : String(err));
      throw new RegistryError(
        `registry ${this.base}: ${method} ${url.pathname} failed: ${why}`, this.base, opts.repo, undefined, '',
        /certificate|self.signed|CERT|SSL|TLS/i.test(why) ? "trust the registry's CA (caPem), never turn verification off" : 'check the registry is running and the address is right',
      );
    }
    const body = method === 'HEAD' ? (await res.body.dump(), Buffer.alloc(0)) : Buffer.from(await res.body.arrayBuffer());
    return { status: res.statusCode, headers: res.headers, body };
  }

  /** `send`, requiring one of `ok`; anything else is a RegistryError naming the step, the repo, the status and the body. */
  async expect(method: Dispatcher.HttpMethod, path: string, ok: readonly number[], what: string, opts: SendOptions = {}): Promise<RegistryResponse> {
    const res = await this.send(method, path, opts);
    if (ok.includes(res.status)) return res;
    throw this.failure(res, what, opts.repo);
  }

  /** The error for an unexpected answer, with what a 401 means for this client. */
  failure(res: RegistryResponse, what: string, repo?: string): RegistryError {
    const body = this.redact(res.body.toString('utf8').trim().slice(0, BODY_IN_ERRORS));
    const where = `registry ${this.base}${repo ? `, repository ${repo}` : ''}`;
    let message = `${where}: ${what} answered HTTP ${res.status}${body ? `: ${body}` : ''}`;
    let fix: string | undefined;
    if (res.status === 401) {
      const challenge = header(res.headers, 'www-authenticate') ?? '';
      if (/^bearer\b/i.test(challenge)) {
        message += ` (it asks for a Bearer token: ${challenge})`;
        fix = 'tsuite speaks Basic auth only: configure the registry with htpasswd auth, or none';
      } else if (!this.access.credentials) {
        fix = 'the registry needs credentials: pass them with the registry access';
      } else {
        message += ` (the registry rejected the credentials of user '${this.access.credentials.username}')`;
        fix = 'check the user name and password';
      }
    }
    return new RegistryError(message, this.base, repo, res.status, body, fix);
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  /** Neither the password nor the header made from it may reach an error message. */
  private redact(text: string): string {
    const password = this.access.credentials?.password;
    if (!password) return text;
    let out = text.split(password).join('***');
    if (this.authorization) out = out.split(this.authorization.slice('Basic '.length)).join('***');
    return out;
  }
}

/** A header's value (the first, if repeated). */
export function header(headers: RegistryResponse['headers'], name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

function codeOf(err: Error): string {
  const code = (err as { code?: unknown }).code ?? (err.cause as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && !err.message.includes(code) ? ` (${code})` : '';
}
