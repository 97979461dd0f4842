import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { ArmError } from './arm-errors.js';
import { armFail, sendJson } from './arm-errors.js';
import type { FaultSwitch } from './faults.js';

/**
 * ARM's asynchronous operations, as the Azure SDKs' poller (core-lro) follows them:
 *
 * - PUT / DELETE / POST on Microsoft.Compute and Microsoft.Network answer 201/202 with an
 *   `Azure-AsyncOperation` header naming
 *   `/subscriptions/{s}/providers/{ns}/locations/{loc}/operations/{id}`, whose GET answers
 *   `{ name, status: InProgress|Succeeded|Failed|Canceled, startTime, endTime?, error? }`; compute
 *   deletes also carry `Location` (`.../operationResults/{id}`: 202 while running, 204 done).
 *   After a PUT the poller GETs the resource itself.
 * - A resource group DELETE answers 202 with only `Location` (`/subscriptions/{s}/operationresults/{id}`):
 *   202 while running, 200 when done, and the ARM error body with a 4xx/5xx status when it failed.
 *
 * `Retry-After` is sent only when the stand-in was given `retryAfterSeconds` (Azure usually sends
 * one; core-lro then waits that long instead of the caller's `updateIntervalInMs`).
 * The `operation-hang` fault leaves the next operation InProgress for ever, its work not done.
 */

export type OpStatus = 'InProgress' | 'Succeeded' | 'Failed' | 'Canceled';

export interface Operation {
  id: string;
  namespace: string;
  location: string;
  status: OpStatus;
  startTime: string;
  endTime?: string;
  error?: ArmError & { httpStatus?: number };
  /** False when the operation-hang fault took it: its work must not happen. */
  readonly proceeds: boolean;
  done(error?: ArmError & { httpStatus?: number }): void;
}

export class Operations {
  private readonly ops = new Map<string, Operation>();

  constructor(private readonly subscriptionId: string, private readonly faults: FaultSwitch, private readonly retryAfterSeconds?: number) {}

  create(namespace: string, location: string): Operation {
    const proceeds = !this.faults.take('operation-hang');
    const op: Operation = {
      id: randomUUID(),
      namespace,
      location,
      status: 'InProgress',
      startTime: new Date().toISOString(),
      proceeds,
      done(error) {
        if (op.status !== 'InProgress' || !proceeds) return;
        op.status = error ? 'Failed' : 'Succeeded';
        op.endTime = new Date().toISOString();
        if (error) op.error = error;
      },
    };
    this.ops.set(op.id, op);
    return op;
  }

  /** Headers for the first answer of a resource operation (PUT/DELETE/POST). */
  headers(op: Operation, origin: string, withLocation: boolean): Record<string, string> {
    const base = `${origin}/subscriptions/${this.subscriptionId}/providers/${op.namespace}/locations/${op.location}`;
    return {
      'azure-asyncoperation': `${base}/operations/${op.id}?api-version=2024-07-01`,
      ...(withLocation ? { location: `${base}/operationResults/${op.id}?api-version=2024-07-01` } : {}),
      ...this.retryAfter(),
    };
  }

  /** Headers for a resource group delete: Location only. */
  groupHeaders(op: Operation, origin: string): Record<string, string> {
    return { location: `${origin}/subscriptions/${this.subscriptionId}/operationresults/${op.id}?api-version=2022-09-01`, ...this.retryAfter() };
  }

  private retryAfter(): Record<string, string> {
    return this.retryAfterSeconds === undefined ? {} : { 'retry-after': String(this.retryAfterSeconds) };
  }

  /** GET .../operations/{id} (Azure-AsyncOperation). */
  sendStatus(res: ServerResponse, id: string): void {
    const op = this.find(id);
    const { httpStatus: _drop, ...error } = op.error ?? ({} as NonNullable<Operation['error']>);
    sendJson(res, 200, {
      name: op.id,
      status: op.status,
      startTime: op.startTime,
      ...(op.endTime ? { endTime: op.endTime } : {}),
      ...(op.error ? { error } : {}),
    }, op.status === 'InProgress' ? this.retryAfter() : {});
  }

  /** GET .../operationResults/{id} or /operationresults/{id} (Location). */
  sendResult(res: ServerResponse, id: string, doneStatus: 200 | 204): void {
    const op = this.find(id);
    if (op.status === 'InProgress') return sendJson(res, 202, undefined, { location: '', ...this.retryAfter() });
    if (op.status === 'Failed') {
      const { httpStatus, ...error } = op.error!;
      return sendJson(res, httpStatus ?? 409, { error });
    }
    sendJson(res, doneStatus, undefined);
  }

  /** Ends every operation still running (close()): pollers see them cancelled, not hanging. */
  releaseAll(): void {
    for (const op of this.ops.values()) if (op.status === 'InProgress') op.status = 'Canceled';
  }

  private find(id: string): Operation {
    const op = this.ops.get(id);
    if (!op) armFail(404, 'NotFound', `The operation '${id}' was not found.`);
    return op!;
  }
}
