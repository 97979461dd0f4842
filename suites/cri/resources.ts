import type { TestDef } from '../../src/index.js';
import { ContainerCgroup, MEMORY_LIMIT, parseCpuList, weightsForShares } from './container-cgroup.js';
import { criTest } from './cri-test.js';
import { pollUntil } from './poll.js';
import { BUSY, MiB, withResources } from './resource-requests.js';
import { podResourceTests } from './resources-pod.js';
import { updateResourceTests } from './resources-update.js';

/** Memory and CPU limits, seen in the container's cgroup and in what the kernel does with them. */
const memoryCpuTests: TestDef[] = [
  criTest({
    name: 'resources-memory-limit',
    title: "memory_limit_in_bytes 64 MiB is the container's cgroup memory limit (memory.max / memory.limit_in_bytes); a container asking none has none",
    rpcs: ['CreateContainer', 'StartContainer'],
    async run({ scope }) {
      const pod = await scope.runPod();
      const limited = await scope.startContainer(pod, 'limited', withResources({ memory_limit_in_bytes: 64 * MiB, memory_swap_limit_in_bytes: 64 * MiB }));
      const free = await scope.startContainer(pod, 'free');
      const cg = await ContainerCgroup.open(scope, limited);
      const limit = await cg.memoryLimit();
      if (limit !== 64 * MiB) throw new Error(`${cg.path(MEMORY_LIMIT)} reads ${limit ?? 'no limit'}, expected ${64 * MiB} (64 MiB asked)`);
      const none = await (await ContainerCgroup.open(scope, free)).memoryLimit();
      if (none !== null) throw new Error(`a container asking no memory limit has one of ${none} bytes`);
    },
  }),
  criTest({
    name: 'resources-memory-fits',
    title: 'memstress touching 8 MiB under a 32 MiB limit exits 0 with reason Completed: the limit leaves room below it',
    rpcs: ['CreateContainer', 'ContainerStatus'],
    async run({ scope }) {
      const pod = await scope.runPod();
      const id = await scope.startContainer(pod, 'fits', withResources({ memory_limit_in_bytes: 32 * MiB, memory_swap_limit_in_bytes: 32 * MiB }, { image: { image: scope.images.memstress }, command: ['memstress', '8'] }));
      const s = await scope.waitStatus(id, (x) => x.state === 'CONTAINER_EXITED', 'exit');
      if (s.exit_code !== 0 || s.reason !== 'Completed') throw new Error(`8 MiB under a 32 MiB limit: exit ${s.exit_code}, reason '${s.reason}', expected exit 0, reason 'Completed'`);
    },
  }),
  criTest({
    name: 'resources-memory-oom',
    title: 'memstress touching 96 MiB under a 32 MiB limit (no swap) is OOM-killed: ContainerStatus says reason OOMKilled, exit code 137',
    rpcs: ['CreateContainer', 'ContainerStatus'],
    async run({ scope }) {
      const pod = await scope.runPod();
      // Swap limit = memory limit, as the kubelet asks without swap: going over can only end in the OOM killer.
      const id = await scope.startContainer(pod, 'hog', withResources({ memory_limit_in_bytes: 32 * MiB, memory_swap_limit_in_bytes: 32 * MiB }, { image: { image: scope.images.memstress }, command: ['memstress', '96'] }));
      const s = await scope.waitStatus(id, (x) => x.state === 'CONTAINER_EXITED', 'exit');
      if (s.reason !== 'OOMKilled') throw new Error(`96 MiB under a 32 MiB limit ended with reason '${s.reason}' (exit ${s.exit_code}), expected 'OOMKilled'`);
      if (s.exit_code !== 137) throw new Error(`the OOM-killed container exited ${s.exit_code}, expected 137 (128 + SIGKILL)`);
    },
  }),
  criTest({
    name: 'resources-cpu-quota',
    title: 'cpu_quota 20000 / cpu_period 50000 are the cgroup CFS bandwidth (cpu.max `20000 50000` / cpu.cfs_quota_us, cpu.cfs_period_us)',
    rpcs: ['CreateContainer'],
    async run({ scope }) {
      const { id } = await scope.podWithContainer('capped', withResources({ cpu_quota: 20000, cpu_period: 50000 }));
      const cg = await ContainerCgroup.open(scope, id);
      const max = await cg.cpuMax();
      if (max.quota !== 20000 || max.period !== 50000) throw new Error(`the container's CFS bandwidth is ${max.raw}, expected quota 20000 and period 50000 (µs)`);
    },
  }),
  criTest({
    name: 'resources-cpu-quota-throttles',
    title: "a busy loop under cpu_quota 10000 / cpu_period 100000 is throttled: cpu.stat nr_throttled grows, and CPU used stays within the quota of the periods that passed",
    rpcs: ['CreateContainer'],
    timeoutMs: 150_000,
    async run({ scope, ctx }) {
      const quotaUs = 10000;
      const { id } = await scope.podWithContainer('busy', withResources({ cpu_quota: quotaUs, cpu_period: 100000 }, { command: BUSY }));
      const cg = await ContainerCgroup.open(scope, id);
      // The kernel's own clock: 20 bandwidth periods (2 s of 100 ms) in which the group ran.
      const a = await cg.cpuCounters();
      const b = await pollUntil(ctx.signal, () => cg.cpuCounters(), (x) => x.periods - a.periods >= 20, '20 CFS periods did not pass', (x) => `counters ${JSON.stringify(a)} then ${JSON.stringify(x)}`);
      const periods = b.periods - a.periods;
      const throttled = b.throttled - a.throttled;
      const used = b.usageNs - a.usageNs;
      ctx.metric({ name: 'throttled-periods', unit: 'periods', value: throttled });
      ctx.metric({ name: 'cpu-per-period', unit: 'ms', value: Math.round(used / periods / 1e4) / 100 });
      if (!(throttled > 0)) throw new Error(`a busy loop under a ${quotaUs} µs quota was throttled in none of ${periods} periods (nr_throttled ${a.throttled} → ${b.throttled})`);
      // At most the quota in each period that passed, plus one period's worth for the reads' edges; a fifth more for the kernel's 5 ms slices.
      const allowed = (periods + 1) * quotaUs * 1000 * 1.2;
      if (used > allowed) throw new Error(`the loop used ${(used / 1e6).toFixed(1)} ms of CPU in ${periods} periods of a ${quotaUs / 1000} ms quota: over ${(allowed / 1e6).toFixed(1)} ms`);
    },
  }),
  criTest({
    name: 'resources-cpu-no-quota',
    title: 'without cpu_quota the cgroup has no CFS quota, and a busy loop is never throttled',
    rpcs: ['CreateContainer'],
    async run({ scope, ctx }) {
      const { id } = await scope.podWithContainer('busy', { command: BUSY });
      const cg = await ContainerCgroup.open(scope, id);
      const max = await cg.cpuMax();
      if (max.quota !== null) throw new Error(`a container asking no CPU quota has one: ${max.raw}`);
      // Without a quota the bandwidth timer never runs (no periods): wait for CPU used instead.
      const a = await cg.cpuCounters();
      const b = await pollUntil(ctx.signal, () => cg.cpuCounters(), (x) => x.usageNs - a.usageNs >= 200e6, 'the loop did not use 200 ms of CPU', (x) => `counters ${JSON.stringify(a)} then ${JSON.stringify(x)}`);
      if (b.throttled !== a.throttled || b.throttled !== 0) throw new Error(`a container without a quota was throttled: nr_throttled ${a.throttled} → ${b.throttled}`);
    },
  }),
  criTest({
    name: 'resources-cpu-shares',
    title: 'cpu_shares 512 is cpu.shares 512 on cgroup v1, or the cpu.weight runc maps it to on v2 (1 + (512-2)·9999/262142 = 20, or 59 by runc ≥ 1.3.2)',
    rpcs: ['CreateContainer'],
    async run({ scope }) {
      const shares = 512;
      const { id } = await scope.podWithContainer('shared', withResources({ cpu_shares: shares }));
      const cg = await ContainerCgroup.open(scope, id);
      const got = await cg.cpuShare();
      const want = cg.version === 2 ? weightsForShares(shares) : [shares];
      if (!want.includes(got.value)) throw new Error(`cpu_shares ${shares}: ${got.file} reads ${got.value}, expected ${want.join(' or ')}`);
    },
  }),
  criTest({
    name: 'resources-cpuset-cpus',
    title: "cpuset_cpus naming the node's last CPU confines the container to it: the cgroup's cpuset and the kernel's Cpus_allowed_list say that CPU only",
    rpcs: ['CreateContainer'],
    async run({ scope, ctx }) {
      const pod = await scope.runPod();
      const probe = await scope.startContainer(pod, 'probe');
      const online = parseCpuList(await scope.sh(probe, 'cat /sys/devices/system/cpu/online'));
      if (online.length < 2) ctx.skip(`the node has ${online.length} CPU online: cpuset_cpus cannot confine a container to fewer`);
      const cpu = online[online.length - 1]!;
      const id = await scope.startContainer(pod, 'pinned', withResources({ cpuset_cpus: String(cpu) }));
      const cg = await ContainerCgroup.open(scope, id);
      const set = await cg.cpuset();
      if (set.join(',') !== String(cpu)) throw new Error(`cpuset_cpus '${cpu}': the container's cpuset is ${set.join(',') || 'empty'} (node CPUs online: ${online.join(',')})`);
      const allowed = /Cpus_allowed_list:\s*(\S+)/.exec(await scope.sh(id, 'cat /proc/self/status'))?.[1];
      if (allowed !== String(cpu)) throw new Error(`cpuset_cpus '${cpu}': a process in the container may run on CPUs ${allowed}, expected ${cpu} only`);
    },
  }),
];

/** Limits a container asks for in LinuxContainerResources, applied to its cgroup, changed while it runs, and set per pod. */
export const resourceTests: TestDef[] = [...memoryCpuTests, ...updateResourceTests, ...podResourceTests];
