import { randomBytes } from 'node:crypto';
import type { FaultSwitch } from './faults.js';
import type { ComputeLinks } from './links.js';

/**
 * Compute Engine's Operation resource: every insert and delete answers with one, PENDING or RUNNING,
 * and it ends DONE, with `error` when the work failed (the HTTP call itself succeeded).
 * zoneOperations/globalOperations `get` read it; `wait` holds the request until it is DONE or a
 * deadline passes and then returns it as it is (documented: "might return before the default
 * deadline"; callers loop). The `operation-hang` fault leaves the next operation created RUNNING
 * for ever, its work undone.
 */
export interface OperationError {
  code: string;
  message: string;
  httpStatus?: number;
}

export interface Operation {
  kind: 'compute#operation';
  id: string;
  name: string;
  operationType: string;
  targetLink: string;
  targetId: string;
  status: 'PENDING' | 'RUNNING' | 'DONE';
  user: string;
  progress: number;
  insertTime: string;
  startTime?: string;
  endTime?: string;
  selfLink: string;
  zone?: string;
  error?: { errors: { code: string; message: string }[] };
  httpErrorStatusCode?: number;
  httpErrorMessage?: string;
}

const HTTP_MESSAGE: Record<number, string> = { 400: 'BAD REQUEST', 403: 'FORBIDDEN', 404: 'NOT FOUND', 409: 'CONFLICT', 412: 'PRECONDITION FAILED', 500: 'INTERNAL SERVER ERROR', 503: 'SERVICE UNAVAILABLE' };

/** The handle a piece of work uses to report on its operation. */
export interface OperationHandle {
  readonly op: Operation;
  /** False when operation-hang holds this operation: do not do the work. */
  readonly proceeds: boolean;
  running(): void;
  done(error?: OperationError): void;
}

export class Operations {
  private readonly ops = new Map<string, Operation>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private nextId = BigInt(Date.now()) * 1000n;

  constructor(private readonly links: ComputeLinks, private readonly faults: FaultSwitch, private readonly user: string, private readonly waitMs: number) {}

  /** A new PENDING operation on `target`; `zone` undefined for a global one. */
  start(operationType: string, target: { link: string; id: string }, zone?: string): OperationHandle {
    const id = String(++this.nextId);
    const name = `operation-${Date.now()}-${randomBytes(6).toString('hex')}-${randomBytes(4).toString('hex')}`;
    const op: Operation = {
      kind: 'compute#operation',
      id,
      name,
      operationType,
      targetLink: target.link,
      targetId: target.id,
      status: 'PENDING',
      user: this.user,
      progress: 0,
      insertTime: new Date().toISOString(),
      selfLink: zone ? this.links.zoneOperation(zone, name) : this.links.globalOperation(name),
      ...(zone ? { zone: this.links.zone(zone) } : {}),
    };
    this.ops.set(key(zone, name), op);
    const hung = this.faults.take('operation-hang') !== undefined;
    const handle: OperationHandle = {
      op,
      proceeds: !hung,
      running: () => {
        if (op.status !== 'PENDING') return;
        op.status = 'RUNNING';
        op.startTime = new Date().toISOString();
      },
      done: (error) => {
        if (hung || op.status === 'DONE') return;
        handle.running();
        op.status = 'DONE';
        op.progress = 100;
        op.endTime = new Date().toISOString();
        if (error) {
          op.error = { errors: [{ code: error.code, message: error.message }] };
          const http = error.httpStatus ?? 400;
          op.httpErrorStatusCode = http;
          op.httpErrorMessage = HTTP_MESSAGE[http] ?? 'ERROR';
        }
        this.wake(key(zone, name));
      },
    };
    if (hung) handle.running();
    return handle;
  }

  get(zone: string | undefined, name: string): Operation | undefined {
    return this.ops.get(key(zone, name));
  }

  /** Resolves with the operation once DONE, or as it is after the wait deadline. */
  async wait(zone: string | undefined, name: string, abort: AbortSignal): Promise<Operation | undefined> {
    const k = key(zone, name);
    const op = this.ops.get(k);
    if (!op || op.status === 'DONE') return op;
    await new Promise<void>((resolve) => {
      const set = this.waiters.get(k) ?? new Set();
      this.waiters.set(k, set);
      const finish = () => {
        clearTimeout(timer);
        set.delete(finish);
        abort.removeEventListener('abort', finish);
        resolve();
      };
      const timer = setTimeout(finish, this.waitMs);
      abort.addEventListener('abort', finish);
      set.add(finish);
    });
    return op;
  }

  delete(zone: string | undefined, name: string): boolean {
    return this.ops.delete(key(zone, name));
  }

  /** Ends every wait now (the server is closing). */
  releaseAll(): void {
    for (const set of this.waiters.values()) for (const f of [...set]) f();
  }

  private wake(k: string): void {
    for (const f of [...(this.waiters.get(k) ?? [])]) f();
  }
}

const key = (zone: string | undefined, name: string) => `${zone ?? 'global'}/${name}`;
