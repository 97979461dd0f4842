import { InfraError, type Cri, type TestContext } from '../../src/index.js';
import { criFixture } from '../cri/fixture.js';
import { CriScope } from '../cri/scope.js';
import { CONTAINER_RUN_SAMPLES, CRI_CONTAINER_START, CRI_POD_START } from './metrics.js';
import { timeIt } from './time-it.js';

/** The cri suite's fixture (test images pulled from the local registry) and a scope for the measurement's pods. */
async function criScope(ctx: TestContext, name: string): Promise<CriScope> {
  const fx = await criFixture(ctx);
  if ('missing' in fx.images) throw new InfraError(`the runtime has no tsuite test images: ${fx.images.missing}`, 'run on a target whose CRI runtime can pull from tsuite\'s local registry (qemu-x86-node)');
  return new CriScope(fx.cri, fx, ctx, name);
}

/** RunPodSandbox until the pod is ready (stopping and removing it is not timed). */
export async function measurePodStart(ctx: TestContext): Promise<void> {
  const scope = await criScope(ctx, 'bench-pod-start');
  try {
    await timeIt(ctx, CRI_POD_START, CONTAINER_RUN_SAMPLES, async () => {
      const pod = await scope.runPod();
      const { status } = await scope.cri.runtime<Cri.PodSandboxStatusResponse>('PodSandboxStatus', { pod_sandbox_id: pod.id });
      if (status?.state !== 'SANDBOX_READY') throw new Error(`the pod is ${status?.state ?? 'without status'} after RunPodSandbox`);
    }, () => scope.dispose());
  } finally {
    await scope.dispose();
  }
}

/** CreateContainer + StartContainer of busybox `true` in a running pod, until it exited (removal is not timed). */
export async function measureContainerStart(ctx: TestContext): Promise<void> {
  const scope = await criScope(ctx, 'bench-container-start');
  try {
    const pod = await scope.runPod();
    let n = 0;
    await timeIt(ctx, CRI_CONTAINER_START, CONTAINER_RUN_SAMPLES, async () => {
      const id = await scope.startContainer(pod, `start-${n++}`, { command: ['true'] });
      const s = await scope.waitStatus(id, (x) => x.state === 'CONTAINER_EXITED', 'exit');
      if (s.exit_code !== 0) throw new Error(`busybox true exited with ${s.exit_code}`);
      await scope.cri.runtime('RemoveContainer', { container_id: id });
    });
  } finally {
    await scope.dispose();
  }
}
