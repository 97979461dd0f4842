import { describe, expect, it } from 'vitest';
import { benchRunFromBoots } from '../../src/bench/aggregate.js';
import { baselines } from '../../src/bench/baseline.js';
import type { HistoryRow } from '../../src/bench/model.js';
import { rowsFromBenchRun } from '../../src/bench/history.js';
import type { RunResult, TestResult } from '../../src/core/result.js';
import { benchRun } from '../bench-fixtures.js';

const test = (id: string, status: TestResult['status'], metrics: TestResult['metrics'], extra: Partial<TestResult> = {}): TestResult => ({
  id, suite: 'bench', title: id, status, durationMs: 1, metrics, session: 's', ...extra,
});

const boot = (tests: TestResult[], startedAt = '2026-11-21T10:00:00.000Z'): RunResult =>
  ({ version: 1, run: { id: 'r', target: 'qemu-x86', startedAt, accel: 'tcg' }, summary: {}, sessions: [], tests }) as unknown as RunResult;

const meta = {
  runId: 'run-1', target: 'qemu-x86', date: '2026-11-21T10:00:00.000Z',
  kernel: { id: 'k', source: 'debian-package', cmdline: '' },
  fingerprint: { id: 'fp1', cpuModel: 'x', cores: 2, accel: 'tcg' as const, qemuVersion: '7.2', runner: 'qemu', instanceType: 'local', clock: 'time' as const },
  clock: 'time' as const,
};

describe('benchRunFromBoots', () => {
  it('takes each boot\'s median of its raw samples, so the statistics are across boots', () => {
    const m = (samples: number[]) => [{ name: 'syscall/getppid', unit: 'ns', better: 'lower' as const, samples }];
    const run = benchRunFromBoots(
      [boot([test('bench/syscall', 'passed', m([10, 11, 500]))]), boot([test('bench/syscall', 'passed', m([12, 13, 14]))]), boot([test('bench/syscall', 'passed', m([9, 10, 11]))])],
      meta,
    );
    expect(run.boots).toBe(3);
    const metric = run.metrics[0]!;
    expect(metric.boots).toEqual([[10, 11, 500], [12, 13, 14], [9, 10, 11]]);
    expect(metric.samples).toEqual([11, 13, 10]);
    expect(metric.stats.mean).toBeCloseTo(34 / 3);
    expect(metric.stats.samples).toEqual([11, 13, 10]);
  });

  it('lists benchmarks that did not pass with their reason and leaves them out of the numbers', () => {
    const ok = test('bench/memory', 'passed', [{ name: 'memory/page-fault', unit: 'ns', better: 'lower', samples: [5, 6] }]);
    const run = benchRunFromBoots(
      [
        boot([ok, test('bench/containers', 'skipped', [], { reason: "target offers no 'docker' channel" })]),
        boot([test('bench/memory', 'failed', [{ name: 'memory/page-fault', unit: 'ns', better: 'lower', samples: [999] }], { error: { message: 'mmap: ENOMEM' } })]),
      ],
      meta,
    );
    expect(run.metrics[0]!.boots).toEqual([[5, 6]]);
    expect(run.problems).toEqual(
      expect.arrayContaining([
        { benchmark: 'bench/containers', status: 'skipped', reason: "target offers no 'docker' channel" },
        { benchmark: 'bench/memory', status: 'failed', reason: 'mmap: ENOMEM' },
      ]),
    );
  });

  it("takes each boot's least disturbed sample for an instruction count, where noise only adds instructions", () => {
    const counted = (samples: number[]) => test('bench/syscall', 'passed', [{ name: 'syscall/getppid', unit: 'ns', samples, better: 'lower', clock: 'instructions' }]);
    const timed = (samples: number[]) => test('bench/agent', 'passed', [{ name: 'agent/round-trip', unit: 'ms', samples, better: 'lower', clock: 'time' }]);
    const run = benchRunFromBoots([boot([counted([349.7, 337.0, 338.1]), timed([0.5, 0.4, 0.9])]), boot([counted([337.0, 350.2, 337.0]), timed([0.3, 0.6, 0.7])])], meta);
    expect(run.metrics.find((m) => m.name === 'syscall/getppid')).toMatchObject({ clock: 'instructions', samples: [337.0, 337.0] });
    expect(run.metrics.find((m) => m.name === 'agent/round-trip')).toMatchObject({ clock: 'time', samples: [0.5, 0.6] });
    // A throughput: fewer instructions per byte is more bytes per virtual second, so the largest.
    const rate = test('bench/ipc', 'passed', [{ name: 'ipc/pipe-throughput', unit: 'MB/s', samples: [1209.7, 1263.1, 1251.2], better: 'higher', clock: 'instructions' }]);
    expect(benchRunFromBoots([boot([rate])], meta).metrics[0]!.samples).toEqual([1263.1]);
    // Deferred work lands in some batch or other: the better half's mean stands for the boot.
    const files = test('bench/files', 'passed', [{ name: 'files/create-write-fsync-unlink', unit: 'us', samples: [36.5, 35.2, 36.6, 37.9, 36.5, 38.3], better: 'lower', clock: 'instructions', counted: 'better-half' }]);
    expect(benchRunFromBoots([boot([files])], meta).metrics[0]!.samples[0]).toBeCloseTo((35.2 + 36.5 + 36.5) / 3, 10);
  });

  it('keeps a single reading (value) as a one-sample boot', () => {
    const run = benchRunFromBoots([boot([test('bench/boot', 'passed', [{ name: 'boot/landmark', unit: 'ms', value: 2300, better: 'lower' }])])], meta);
    expect(run.metrics[0]!.samples).toEqual([2300]);
  });
});

