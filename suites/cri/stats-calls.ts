import type { Cri } from '../../src/index.js';
import { CriRpcError, isUnimplemented } from '../../src/index.js';
import type { CriScope } from './scope.js';

/** ContainerStats of one container, failing when the runtime answers without stats. */
export async function containerStats(scope: CriScope, id: string): Promise<Cri.ContainerStats> {
  const r = await scope.cri.runtime<{ stats: Cri.ContainerStats | null }>('ContainerStats', { container_id: id });
  if (!r.stats) throw new Error(`ContainerStats ${id.slice(0, 12)} answered without stats`);
  return r.stats;
}

/** A UInt64Value field, failing naming it when the runtime left it out. */
export function value(v: Cri.UInt64Value | null | undefined, what: string): number {
  if (!v) throw new Error(`${what} is missing`);
  return v.value;
}

/** Expects `call` to fail with NOT_FOUND (UNIMPLEMENTED passes through, to skip). */
export async function expectNotFound(call: () => Promise<unknown>, what: string): Promise<void> {
  try {
    await call();
  } catch (err) {
    if (err instanceof CriRpcError && err.codeName === 'NOT_FOUND') return;
    if (isUnimplemented(err)) throw err;
    throw new Error(`${what} failed, but not with NOT_FOUND: ${(err as Error).message}`);
  }
  throw new Error(`${what} succeeded; expected NOT_FOUND`);
}

/** PodSandboxStats of one pod, failing when the runtime answers without stats. */
export async function podStats(scope: CriScope, podId: string): Promise<Cri.PodSandboxStats> {
  const r = await scope.cri.runtime<{ stats: Cri.PodSandboxStats | null }>('PodSandboxStats', { pod_sandbox_id: podId });
  if (!r.stats) throw new Error(`PodSandboxStats ${podId.slice(0, 12)} answered without stats`);
  return r.stats;
}
