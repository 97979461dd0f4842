import type { ServerResponse } from 'node:http';

/**
 * Google's JSON error body, as Compute Engine and Cloud Storage document it:
 * `{ error: { code, message, errors: [{ message, domain, reason }], status } }`. `status` is the
 * canonical RPC code name the REST clients map back to a gRPC code (google-gax reads it first).
 */
export interface GoogleErrorBody {
  error: {
    code: number;
    message: string;
    errors: { message: string; domain: string; reason: string; location?: string; locationType?: string }[];
    status: string;
    details?: unknown[];
  };
}

/** HTTP status → the canonical code name Google puts in `status`. */
const CANONICAL: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'ALREADY_EXISTS',
  412: 'FAILED_PRECONDITION',
  429: 'RESOURCE_EXHAUSTED',
  499: 'CANCELLED',
  500: 'INTERNAL',
  501: 'NOT_IMPLEMENTED',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

/** The `reason` Google uses for a plain error of each status, when the caller names none. */
const DEFAULT_REASON: Record<number, string> = {
  400: 'invalid',
  401: 'required',
  403: 'forbidden',
  404: 'notFound',
  409: 'alreadyExists',
  412: 'conditionNotMet',
  429: 'rateLimitExceeded',
  500: 'backendError',
  503: 'backendError',
};

export const canonicalStatus = (code: number) => CANONICAL[code] ?? (code >= 500 ? 'UNKNOWN' : 'FAILED_PRECONDITION');

export function googleError(code: number, message: string, reason = DEFAULT_REASON[code] ?? 'backendError', extra: { domain?: string; details?: unknown[] } = {}): GoogleErrorBody {
  return {
    error: {
      code,
      message,
      errors: [{ message, domain: extra.domain ?? 'global', reason }],
      status: canonicalStatus(code),
      ...(extra.details ? { details: extra.details } : {}),
    },
  };
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

export const sendError = (res: ServerResponse, body: GoogleErrorBody, headers: Record<string, string> = {}) => sendJson(res, body.error.code, body, headers);

/** A handler's way to answer with a Google error from deep inside: the router catches it. */
export class HttpFailure extends Error {
  constructor(readonly body: GoogleErrorBody) {
    super(body.error.message);
  }
}

export const fail = (code: number, message: string, reason?: string): never => {
  throw new HttpFailure(googleError(code, message, reason));
};
