import { setTimeout as sleep } from 'node:timers/promises';
import type { protos } from '@google-cloud/compute';
import { CloudApiError } from '../cloud/cloud-provider.js';
import { redact } from '../cloud/redact.js';

type Operation = protos.google.cloud.compute.v1.IOperation;

/** Between two `wait` calls that returned a running operation (the API's wait may return early). */
const POLL_MS = 1_000;

/**
 * Waits for a Compute Engine operation with the API's own `wait` (which returns when the
 * operation is DONE or after a while), up to a deadline of tsuite's: an operation that never
 * completes is an error naming it, never a hang. A DONE operation with errors is a failure whose
 * message is the API's, e.g. `QUOTA_EXCEEDED: ...`.
 */
export async function waitForOperation(name: string, wait: () => Promise<Operation>, timeoutMs: number, what: string, signal?: AbortSignal): Promise<Operation> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    signal?.throwIfAborted();
    // The API's wait can hold the call for minutes: an interrupt must not wait for it.
    const op = await abortable(wait(), signal);
    if (String(op.status) === 'DONE') {
      const errors = op.error?.errors ?? [];
      if (errors.length > 0) {
        const text = errors.map((e) => `${e.code ?? 'ERROR'}: ${e.message ?? ''}`).join('; ');
        throw new CloudApiError(redact(`${what}: operation ${name} failed: ${text}`), op.httpErrorStatusCode ?? undefined, errors[0]?.code ?? undefined);
      }
      return op;
    }
    if (Date.now() >= deadline) throw new CloudApiError(`${what}: operation ${name} did not complete within ${timeoutMs} ms (still ${op.status ?? 'unknown'})`, undefined, 'OPERATION_TIMEOUT');
    await sleep(POLL_MS, undefined, { signal });
  }
}

/** The promise, or the signal's reason as soon as it aborts (the call itself is left to finish). */
function abortable<T>(p: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return p;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
