import type { Cri, TestDef } from '../../src/index.js';
import { criTest } from './cri-test.js';
import { SCOPE_LABEL } from './labels.js';
import { withPodCgroups } from './pod-cgroups.js';
import { BUSY } from './resource-requests.js';
import { pollUntil } from './poll.js';
import { podStats, value } from './stats-calls.js';

/** The pod's network counters, failing naming what is missing. */
function network(s: Cri.PodSandboxStats): { name: string; rx: number; tx: number } {
  const i = s.linux?.network?.default_interface;
  if (!i) throw new Error(`PodSandboxStats has no linux.network.default_interface: ${JSON.stringify(s.linux?.network)}`);
  return { name: i.name, rx: value(i.rx_bytes, 'default_interface.rx_bytes'), tx: value(i.tx_bytes, 'default_interface.tx_bytes') };
}

/**
 * PodSandboxStats and ListPodSandboxStats: a pod's cgroup (CPU, memory, processes), its network
 * namespace's default interface, and its containers. Every pod here has a cgroup parent of its
 * own, as the kubelet gives each pod: pod stats are read from it.
 */
export const podStatsTests: TestDef[] = [
  criTest({
    name: 'stats-pod-sandbox',
    title: "PodSandboxStats names the pod, has its CPU and memory, counts at least its containers' processes and the sandbox's, and carries each container's stats",
    rpcs: ['PodSandboxStats'],
    async run(t) {
      await withPodCgroups(t, async (pods) => {
        const pod = await pods.runPod({ labels: { role: 'stats' } });
        const ids = [await t.scope.startContainer(pod, 'a'), await t.scope.startContainer(pod, 'b')];
        const s = await podStats(t.scope, pod.id);
        const a = s.attributes;
        if (a?.id !== pod.id || a.metadata?.uid !== pod.config.metadata.uid || a.labels.role !== 'stats') throw new Error(`the stats' attributes are ${JSON.stringify(a)}; expected id ${pod.id}, uid ${pod.config.metadata.uid}, label role=stats`);
        if (!(value(s.linux?.cpu?.usage_core_nano_seconds, 'linux.cpu.usage_core_nano_seconds') > 0)) throw new Error('the pod has used no CPU, with two shells started in it');
        if (!(value(s.linux?.memory?.working_set_bytes, 'linux.memory.working_set_bytes') > 0)) throw new Error('the pod has a working set of 0 bytes');
        // The sandbox's own process and each container's shell, at least.
        const procs = value(s.linux?.process?.process_count, 'linux.process.process_count');
        if (procs < 3) throw new Error(`process_count is ${procs} for a pod with a sandbox and two running shells`);
        const listed = (s.linux?.containers ?? []).map((c) => c.attributes?.id ?? '?').sort();
        if (listed.join() !== [...ids].sort().join()) throw new Error(`PodSandboxStats lists containers [${listed.map((x) => x.slice(0, 12)).join(', ')}], expected the pod's two: [${ids.map((x) => x.slice(0, 12)).join(', ')}]`);
        for (const c of s.linux!.containers) if (!c.cpu?.usage_core_nano_seconds) throw new Error(`container ${c.attributes?.metadata?.name} in PodSandboxStats has no CPU usage`);
      });
    },
  }),
  criTest({
    name: 'stats-pod-cpu-advances',
    title: "a busy container advances its pod's linux.cpu.usage_core_nano_seconds between two PodSandboxStats",
    rpcs: ['PodSandboxStats'],
    async run(t) {
      await withPodCgroups(t, async (pods) => {
        const pod = await pods.runPod();
        await t.scope.startContainer(pod, 'busy', { command: BUSY });
        const a = await podStats(t.scope, pod.id);
        const before = value(a.linux?.cpu?.usage_core_nano_seconds, 'linux.cpu.usage_core_nano_seconds');
        await pollUntil(t.ctx.signal, () => podStats(t.scope, pod.id), (b) => (b.linux?.cpu?.usage_core_nano_seconds?.value ?? 0) > before && b.linux!.cpu!.timestamp > a.linux!.cpu!.timestamp, "the pod's CPU usage did not advance with a busy loop in it", (b) => JSON.stringify(b.linux?.cpu));
      });
    },
  }),
  criTest({
    name: 'stats-pod-network',
    title: "pinging the pod's gateway with 3 × 1000-byte packets advances the pod's default interface rx_bytes and tx_bytes by at least 3000 each; the interface is one the pod has",
    rpcs: ['PodSandboxStats'],
    async run(t) {
      await withPodCgroups(t, async (pods) => {
        const pod = await pods.runPod();
        const id = await t.scope.startContainer(pod, 'main');
        const before = network(await podStats(t.scope, pod.id));
        const links = await t.scope.sh(id, "ip -o link | awk -F': ' '{print $2}' | cut -d@ -f1");
        if (!before.name || !links.split('\n').includes(before.name)) throw new Error(`default_interface is '${before.name}', not one of the pod's interfaces (${links.split('\n').join(', ')})`);
        const gw = await t.scope.sh(id, "ip route | awk '/^default/ {print $3}'");
        if (!gw) throw new Error("the pod has no default route to ping");
        await t.scope.sh(id, `ping -c 3 -s 1000 -W 5 ${gw}`);
        await pollUntil(t.ctx.signal, async () => network(await podStats(t.scope, pod.id)), (n) => n.rx - before.rx >= 3000 && n.tx - before.tx >= 3000, 'rx_bytes and tx_bytes did not both advance by 3000 after 3 answered 1000-byte pings', (n) => `rx ${before.rx} → ${n.rx}, tx ${before.tx} → ${n.tx}`, 20_000);
      });
    },
  }),
  criTest({
    name: 'stats-pod-list-filters',
    title: 'ListPodSandboxStats filters by pod id and by label selector, listing exactly the matching pods',
    rpcs: ['ListPodSandboxStats'],
    async run(t) {
      await withPodCgroups(t, async (pods) => {
        const a = await pods.runPod({ labels: { role: 'a' } });
        const b = await pods.runPod({ labels: { role: 'b' } });
        const c = await pods.runPod({ labels: { role: 'b' } });
        const name = new Map([[a.id, 'a'], [b.id, 'b'], [c.id, 'c']]);
        const cases: [string, object, string[]][] = [
          ['id', { id: a.id }, [a.id]],
          ['label selector role=b', { label_selector: { [SCOPE_LABEL]: t.scope.id, role: 'b' } }, [b.id, c.id]],
          ['id and label role=b', { id: c.id, label_selector: { role: 'b' } }, [c.id]],
          ['id of a with label role=b', { id: a.id, label_selector: { role: 'b' } }, []],
        ];
        for (const [what, filter, want] of cases) {
          const r = await t.cri.runtime<{ stats: Cri.PodSandboxStats[] }>('ListPodSandboxStats', { filter });
          const got = r.stats.map((s) => s.attributes?.id ?? '?').sort();
          if (got.join() !== [...want].sort().join()) throw new Error(`ListPodSandboxStats by ${what} listed [${got.map((x) => name.get(x) ?? x.slice(0, 12)).join(', ')}], expected [${want.map((x) => name.get(x)).join(', ')}]`);
        }
      });
    },
  }),
];
