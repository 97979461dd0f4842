import type { TestDef } from '../../src/index.js';
import { ContainerCgroup } from './container-cgroup.js';
import { criTest } from './cri-test.js';
import { NODE_CGROUP, withPodCgroups } from './pod-cgroups.js';
import { MiB, withResources } from './resource-requests.js';
import { RUN_UNTIL_STOPPED } from './scope.js';

/** Where a pod's cgroups go, and the per-process limits: pids (cgroup v2's unified map) and oom_score_adj. */
export const podResourceTests: TestDef[] = [
  criTest({
    name: 'resources-pod-cgroup-parent',
    title: "a pod's cgroup_parent holds its cgroups on the node: the sandbox's and each container's, the container's memory limit in its own",
    rpcs: ['RunPodSandbox', 'CreateContainer'],
    async run(t) {
      await withPodCgroups(t, async (pods) => {
        const pod = await pods.runPod();
        const id = await t.scope.startContainer(pod, 'main', withResources({ memory_limit_in_bytes: 48 * MiB, memory_swap_limit_in_bytes: 48 * MiB }));
        for (const [what, cid] of [['the sandbox', pod.id], ['the container', id]] as const) {
          const dirs = await pods.find(`*${cid}*`);
          if (dirs.length === 0) throw new Error(`no cgroup of ${what} ${cid.slice(0, 12)} on the node under ${NODE_CGROUP} (the node's /sys/fs/cgroup)`);
          const outside = dirs.filter((d) => d.split('/').at(-2) !== pod.leaf);
          if (outside.length > 0) throw new Error(`${what}'s cgroups are not directly under the pod's cgroup_parent ${pod.parent}: ${outside.slice(0, 2).join(', ')}${outside.length > 2 ? ` and ${outside.length - 2} more` : ''}`);
        }
        // The limit sits in the container's cgroup under the parent: read it from the node's side.
        const view = await pods.nodeView();
        const limits = await t.scope.sh(view, `cat $(find ${NODE_CGROUP} -maxdepth 4 -path '*${pod.leaf}/*${id}*' \\( -name memory.max -o -name memory.limit_in_bytes \\))`);
        if (limits !== String(48 * MiB)) throw new Error(`the container's memory limit read on the node under ${pod.parent} is ${JSON.stringify(limits)}, expected ${48 * MiB}`);
      });
    },
  }),
  criTest({
    name: 'resources-pids-unified',
    title: "unified {pids.max: 8} (cgroup v2) is the container's pids.max, and a shell starting 20 background processes sees forks fail",
    rpcs: ['CreateContainer'],
    async run({ scope, ctx }) {
      const pod = await scope.runPod();
      const probe = await scope.startContainer(pod, 'probe');
      if ((await ContainerCgroup.open(scope, probe)).version === 1) ctx.skip("the node's containers are in cgroup v1: the unified map is for cgroup v2 only (runc refuses it on v1)");
      const id = await scope.startContainer(pod, 'limited', withResources({ unified: { 'pids.max': '8' } }));
      const max = await scope.sh(id, 'cat /sys/fs/cgroup/pids.max');
      if (max !== '8') throw new Error(`unified pids.max 8: the container's pids.max reads ${JSON.stringify(max)}`);
      // Each `( sleep & )` leaves one sleep behind: the shell (the container's init beside it) can have only a few.
      // The sleeps must not hold the exec's output open, or ExecSync waits for them until its deadline.
      const script = 'ok=0; fail=0; i=0; while [ $i -lt 20 ]; do i=$((i+1)); if ( sleep 300 < /dev/null > /dev/null 2>&1 & ) 2>/dev/null; then ok=$((ok+1)); else fail=$((fail+1)); fi; done; echo "ok=$ok fail=$fail"';
      const r = await scope.exec(id, ['sh', '-c', script]);
      const m = /ok=(\d+) fail=(\d+)/.exec(r.stdout);
      if (!m) throw new Error(`the spawning shell printed no count (exit ${r.exitCode}): ${JSON.stringify((r.stdout + r.stderr).slice(-300))}`);
      if (Number(m[2]) === 0 || Number(m[1]) > 7) throw new Error(`under pids.max 8, ${m[1]} background processes started and ${m[2]} forks failed: expected failures and at most 7`);
    },
  }),
  criTest({
    name: 'resources-oom-score-adj',
    title: 'oom_score_adj is the container process\'s /proc/self/oom_score_adj: 500 as asked; -500 and -900 as asked, or both raised to one floor (containerd\'s restrict_oom_score_adj)',
    rpcs: ['CreateContainer'],
    async run({ scope }) {
      const pod = await scope.runPod();
      const seen = new Map<number, number>();
      for (const asked of [500, -500, -900]) {
        // The main process records its own score (in the pod's shared PID namespace /proc/1 is the sandbox's).
        const id = await scope.startContainer(pod, `adj${asked < 0 ? 'm' : ''}${Math.abs(asked)}`, withResources({ oom_score_adj: asked }, { command: ['sh', '-c', `cat /proc/self/oom_score_adj > /tmp/adj; ${RUN_UNTIL_STOPPED[2]}`] }));
        seen.set(asked, Number(await scope.sh(id, 'cat /tmp/adj')));
      }
      const report = [...seen].map(([a, s]) => `${a} → ${s}`).join(', ');
      // A runtime that may not lower scores below its own (restrict_oom_score_adj, or no CAP_SYS_RESOURCE) raises
      // lower asks to its own score: one floor for all of them. Anything else must be what was asked.
      const floor = Math.max(...[...seen].filter(([a, s]) => s !== a).map(([, s]) => s), -1000);
      for (const [asked, got] of seen) {
        if (got !== Math.max(asked, floor)) throw new Error(`oom_score_adj asked → seen: ${report}; ${asked} should read ${asked}, or one floor above it shared by every clamped ask`);
      }
    },
  }),
];
