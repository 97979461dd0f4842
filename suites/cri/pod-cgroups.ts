import { CriRpcError, isUnimplemented } from '../../src/index.js';
import type { CriTestContext } from './cri-test.js';
import type { Pod, PodConfig } from './scope.js';

/** Where the node's cgroup filesystem appears in the node-view container. */
export const NODE_CGROUP = '/node-cgroup';

/**
 * Pods with a cgroup parent of their own, as the kubelet runs every pod: the runtime puts the
 * pod's containers under it, and answers pod stats from it (containerd cannot without one).
 * The runtime creates the parent when the first container needs it and leaves it behind (the
 * kubelet made it and removes it), so after the test's pods are gone their parents are removed
 * too: through a container that mounts the node's cgroup filesystem, the one way to reach the
 * node's cgroups over CRI alone. The same container shows where the runtime put a cgroup.
 */
export class PodCgroups {
  private readonly pods: Pod[] = [];
  private made = 0;
  private view: string | undefined;
  private driver: string | undefined;

  constructor(private readonly t: CriTestContext) {}

  /** The runtime's cgroup driver (RuntimeConfig); containerd before 1.7 lacks the RPC and defaults to cgroupfs. */
  private async cgroupDriver(): Promise<string> {
    if (this.driver) return this.driver;
    try {
      const r = await this.t.cri.runtime<{ linux: { cgroup_driver: string } | null }>('RuntimeConfig', {});
      this.driver = r.linux?.cgroup_driver || 'CGROUPFS';
    } catch (err) {
      if (!isUnimplemented(err)) throw err;
      this.driver = 'CGROUPFS';
    }
    return this.driver;
  }

  /** RunPodSandbox with a cgroup parent of its own: a path for cgroupfs, a slice for systemd (no `-`: one level under the root). */
  async runPod(extra: Partial<PodConfig> = {}): Promise<Pod & { parent: string; leaf: string }> {
    const leaf = `tsuite-pod-${this.t.scope.id}-${this.made++}`;
    const systemd = (await this.cgroupDriver()) === 'SYSTEMD';
    const parent = systemd ? `${leaf.replaceAll('-', '_')}.slice` : `/${leaf}`;
    const pod = await this.t.scope.runPod({ ...extra, linux: { ...(extra.linux ?? {}), cgroup_parent: parent } });
    this.pods.push(pod);
    return { ...pod, parent, leaf: systemd ? parent : leaf };
  }

  /** A container (in a pod of its own, default parent) with the node's cgroup filesystem at NODE_CGROUP. */
  async nodeView(): Promise<string> {
    if (!this.view) {
      const { id } = await this.t.scope.podWithContainer('node-cgroups', { mounts: [{ container_path: NODE_CGROUP, host_path: '/sys/fs/cgroup' }] });
      this.view = id;
    }
    return this.view;
  }

  /** Folders of the node's cgroup filesystem (every hierarchy on v1) named `name`, at most `depth` below a hierarchy's root. */
  async find(name: string, depth = 3): Promise<string[]> {
    const out = await this.t.scope.sh(await this.nodeView(), `find ${NODE_CGROUP} -maxdepth ${depth + 1} -type d -name '${name}'`);
    return out.split('\n').filter(Boolean);
  }

  /**
   * Removes the pods made here, then their parents on the node (cgroupfs only: under systemd the
   * slice is systemd's to collect). Fails naming a parent that stays.
   */
  async remove(): Promise<void> {
    for (const pod of this.pods.splice(0)) {
      for (const rpc of ['StopPodSandbox', 'RemovePodSandbox']) {
        // A test may have removed its pod itself.
        await this.t.cri.runtime(rpc, { pod_sandbox_id: pod.id }, { timeoutMs: 60_000 }).catch((err: unknown) => {
          if (!(err instanceof CriRpcError && err.codeName === 'NOT_FOUND')) throw err;
        });
      }
    }
    if (this.made === 0 || (await this.cgroupDriver()) === 'SYSTEMD') return;
    const leaf = `tsuite-pod-${this.t.scope.id}-*`;
    const view = await this.nodeView();
    // rmdir, not rm: a cgroup folder goes with rmdir once it has no children and no processes.
    await this.t.scope.exec(view, ['sh', '-c', `find ${NODE_CGROUP} -maxdepth 2 -type d -name '${leaf}' -exec rmdir {} +`]);
    const left = await this.find(leaf, 1);
    if (left.length > 0) throw new Error(`the pods' cgroup parents stayed on the node after their pods were removed: ${left.slice(0, 3).join(', ')}${left.length > 3 ? ` and ${left.length - 3} more` : ''}`);
  }
}

/** Runs `body` with pods that have cgroup parents, then removes them and their parents (a failure of `body` wins). */
export async function withPodCgroups<T>(t: CriTestContext, body: (pods: PodCgroups) => Promise<T>): Promise<T> {
  const pods = new PodCgroups(t);
  let result: T;
  try {
    result = await body(pods);
  } catch (err) {
    await pods.remove().catch(() => undefined);
    throw err;
  }
  await pods.remove();
  return result;
}
