import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunResult } from '../../src/core/result.js';
import { AGENT_PING_SAMPLES, BENCH_PROGRAMS, BOOT_GUEST, BOOT_HOST, AGENT_ROUND_TRIP, GUEST_SAMPLES } from '../../suites/bench/metrics.js';
import { tempDir, tsuite } from './cli.js';

/** Every metric the bench suite reports on the reference guest, and how many raw samples it carries. */
const EXPECTED = [
  { ...BOOT_HOST, samples: 1 },
  { ...BOOT_GUEST, samples: 1 },
  ...BENCH_PROGRAMS.flatMap((p) => p.metrics.map(({ name, unit, better }) => ({ name, unit, better, samples: GUEST_SAMPLES }))),
  { ...AGENT_ROUND_TRIP, samples: AGENT_PING_SAMPLES },
];

describe('tsuite run --suite bench', () => {
  it.each(['qemu-x86', 'qemu-arm64'])(
    'on %s: every benchmark reports its metrics with unit, direction and all its samples; container timings are skipped for want of docker and cri',
    async (target) => {
      const out = tempDir(`bench-suite-${target}`);
      const run = await tsuite('run', '--target', target, '--suite', 'bench', '--reporter', 'json', '--output-dir', out);
      const r = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as RunResult;
      expect(r.sessions).toHaveLength(1);

      const problems = r.tests.filter((t) => t.status !== 'passed' && t.status !== 'skipped').map((t) => `${t.id} ${t.status}: ${t.error?.message ?? ''}`);
      expect(problems, run.stderr).toEqual([]);
      expect(run.code).toBe(0);
      const skipped = r.tests.filter((t) => t.status === 'skipped').map((t) => [t.id, t.reason]);
      expect(skipped).toEqual([
        ['bench/container-cold-start', expect.stringMatching(`^target '${target}' offers no 'docker' channel`)],
        ['bench/container-exec', expect.stringMatching(`^target '${target}' offers no 'docker' channel`)],
        ['bench/cri-pod-start', expect.stringMatching(`^target '${target}' offers no 'cri' channel`)],
        ['bench/cri-container-start', expect.stringMatching(`^target '${target}' offers no 'cri' channel`)],
      ]);

      const metrics = r.tests.flatMap((t) => t.metrics);
      expect(metrics.map((m) => ({ name: m.name, unit: m.unit, better: m.better, samples: m.samples?.length }))).toEqual(EXPECTED);
      for (const m of metrics) expect(m.samples!.every((s) => Number.isFinite(s) && s > 0), m.name).toBe(true);
      // Under TCG the benchmarks count instructions (under KVM, real time); what the host timed stays real time.
      const guestClock = r.sessions[0]!.accel === 'tcg' ? 'instructions' : 'time';
      expect(r.sessions[0]!.clock).toBe(guestClock);
      const hostTimed = new Set([BOOT_HOST.name, AGENT_ROUND_TRIP.name]);
      for (const m of metrics) expect(m.clock, m.name).toBe(hostTimed.has(m.name) ? 'time' : guestClock);
    },
    180_000,
  );

  it('a plain run leaves the bench suite out, even where --test would match its tests', async () => {
    const out = tempDir('bench-plain');
    // `*/boot-*` matches boot/boot-time and bench/boot-host, bench/boot-guest alike.
    const plain = await tsuite('run', '--target', 'qemu-x86', '--test', '*/boot-*', '--reporter', 'json', '--output-dir', out);
    const r = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as RunResult;
    expect(r.tests.map((t) => `${t.id} ${t.status}`), plain.stderr).toEqual(['boot/boot-time passed']);
  }, 120_000);
});
