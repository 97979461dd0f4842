import type { Cri, TestDef } from '../../src/index.js';
import { parseCpuList } from './container-cgroup.js';
import { criTest } from './cri-test.js';
import { SCOPE_LABEL } from './labels.js';
import { BUSY, MiB, withResources } from './resource-requests.js';
import { pollUntil } from './poll.js';
import { containerStats, expectNotFound, value } from './stats-calls.js';
import { podStatsTests } from './stats-pod.js';

/** ContainerStats and ListContainerStats: what a container used, as the kubelet's summary API reads it. */
const containerStatsTests: TestDef[] = [
  criTest({
    name: 'stats-container-fields',
    title: "ContainerStats of a running container names it (id, metadata, labels) and has CPU and memory usage, stamped no earlier than its start",
    rpcs: ['ContainerStats'],
    async run({ scope }) {
      const { id } = await scope.podWithContainer('main', { labels: { role: 'stats' } });
      const started = (await scope.status(id)).started_at;
      const s = await containerStats(scope, id);
      const a = s.attributes;
      if (a?.id !== id || a.metadata?.name !== 'main' || a.labels.role !== 'stats') throw new Error(`the stats' attributes are ${JSON.stringify(a)}; expected id ${id}, name main, label role=stats`);
      if (!(value(s.cpu?.usage_core_nano_seconds, 'cpu.usage_core_nano_seconds') > 0)) throw new Error('cpu.usage_core_nano_seconds is 0 for a container that started a shell');
      if (!(value(s.memory?.working_set_bytes, 'memory.working_set_bytes') > 0)) throw new Error('memory.working_set_bytes is 0 for a running container');
      // The node's clock both times: a sample of a running container cannot predate its start.
      for (const [what, ts] of [['cpu', s.cpu?.timestamp], ['memory', s.memory?.timestamp]] as const) {
        if (!ts || ts < started) throw new Error(`${what}.timestamp ${ts} is before the container started (${started})`);
      }
    },
  }),
  criTest({
    name: 'stats-cpu-advances',
    title: 'a busy loop advances cpu.usage_core_nano_seconds between two ContainerStats, by no more than the CPUs could give in the time between their stamps',
    rpcs: ['ContainerStats'],
    async run({ scope, ctx }) {
      const { id } = await scope.podWithContainer('busy', { command: BUSY });
      const cpus = parseCpuList(await scope.sh(id, 'cat /sys/devices/system/cpu/online')).length;
      const a = await containerStats(scope, id);
      const before = value(a.cpu?.usage_core_nano_seconds, 'cpu.usage_core_nano_seconds');
      const b = await pollUntil(ctx.signal, () => containerStats(scope, id), (x) => (x.cpu?.usage_core_nano_seconds?.value ?? 0) > before && x.cpu!.timestamp > a.cpu!.timestamp, 'cpu.usage_core_nano_seconds did not advance for a busy loop', (x) => JSON.stringify(x.cpu));
      const used = b.cpu!.usage_core_nano_seconds!.value - before;
      const elapsed = b.cpu!.timestamp - a.cpu!.timestamp;
      // Units check, not speed: nanoseconds of CPU cannot exceed nanoseconds of time times the CPUs (10% for sampling edges).
      if (used > elapsed * cpus * 1.1 + 50e6) throw new Error(`CPU usage grew ${used} ns in ${elapsed} ns between the samples' stamps, more than ${cpus} CPUs can give`);
    },
  }),
  criTest({
    name: 'stats-memory-working-set',
    title: 'memory.working_set_bytes grows by at least 40 MiB once memstress in the container has touched and holds 48 MiB',
    rpcs: ['ContainerStats'],
    async run({ scope, ctx }) {
      const { id } = await scope.podWithContainer('main', { image: { image: scope.images.memstress } });
      const before = value((await containerStats(scope, id)).memory?.working_set_bytes, 'memory.working_set_bytes');
      // In the background, output to a file: the exec returns while memstress holds its memory.
      await scope.sh(id, 'memstress 48 600 > /tmp/memstress.json 2>&1 &');
      await pollUntil(ctx.signal, () => scope.sh(id, 'cat /tmp/memstress.json'), (out) => out.includes('"ok":true'), 'memstress did not report 48 MiB touched', (x) => JSON.stringify(x));
      const after = await pollUntil(ctx.signal, async () => value((await containerStats(scope, id)).memory?.working_set_bytes, 'memory.working_set_bytes'), (x) => x >= before + 40 * MiB, 'the working set did not grow by 40 MiB', (x) => `${x} bytes (before: ${before})`, 20_000);
      ctx.metric({ name: 'working-set-growth', unit: 'MiB', value: Math.round(((after - before) / MiB) * 10) / 10 });
    },
  }),
  criTest({
    name: 'stats-memory-available',
    title: 'under a 64 MiB limit memory.available_bytes is the limit minus memory.working_set_bytes (their CRI definition)',
    rpcs: ['ContainerStats'],
    async run({ scope }) {
      const { id } = await scope.podWithContainer('main', withResources({ memory_limit_in_bytes: 64 * MiB, memory_swap_limit_in_bytes: 64 * MiB }));
      const m = (await containerStats(scope, id)).memory;
      const ws = value(m?.working_set_bytes, 'memory.working_set_bytes');
      const available = value(m?.available_bytes, 'memory.available_bytes');
      if (available + ws !== 64 * MiB) throw new Error(`available_bytes ${available} + working_set_bytes ${ws} = ${available + ws}, expected the limit ${64 * MiB}`);
    },
  }),
  criTest({
    name: 'stats-writable-layer',
    title: "writing 8 MiB into the container's root filesystem grows writable_layer.used_bytes by at least that, and inodes_used (the runtime may sample every few seconds)",
    rpcs: ['ContainerStats'],
    timeoutMs: 150_000,
    async run({ scope, ctx }) {
      const { id } = await scope.podWithContainer('main');
      // A baseline the runtime has measured (containerd samples snapshot usage every few seconds; unmeasured has timestamp 0).
      const first = await pollUntil(ctx.signal, async () => (await containerStats(scope, id)).writable_layer, (w) => (w?.timestamp ?? 0) > 0, 'writable_layer was never measured', (w) => JSON.stringify(w));
      if (!first?.fs_id?.mountpoint?.startsWith('/')) throw new Error(`writable_layer names no filesystem: ${JSON.stringify(first)}`);
      const used = first.used_bytes?.value ?? 0;
      const inodes = first.inodes_used?.value ?? 0;
      await scope.sh(id, 'mkdir /scratch && dd if=/dev/zero of=/scratch/data bs=1M count=8 2>/dev/null && sync');
      await pollUntil(ctx.signal, async () => (await containerStats(scope, id)).writable_layer, (w) => (w?.used_bytes?.value ?? 0) >= used + 8 * MiB && (w?.inodes_used?.value ?? 0) >= inodes + 2, 'writable_layer did not grow by 8 MiB and 2 inodes (a folder and a file)', (w) => `${JSON.stringify(w)} (before: ${used} bytes, ${inodes} inodes)`, 90_000);
    },
  }),
  criTest({
    name: 'stats-list-filters',
    title: 'ListContainerStats filters by container id, by pod sandbox id and by label selector, listing exactly the matching containers',
    rpcs: ['ListContainerStats'],
    async run({ scope }) {
      const one = await scope.runPod();
      const two = await scope.runPod();
      const a = await scope.startContainer(one, 'a', { labels: { role: 'web' } });
      const b = await scope.startContainer(one, 'b', { labels: { role: 'db' } });
      const c = await scope.startContainer(two, 'c', { labels: { role: 'web' } });
      const list = async (filter: object) => (await scope.cri.runtime<{ stats: Cri.ContainerStats[] }>('ListContainerStats', { filter })).stats.map((s) => s.attributes?.id ?? '?').sort();
      const cases: [string, object, string[]][] = [
        ['id', { id: a }, [a]],
        ['pod_sandbox_id', { pod_sandbox_id: one.id }, [a, b]],
        ['label selector role=web', { label_selector: { [SCOPE_LABEL]: scope.id, role: 'web' } }, [a, c]],
        ['pod_sandbox_id and label role=web', { pod_sandbox_id: two.id, label_selector: { role: 'web' } }, [c]],
        ['label selector matching nothing', { label_selector: { [SCOPE_LABEL]: scope.id, role: 'none' } }, []],
      ];
      const name = new Map([[a, 'a'], [b, 'b'], [c, 'c']]);
      for (const [what, filter, want] of cases) {
        const got = await list(filter);
        if (got.join() !== [...want].sort().join()) throw new Error(`ListContainerStats by ${what} listed [${got.map((x) => name.get(x) ?? x.slice(0, 12)).join(', ')}], expected [${want.map((x) => name.get(x)).join(', ')}]`);
      }
    },
  }),
  criTest({
    name: 'stats-removed-not-found',
    title: 'ContainerStats of a removed container, and PodSandboxStats of a removed pod, fail with NOT_FOUND',
    rpcs: ['ContainerStats', 'PodSandboxStats'],
    async run({ scope }) {
      const { pod, id } = await scope.podWithContainer('main');
      await scope.cri.runtime('StopContainer', { container_id: id, timeout: 10 }, { timeoutMs: 30_000 });
      await scope.cri.runtime('RemoveContainer', { container_id: id });
      await expectNotFound(() => containerStats(scope, id), 'ContainerStats of a removed container');
      await scope.cri.runtime('StopPodSandbox', { pod_sandbox_id: pod.id }, { timeoutMs: 60_000 });
      await scope.cri.runtime('RemovePodSandbox', { pod_sandbox_id: pod.id });
      await expectNotFound(() => scope.cri.runtime('PodSandboxStats', { pod_sandbox_id: pod.id }), 'PodSandboxStats of a removed pod');
    },
  }),
];

export const statsTests: TestDef[] = [...containerStatsTests, ...podStatsTests];
