import { CriRpcError, type Cri } from '../../src/index.js';
import { SCOPE_LABEL } from './labels.js';
import type { CriScope } from './scope.js';

/**
 * Calls the sandbox and container lifecycle tests share: statuses, lists narrowed to the test's own
 * scope (other tests' pods may run beside it), and expecting a call to be refused.
 */

export async function podStatus(scope: CriScope, id: string, verbose = false): Promise<Cri.PodSandboxStatusResponse & { status: Cri.PodSandboxStatus }> {
  const r = await scope.cri.runtime<Cri.PodSandboxStatusResponse>('PodSandboxStatus', { pod_sandbox_id: id, verbose });
  if (!r.status) throw new Error(`PodSandboxStatus ${id.slice(0, 12)} answered without a status`);
  return r as Cri.PodSandboxStatusResponse & { status: Cri.PodSandboxStatus };
}

export interface PodFilter {
  id?: string;
  state?: Cri.PodSandboxState;
  labels?: Record<string, string>;
}

/** ListPodSandbox with `filter`, always narrowed to this test's scope label. */
export async function listPods(scope: CriScope, filter: PodFilter = {}): Promise<Cri.PodSandbox[]> {
  const { items } = await scope.cri.runtime<{ items: Cri.PodSandbox[] }>('ListPodSandbox', {
    filter: { id: filter.id ?? '', state: filter.state ? { state: filter.state } : null, label_selector: { ...filter.labels, [SCOPE_LABEL]: scope.id } },
  });
  return items;
}

export interface ContainerFilter {
  id?: string;
  state?: Cri.ContainerState;
  podId?: string;
  labels?: Record<string, string>;
}

/** ListContainers with `filter`, always narrowed to this test's scope label. */
export async function listContainers(scope: CriScope, filter: ContainerFilter = {}): Promise<Cri.Container[]> {
  const { containers } = await scope.cri.runtime<{ containers: Cri.Container[] }>('ListContainers', {
    filter: { id: filter.id ?? '', state: filter.state ? { state: filter.state } : null, pod_sandbox_id: filter.podId ?? '', label_selector: { ...filter.labels, [SCOPE_LABEL]: scope.id } },
  });
  return containers;
}

/** StopContainer with a grace period of `timeoutS`; the call's own deadline leaves the runtime room past it. */
export const stopContainer = (scope: CriScope, id: string, timeoutS: number) =>
  scope.cri.runtime('StopContainer', { container_id: id, timeout: timeoutS }, { timeoutMs: (timeoutS + 60) * 1000 });

/** Fails unless the listed ids are exactly `expected` (any order); names ids by their first 12 characters. */
export function expectIds(items: readonly { id: string }[], expected: readonly string[], what: string): void {
  const seen = items.map((i) => i.id).sort();
  const want = [...expected].sort();
  if (seen.length !== want.length || seen.some((id, i) => id !== want[i])) {
    const short = (ids: string[]) => (ids.length ? ids.map((id) => id.slice(0, 12)).join(', ') : 'none');
    throw new Error(`${what}: expected [${short(want)}], listed [${short(seen)}]`);
  }
}

/** The gRPC error `call` answered with; fails naming `what` when it succeeded. */
export async function refused(call: Promise<unknown>, what: string): Promise<CriRpcError> {
  let answer: unknown;
  try {
    answer = await call;
  } catch (err) {
    if (err instanceof CriRpcError) return err;
    throw err;
  }
  throw new Error(`${what} was accepted, but must be refused (answer: ${JSON.stringify(answer).slice(0, 200)})`);
}

/** Fails unless `call` answers NOT_FOUND. */
export async function expectNotFound(call: Promise<unknown>, what: string): Promise<void> {
  const err = await refused(call, what);
  if (err.codeName !== 'NOT_FOUND') throw new Error(`${what} answered ${err.codeName} (${err.details}), not NOT_FOUND`);
}

/** Fails unless `actual` holds every key of `expected` with the same value. */
export function expectSubset(actual: Record<string, string>, expected: Record<string, string>, what: string): void {
  const wrong = Object.entries(expected).filter(([k, v]) => actual[k] !== v);
  if (wrong.length > 0) {
    throw new Error(`${what}: ${wrong.map(([k, v]) => `${k} expected '${v}', got ${actual[k] === undefined ? 'nothing' : `'${actual[k]}'`}`).join('; ')}`);
  }
}

/** A CRI timestamp (ns since the epoch) within a day of this host's clock: a node's clock may drift, not by years. */
export function expectSaneTime(ns: number, what: string): void {
  const dayNs = 86_400e9;
  const nowNs = Date.now() * 1e6;
  if (!(ns > nowNs - dayNs && ns < nowNs + dayNs)) throw new Error(`${what} is ${ns} ns (${iso(ns)}), not within a day of now (${new Date().toISOString()})`);
}

/** A CRI timestamp as a date, for messages (0 and absurd values as they are). */
export function iso(ns: number): string {
  const d = new Date(ns / 1e6);
  return ns > 0 && Number.isFinite(d.getTime()) ? d.toISOString() : String(ns);
}
