import { CloudApiError } from '../cloud/cloud-provider.js';
import { redact } from '../cloud/redact.js';

/** What Google's libraries put on an error: an HTTP status or gRPC code, and the API's reasons. */
interface GoogleErrorShape {
  message?: string;
  code?: number | string;
  status?: number;
  reason?: string;
  errors?: { reason?: string; message?: string }[];
  response?: { status?: number };
}

/**
 * A Google API failure as tsuite reports it: the API's message, status and reason, redacted, and
 * nothing else from the error object (its request config carries the Authorization header).
 */
export function googleError(err: unknown, what: string): CloudApiError {
  if (err instanceof CloudApiError) return err;
  const e = (err ?? {}) as GoogleErrorShape;
  // Compute's REST errors carry Google's JSON error body as their message.
  const body = jsonBody(e.message);
  const status = httpStatus(e) ?? body?.code;
  const reason = body?.errors?.find((x) => x.reason)?.reason ?? e.errors?.find((x) => x.reason)?.reason ?? (typeof e.reason === 'string' ? e.reason : undefined);
  const info = body?.details?.find((d) => d.reason)?.reason;
  const text = (body?.message ?? e.message ?? String(err)).split('\n')[0]!;
  const detail = [status ? `HTTP ${status}` : undefined, reason, info !== reason ? info : undefined].filter(Boolean).join(' ');
  const transient = status === 429 || (status !== undefined && status >= 500) || /ECONNRESET|ETIMEDOUT|EAI_AGAIN|socket hang up/.test(text);
  return new CloudApiError(redact(`${what}: ${text}${detail ? ` (${detail})` : ''}`), status, reason, transient);
}

interface GoogleErrorBody {
  code?: number;
  message?: string;
  errors?: { reason?: string }[];
  details?: { reason?: string }[];
}

/** Google's documented error body, `{ error: { code, message, errors, status, details } }`, when the text is one. */
function jsonBody(text: string | undefined): GoogleErrorBody | undefined {
  if (!text?.trimStart().startsWith('{')) return undefined;
  try {
    const parsed = JSON.parse(text) as { error?: GoogleErrorBody };
    return parsed.error;
  } catch {
    return undefined;
  }
}

/** 404: the resource is not there. */
export function isNotFound(err: unknown): boolean {
  return httpStatus((err ?? {}) as GoogleErrorShape) === 404 || (err as GoogleErrorShape)?.code === 5;
}

function httpStatus(e: GoogleErrorShape): number | undefined {
  for (const v of [e.status, e.response?.status, e.code]) {
    const n = typeof v === 'string' ? Number(v) : v;
    if (typeof n === 'number' && n >= 100 && n < 600) return n;
  }
  return undefined;
}
