import type { BenchClock } from '../src/bench/clock.js';
import type { BenchRun } from '../src/bench/model.js';
import { summarize } from '../src/bench/stats.js';

const fingerprint = { id: 'fp1', cpuModel: 'Test CPU', cores: 2, accel: 'tcg', qemuVersion: '7.2.0', runner: 'qemu', instanceType: 'local', clock: 'time' } as const;

/** A small bench.json: `metrics` metrics of three boots each, on target qemu-x86 unless told. */
export function benchRun(runId: string, opts: { target?: string; date?: string; fingerprintId?: string; metrics?: number; clock?: BenchClock } = {}): BenchRun {
  const clock = opts.clock ?? 'time';
  const metrics = Array.from({ length: opts.metrics ?? 3 }, (_, i) => {
    const samples = [100 + i, 101 + i, 99 + i];
    return { name: `syscall/m${i}`, unit: 'ns', better: 'lower' as const, clock, boots: samples.map((s) => [s, s + 1]), samples, stats: summarize(samples) };
  });
  return {
    version: 1,
    runId,
    target: opts.target ?? 'qemu-x86',
    commit: `commit-${runId}`,
    ref: 'main',
    date: opts.date ?? '2026-01-02T03:04:05.000Z',
    kernel: { id: 'k1', source: 'debian-package', version: '6.1.0-28', cmdline: 'console=ttyS0' },
    fingerprint: { ...fingerprint, id: opts.fingerprintId ?? fingerprint.id, clock },
    clock,
    boots: 3,
    metrics,
    problems: [],
  };
}
