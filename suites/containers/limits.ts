import type { TestDef } from '../../src/index.js';
import { jsonReport } from './custom-images.js';
import { dockerTest } from './scope.js';
import { BUSY_LOOP, cpuFraction, statsOnce } from './stats.js';
import { followLogs } from './streams.js';

const MiB = 1024 * 1024;

export const limitsTests: TestDef[] = [
  dockerTest({
    name: 'limits-memory-oom',
    title: 'a 32 MiB memory limit (no swap): 8 MiB fits, 96 MiB ends in the OOM killer with State.OOMKilled true and exit 137',
    timeoutMs: 120_000,
    async run(s) {
      // MemorySwap = Memory: no swap to spill into, so going over the limit can only end in an OOM kill.
      const HostConfig = { Memory: 32 * MiB, MemorySwap: 32 * MiB };
      const fits = await s.run(s.images.memstress, ['8'], { HostConfig });
      const small = jsonReport<{ ok: boolean; allocated_mib: number }>(fits.stdout, 'memstress 8');
      if (fits.exitCode !== 0 || !small.ok || fits.info.State.OOMKilled) {
        throw new Error(`8 MiB under a 32 MiB limit: exit ${fits.exitCode}, OOMKilled ${fits.info.State.OOMKilled}, report ${fits.stdout.trim()}`);
      }
      if (fits.info.HostConfig.Memory !== 32 * MiB) throw new Error(`HostConfig.Memory reads back as ${fits.info.HostConfig.Memory}, not ${32 * MiB}`);

      const over = await s.run(s.images.memstress, ['96'], { HostConfig });
      const st = over.info.State;
      if (!st.OOMKilled) throw new Error(`96 MiB under a 32 MiB limit: State.OOMKilled is ${st.OOMKilled} (exit ${over.exitCode}, output ${JSON.stringify(over.stdout.trim())})`);
      if (over.exitCode !== 137) throw new Error(`the OOM-killed container exited ${over.exitCode}, not 137 (SIGKILL)`);
      // It died while touching pages: it never got to print its report.
      if (over.stdout.includes('"ok":true')) throw new Error(`memstress reported success over the limit: ${over.stdout.trim()}`);
    },
  }),
  dockerTest({
    name: 'limits-cpu-quota',
    title: 'NanoCpus 0.2 caps a busy loop at a fifth of a CPU, and the kernel counts throttled periods (the unthrottled twin beside it for scale)',
    timeoutMs: 150_000,
    async run(s) {
      const quota = 0.2;
      const start = async (HostConfig: object) => {
        const c = await s.startContainer({ Image: s.images.busybox, Cmd: ['sh', '-c', `echo ready; ${BUSY_LOOP}`], HostConfig });
        await (await followLogs(s.api, c, s.signal)).stdout.waitFor('ready', s.signal);
        return c;
      };
      const free = await start({});
      const capped = await start({ NanoCpus: quota * 1e9 });
      // Both loops run at once, over the same stretch of time: whatever else loads the engine's machine loads both.
      const [f1, c1] = await Promise.all([statsOnce(s, free), statsOnce(s, capped)]);
      // A sample takes the engine about a second: one in between widens the window to about two.
      await Promise.all([statsOnce(s, free), statsOnce(s, capped)]);
      const [f3, c3] = await Promise.all([statsOnce(s, free), statsOnce(s, capped)]);
      const freeUse = cpuFraction(f1, f3);
      const cappedUse = cpuFraction(c1, c3);
      s.ctx.metric({ name: 'cpu-unthrottled', unit: 'CPUs', value: Math.round(freeUse * 1000) / 1000 });
      s.ctx.metric({ name: 'cpu-throttled', unit: 'CPUs', value: Math.round(cappedUse * 1000) / 1000 });
      if (!(cappedUse > 0)) throw new Error('the throttled loop got no CPU at all');
      // The cap: throttling can only lower use below the quota (a loaded machine lowers it further), never raise it.
      if (cappedUse > quota * 1.5) throw new Error(`the loop under NanoCpus ${quota} used ${cappedUse.toFixed(3)} CPUs: over its quota`);
      // Evidence the cap bit: the kernel counted throttled periods (cpu.stat nr_throttled, v1 and v2), or, for an
      // engine that reports none, the loop got well under half of what its unthrottled twin got.
      const before = c1.cpu_stats.throttling_data?.throttled_periods ?? 0;
      const after = c3.cpu_stats.throttling_data?.throttled_periods ?? 0;
      const ratio = cappedUse / freeUse;
      s.ctx.metric({ name: 'throttled-periods', unit: 'periods', value: after - before });
      if (!(after > before) && !(ratio < 0.5)) {
        throw new Error(
          `no sign of throttling under NanoCpus ${quota}: throttled_periods ${before} → ${after}, and ${cappedUse.toFixed(3)} CPUs against ${freeUse.toFixed(3)} unthrottled (ratio ${ratio.toFixed(2)})`,
        );
      }
    },
  }),
  dockerTest({
    name: 'limits-pids',
    title: 'PidsLimit 8: a shell spawning 20 background processes sees fork fail; no more than the limit ever exist',
    timeoutMs: 120_000,
    async run(s) {
      const limit = 8;
      const want = 20;
      // Each `( sleep & )` forks a subshell that forks sleep and exits: one lasting process per success.
      const script = `ok=0; fail=0; i=0; while [ $i -lt ${want} ]; do i=$((i+1)); if ( sleep 300 & ); then ok=$((ok+1)); else fail=$((fail+1)); fi; done; echo "ok=$ok fail=$fail"`;
      const r = await s.run(s.images.busybox, ['sh', '-c', script], { HostConfig: { PidsLimit: limit } });
      const m = /ok=(\d+) fail=(\d+)/.exec(r.stdout);
      if (r.exitCode !== 0 || !m) throw new Error(`the spawning shell exited ${r.exitCode}: stdout ${JSON.stringify(r.stdout)}, stderr ${JSON.stringify(r.stderr.slice(-300))}`);
      const ok = Number(m[1]);
      const failed = Number(m[2]);
      s.ctx.metric({ name: 'spawned', unit: 'processes', value: ok });
      s.ctx.metric({ name: 'fork-failures', unit: 'forks', value: failed });
      if (r.info.HostConfig.PidsLimit !== limit) throw new Error(`HostConfig.PidsLimit reads back as ${r.info.HostConfig.PidsLimit}, not ${limit}`);
      if (failed === 0) throw new Error(`all ${want} background processes started under PidsLimit ${limit}`);
      // The shell itself is one of the pids: at most limit - 1 sleeps can exist.
      if (ok < 1 || ok > limit - 1) throw new Error(`${ok} background processes started under PidsLimit ${limit} (at most ${limit - 1} fit beside the shell)`);
      if (!/fork/i.test(r.stderr)) throw new Error(`the shell reported no fork failure on stderr: ${JSON.stringify(r.stderr.slice(-300))}`);
    },
  }),
];
