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
    const op = await wait();
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