describe('baselines', () => {
  const rows = (runId: string, date: string, commit: string, values: number[], opts: { fingerprintId?: string; target?: string } = {}): HistoryRow[] => {
    const r = benchRun(runId, { date, ...opts, metrics: 1 });
    r.commit = commit;
    r.metrics[0]!.samples = values;
    return rowsFromBenchRun(r);
  };

  it('pools the current regime only: rows before a change point are left out', async () => {
    const history: HistoryRow[] = [];
    for (let i = 0; i < 8; i++) history.push(...rows(`old-${i}`, `2026-01-${String(i + 1).padStart(2, '0')}`, `c${i}`, [100 + (i % 3), 101, 99]));
    for (let i = 8; i < 16; i++) history.push(...rows(`new-${i}`, `2026-01-${String(i + 1).padStart(2, '0')}`, `c${i}`, [130 + (i % 3), 131, 129]));
    const head = benchRun('head', { metrics: 1 });
    const base = await baselines(history, head, async () => true);
    const b = base.get('syscall/m0')!;
    expect(b.runs).toBe(8);
    expect(b.changePoint?.runId).toBe('new-8');
    expect(Math.min(...b.samples)).toBeGreaterThanOrEqual(129);
  });

  it('never compares other machines, other targets, commits off the base line, or the head run itself', async () => {
    const history = [
      ...rows('other-fp', '2026-01-01', 'c1', [1, 2, 3], { fingerprintId: 'fp2' }),
      ...rows('other-target', '2026-01-01', 'c1', [1, 2, 3], { target: 'qemu-arm64' }),
      ...rows('branch', '2026-01-02', 'side', [1, 2, 3]),
      ...rows('head', '2026-01-03', 'c1', [1, 2, 3]),
      ...rows('main', '2026-01-04', 'c1', [100, 101, 102]),
    ];
    const head = benchRun('head', { metrics: 1 });
    const base = await baselines(history, head, async (commit) => commit === 'c1');
    expect(base.get('syscall/m0')).toMatchObject({ runs: 1, samples: [100, 101, 102] });
    expect((await baselines(history, benchRun('x', { metrics: 1, fingerprintId: 'fp9' }), async () => true)).size).toBe(0);
  });

  it('never takes a row of the other clock mode as a baseline', async () => {
    const timed = rows('timed', '2026-01-01', 'c1', [500, 510, 490]);
    const counted = benchRun('counted', { date: '2026-01-02', metrics: 1, clock: 'instructions' });
    counted.commit = 'c1';
    counted.metrics[0]!.samples = [337, 337, 338];
    const history = [...timed, ...rowsFromBenchRun(counted)];
    // Even with the fingerprint id forced equal, each head sees only rows of its own mode.
    expect(history.every((r) => r.fingerprint.id === 'fp1')).toBe(true);
    const instrHead = benchRun('head-i', { metrics: 1, clock: 'instructions' });
    expect((await baselines(history, instrHead, async () => true)).get('syscall/m0')).toMatchObject({ runs: 1, samples: [337, 337, 338] });
    const timeHead = benchRun('head-t', { metrics: 1 });
    expect((await baselines(history, timeHead, async () => true)).get('syscall/m0')).toMatchObject({ runs: 1, samples: [500, 510, 490] });
    // A host-side metric (real time) inside an instruction-mode run matches only real-time rows of instruction-mode runs.
    const hostSide = benchRun('head-h', { metrics: 1, clock: 'instructions' });
    hostSide.metrics[0]!.clock = 'time';
    expect((await baselines(history, hostSide, async () => true)).size).toBe(0);
  });
});
