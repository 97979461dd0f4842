import type Dockerode from 'dockerode';
import type { TestDef } from '../../src/index.js';
import { jsonReport } from './custom-images.js';
import { dockerTest, type Scope } from './scope.js';
import { engineTimeNs, followLogs } from './streams.js';

/** One busy shell loop: a process that burns a whole CPU until killed. */
export const BUSY_LOOP = 'while :; do :; done';

/** One `GET /containers/{id}/stats?stream=false` sample. */
export async function statsOnce(s: Scope, c: Dockerode.Container): Promise<Dockerode.ContainerStats> {
  s.signal.throwIfAborted();
  return c.stats({ stream: false });
}

/**
 * CPU used per wall-clock time between two samples, in CPUs (1 = one CPU all the time), with
 * both times taken by the engine (`read`): the test host's clock and the API latency do not count.
 */
export function cpuFraction(a: Dockerode.ContainerStats, b: Dockerode.ContainerStats): number {
  const used = b.cpu_stats.cpu_usage.total_usage - a.cpu_stats.cpu_usage.total_usage;
  const wall = Number(engineTimeNs(b.read) - engineTimeNs(a.read));
  if (!(wall > 0)) throw new Error(`the stats samples are not in order: read ${a.read} then ${b.read}`);
  return used / wall;
}

const MiB = 1024 * 1024;

export const statsTests: TestDef[] = [
  dockerTest({
    name: 'stats-memory-pids',
    title: 'one-shot stats of a container holding 24 MiB: memory usage covers it, under the limit; pids.current counts its processes',
    timeoutMs: 120_000,
    async run(s) {
      const mib = 24;
      // memstress touches every page, reports, then holds the memory for the stats to see.
      const c = await s.startContainer({ Image: s.images.memstress, Cmd: [String(mib), '600'] });
      const logs = await followLogs(s.api, c, s.signal);
      const line = await logs.stdout.waitFor(/\{.*\}\n/, s.signal);
      const report = jsonReport<{ ok: boolean; allocated_mib: number }>(line, 'memstress');
      if (!report.ok || report.allocated_mib !== mib) throw new Error(`memstress reported ${line.trim()}`);
      const st = await statsOnce(s, c);
      if (st.id !== c.id) throw new Error(`stats of ${c.id.slice(0, 12)} answered for ${st.id}`);
      const usage = st.memory_stats?.usage ?? 0;
      if (!(usage >= mib * MiB)) throw new Error(`memory_stats.usage is ${usage} bytes while the container holds ${mib} MiB it has touched`);
      const limit = st.memory_stats?.limit ?? 0;
      if (!(limit >= usage)) throw new Error(`memory_stats.limit ${limit} is below usage ${usage}`);
      const pids = st.pids_stats?.current ?? 0;
      if (pids < 1) throw new Error(`pids_stats.current is ${JSON.stringify(st.pids_stats)} for a running container`);
      s.ctx.metric({ name: 'memory-usage', unit: 'MiB', value: Math.round((usage / MiB) * 10) / 10 });
    },
  }),
  dockerTest({
    name: 'stats-cpu',
    title: 'stats of a busy container: CPU counters advance between two reads, by about the CPU time the loops used; pids.current counts three processes',
    timeoutMs: 120_000,
    async run(s) {
      // Two loops in the background and the shell that waits: three processes.
      const c = await s.startContainer({ Image: s.images.busybox, Cmd: ['sh', '-c', `(${BUSY_LOOP}) & (${BUSY_LOOP}) & echo ready; wait`] });
      const logs = await followLogs(s.api, c, s.signal);
      await logs.stdout.waitFor('ready', s.signal);
      const a = await statsOnce(s, c);
      const b = await statsOnce(s, c);
      const before = a.cpu_stats.cpu_usage.total_usage;
      const after = b.cpu_stats.cpu_usage.total_usage;
      if (!(after > before)) throw new Error(`cpu_usage.total_usage did not advance for a busy container: ${before} then ${after}`);
      const used = cpuFraction(a, b);
      // Two loops on however many CPUs the engine has: well over a tenth of one CPU is plain busy-ness.
      if (!(used > 0.1)) throw new Error(`the two busy loops used ${used.toFixed(3)} CPUs between the samples`);
      const pids = b.pids_stats?.current;
      if (pids !== 3) throw new Error(`pids_stats.current is ${pids}, not 3 (the shell and its two loops)`);
      s.ctx.metric({ name: 'cpu-used', unit: 'CPUs', value: Math.round(used * 1000) / 1000 });
    },
  }),
];
