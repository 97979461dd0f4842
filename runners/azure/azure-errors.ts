import { CloudApiError } from '../cloud/cloud-provider.js';
import { redact } from '../cloud/redact.js';

/** What Azure's libraries put on an error (RestError, identity's errors): never its request, whose headers authorise. */
interface AzureErrorShape {
  name?: string;
  message?: string;
  code?: string;
  statusCode?: number;
  details?: unknown;
  errorResponse?: { error?: string; errorDescription?: string };
}

/** Codes that say the thing is not there, whatever the HTTP status. */
const ABSENT_CODES = new Set(['ResourceGroupNotFound', 'ResourceNotFound', 'NotFound', 'BlobNotFound']);
const NETWORK = /ECONNRESET|ECONNREFUSED|ETIMEDOUT|EAI_AGAIN|socket hang up|REQUEST_SEND_ERROR/;

/**
 * An Azure failure as tsuite reports it: Azure's error code and message (from the body ARM and
 * Storage send), the HTTP status, redacted; nothing else from the error object.
 */
export function azureError(err: unknown, what: string): CloudApiError {
  if (err instanceof CloudApiError) return err;
  const e = chainCause(err ?? {}) as AzureErrorShape;
  const body = armBody(e.details) ?? armBody(jsonOf(e.message));
  const status = typeof e.statusCode === 'number' ? e.statusCode : undefined;
  const raw = body?.message ?? e.errorResponse?.errorDescription ?? e.message ?? String(err);
  const entra = ENTRA_ERROR.exec(raw);
  const code = body?.code ?? (typeof e.code === 'string' ? e.code : undefined) ?? e.errorResponse?.error ?? (entra ? MSAL_CODE.exec(raw)?.[1] : undefined);
  // Storage puts RequestId and Time on lines of their own: the first line is the message. Entra's
  // AADSTS description is the message wherever MSAL put it, without its trace and correlation ids.
  const text = entra ? entra[1]!.trim() : raw.split('\n')[0]!.trim();
  const detail = [status ? `HTTP ${status}` : undefined, code].filter(Boolean).join(' ');
  const transient = status === 429 || (status !== undefined && status >= 500) || NETWORK.test(`${code ?? ''} ${text}`);
  return new CloudApiError(redact(`${what}: ${text}${detail ? ` (${detail})` : ''}`), status, code, transient);
}

/** Entra ID's error description, `AADSTS<n>: <text>`, up to the ids MSAL appends. */
const ENTRA_ERROR = /(AADSTS\d+:.*?)(?:\s+Trace ID:|\s*$)/m;
/** MSAL's message starts with the OAuth error code: `invalid_client: Error(s): ...`. */
const MSAL_CODE = /^([a-z_]+): Error\(s\)/m;

/**
 * DefaultAzureCredential fails with every credential's error in one AggregateAuthenticationError
 * whose message starts "ChainedTokenCredential authentication failed.": the credential that was
 * configured, tried and refused says why; the others were only unavailable.
 */
function chainCause(err: unknown): unknown {
  const errors = (err as { errors?: unknown }).errors;
  if (!Array.isArray(errors)) return err;
  return errors.find((x) => (x as { name?: string } | undefined)?.name !== 'CredentialUnavailableError') ?? err;
}

/** 404, or a code that says the resource (group) is gone. */
export function isAbsent(err: unknown): boolean {
  const e = (err ?? {}) as AzureErrorShape;
  if (err instanceof CloudApiError) return err.status === 404 || (err.reason !== undefined && ABSENT_CODES.has(err.reason));
  return e.statusCode === 404 || (typeof e.code === 'string' && ABSENT_CODES.has(e.code)) || ABSENT_CODES.has(armBody(e.details)?.code ?? '');
}

/** ARM's documented error body, `{ error: { code, message, details } }`, or Storage's `{ code, message }`. */
function armBody(value: unknown): { code?: string; message?: string } | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const v = value as { error?: { code?: unknown; message?: unknown }; code?: unknown; message?: unknown };
  const inner = v.error && typeof v.error === 'object' ? v.error : v;
  const code = typeof inner.code === 'string' ? inner.code : undefined;
  const message = typeof inner.message === 'string' ? inner.message : undefined;
  return code || message ? { code, message } : undefined;
}

function jsonOf(text: string | undefined): unknown {
  if (!text?.trimStart().startsWith('{')) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
