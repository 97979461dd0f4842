import type { CriChannel, TestContext, TestDef } from '../../src/index.js';
import { isUnimplemented } from '../../src/index.js';
import { criFixture, type CriFixture } from './fixture.js';
import { CriScope } from './scope.js';

/** The CRI v1 RPCs, for the conformance matrix: one row per RPC a test exercises. */
export const CRI_RPCS = [
  'Version', 'Status', 'RuntimeConfig', 'UpdateRuntimeConfig',
  'RunPodSandbox', 'StopPodSandbox', 'RemovePodSandbox', 'PodSandboxStatus', 'ListPodSandbox',
  'CreateContainer', 'StartContainer', 'StopContainer', 'RemoveContainer', 'ListContainers', 'ContainerStatus',
  'UpdateContainerResources', 'ReopenContainerLog', 'ExecSync', 'Exec', 'Attach', 'PortForward',
  'ContainerStats', 'ListContainerStats', 'PodSandboxStats', 'ListPodSandboxStats',
  'CheckpointContainer', 'GetContainerEvents', 'ListMetricDescriptors', 'ListPodSandboxMetrics',
  'ListImages', 'ImageStatus', 'PullImage', 'RemoveImage', 'ImageFsInfo',
] as const;
export type CriRpc = (typeof CRI_RPCS)[number];

/** What a cri test's body gets. */
export interface CriTestContext {
  ctx: TestContext;
  cri: CriChannel;
  fx: CriFixture;
  /** The test's pods and containers, removed when it ends. */
  scope: CriScope;
}

export interface CriTestDef {
  /** `<area>-<behaviour>`: the area is the matrix row the test counts toward, beside its RPCs. */
  name: string;
  title: string;
  /** The RPCs whose behaviour the test asserts (matrix rows). */
  rpcs: readonly CriRpc[];
  timeoutMs?: number;
  run(t: CriTestContext): Promise<void>;
}

/** The skip reason for an RPC the runtime does not implement: the matrix reads the RPC back from it. */
export const unimplementedReason = (rpc: string) => `the runtime answers ${rpc} with UNIMPLEMENTED`;
export const UNIMPLEMENTED_REASON = /^the runtime answers (\w+) with UNIMPLEMENTED/;

/** RPCs of each test, by test name: the conformance matrix's rows. */
export const testRpcs = new Map<string, readonly CriRpc[]>();

/**
 * A cri test: needs the `cri` channel; gets the session's fixture and a scope of its own, cleaned
 * up pass or fail. An RPC the runtime answers with UNIMPLEMENTED skips the test, naming it.
 */
export function criTest(def: CriTestDef): TestDef {
  testRpcs.set(def.name, def.rpcs);
  return {
    name: def.name,
    title: def.title,
    requires: ['cri'],
    timeoutMs: def.timeoutMs ?? 120_000,
    async run(ctx) {
      const fx = await criFixture(ctx);
      const scope = new CriScope(fx.cri, fx, ctx, def.name);
      let failure: unknown;
      try {
        await def.run({ ctx, cri: fx.cri, fx, scope });
      } catch (err) {
        failure = err;
      }
      try {
        await scope.dispose();
      } catch (err) {
        failure ??= err;
      }
      if (failure === undefined) return;
      if (isUnimplemented(failure)) ctx.skip(unimplementedReason(failure.rpc));
      throw failure;
    },
  };
}
