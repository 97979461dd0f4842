import { defineSuite, type TestDef } from '../../src/index.js';
import { measureAgentRoundTrip } from './agent-round-trip.js';
import { measureColdStart, measureExec } from './container-timings.js';
import { measureContainerStart, measurePodStart } from './cri-timings.js';
import { AGENT_ROUND_TRIP, BENCH_PROGRAMS, BOOT_GUEST, BOOT_HOST, CONTAINER_COLD_START, CONTAINER_EXEC, CRI_CONTAINER_START, CRI_POD_START, type BenchProgram } from './metrics.js';
import { runBenchProgram } from './run-program.js';
import { hostMetric } from './host-metric.js';

/** Each program runs a few seconds under TCG at most; this is only the limit for a hung one. */
const PROGRAM_TIMEOUT_MS = 90_000;

const programTest = (p: BenchProgram): TestDef => ({
  name: p.program,
  title: `${p.title} (${p.metrics.map((m) => m.name).join(', ')})`,
  requires: ['agent'],
  timeoutMs: PROGRAM_TIMEOUT_MS + 10_000,
  run: (ctx) => runBenchProgram(ctx, p, PROGRAM_TIMEOUT_MS),
});

/** Container timings over the Docker Engine API, from the host; a target without it skips them. */
const containerTest = (name: string, title: string, run: TestDef['run']): TestDef => ({ name, title, requires: ['docker'], timeoutMs: 180_000, run });

export default defineSuite({
  name: 'bench',
  description: 'Benchmarks: boot time, syscall, context switch, IPC, memory, process and file costs in the guest, agent round trips from the host (only when named: --suite bench, or tsuite bench)',
  // Tens of seconds under TCG: only when asked for (--suite bench, or `tsuite bench`).
  explicit: true,
  benchmarks: true,
  tests: [
    {
      name: 'boot-host',
      title: `host time from machine start to the boot landmark (${BOOT_HOST.name})`,
      requires: ['live'],
      run(ctx) {
        const ms = ctx.session.bootMs;
        if (ms === undefined) return ctx.skip('the runner did not time the boot');
        hostMetric(ctx, { ...BOOT_HOST, samples: [ms] });
      },
    },
    {
      name: 'boot-guest',
      title: `the guest's own uptime when its init started, from the boot report (${BOOT_GUEST.name})`,
      requires: ['boot-report'],
      run(ctx) {
        const s = ctx.bootReport!.uptimeS;
        if (s === undefined || !(s > 0)) throw new Error(`the boot report's uptime_s is missing or not positive (${s})`);
        // The guest's own clock: ctx.metric gives it the session's (instructions when counted).
        ctx.metric({ ...BOOT_GUEST, samples: [s * 1000] });
      },
    },
    ...BENCH_PROGRAMS.map(programTest),
    {
      name: 'agent-round-trip',
      title: `guest-ping round trips timed from the host with tinybench (${AGENT_ROUND_TRIP.name})`,
      requires: ['agent'],
      timeoutMs: 60_000,
      run: measureAgentRoundTrip,
    },
    containerTest('container-cold-start', `docker run of busybox true, from create to exit, timed from the host with tinybench (${CONTAINER_COLD_START.name})`, measureColdStart),
    containerTest('container-exec', `docker exec of true in a running container, timed from the host with tinybench (${CONTAINER_EXEC.name})`, measureExec),
    { name: 'cri-pod-start', title: `CRI RunPodSandbox until the pod is ready, timed from the host with tinybench (${CRI_POD_START.name})`, requires: ['cri'], timeoutMs: 300_000, run: measurePodStart },
    { name: 'cri-container-start', title: `CRI CreateContainer + StartContainer of busybox true until it exited, timed from the host with tinybench (${CRI_CONTAINER_START.name})`, requires: ['cri'], timeoutMs: 300_000, run: measureContainerStart },
  ],
});
