import type { ServerResponse } from 'node:http';

/**
 * Azure Resource Manager's error body, `{ error: { code, message, target?, details? } }`, and the
 * failure a handler throws to answer one. The SDKs turn it into a RestError whose `code` is
 * `error.code` and whose `statusCode` is the HTTP status.
 */
export interface ArmError {
  code: string;
  message: string;
  target?: string;
  details?: ArmError[];
}

export class ArmFailure extends Error {
  constructor(readonly status: number, readonly error: ArmError, readonly headers: Record<string, string> = {}) {
    super(`${status} ${error.code}: ${error.message}`);
  }
}

export function armFail(status: number, code: string, message: string, target?: string): never {
  throw new ArmFailure(status, { code, message, ...(target ? { target } : {}) });
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, {
    ...(text ? { 'content-type': 'application/json; charset=utf-8' } : {}),
    'content-length': String(Buffer.byteLength(text)),
    'x-ms-request-id': crypto.randomUUID(),
    'x-ms-correlation-request-id': crypto.randomUUID(),
    ...headers,
  });
  res.end(text);
}

export function sendArmError(res: ServerResponse, failure: ArmFailure): void {
  sendJson(res, failure.status, { error: failure.error }, { 'x-ms-failure-cause': 'gateway', ...failure.headers });
}
