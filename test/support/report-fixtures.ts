/**
 * Inputs for the HTML report's tests, shaped like what `tsuite run`, `tsuite bench --record` and
 * the history store write: a run with failures and a conformance matrix, and a benchmark history
 * with seeded noise and one step change (so a change point exists).
 */

import type { BenchRun, Fingerprint, HistoryRow, KernelIdentity } from '../../src/bench/model.js';
import { summarize as stats } from '../../src/bench/stats.js';
import { RESULT_VERSION, summarize, type ConformanceItem, type RunResult, type TestResult } from '../../src/core/result.js';
import { mulberry32 } from '../../src/core/seeded-random.js';

/** Markup that must show up as text: if it were parsed, it would end the page's script or run code. */
export const INJECTION = `</script><script>window.__injected = true</script><img src=x onerror="window.__injected = true"><!--`;

export const PANIC_EXCERPT = [
  '[    1.512034] Run /init as init process',
  '[    1.980211] BUG: kernel NULL pointer dereference, address: 0000000000000008',
  '[    1.980530] #PF: supervisor read access in kernel mode',
  `[    1.981002] comm: probe ${INJECTION}`,
  '[    1.981733] Kernel panic - not syncing: Fatal exception',
].join('\n');

const test = (t: Partial<TestResult> & Pick<TestResult, 'id' | 'status'>): TestResult => ({
  suite: t.id.split('/')[0]!,
  title: t.id.split('/').slice(1).join('/'),
  durationMs: 120,
  metrics: [],
  session: 's1',
  ...t,
});

/** The failing tests the report must list, by id. */
export const FAILING = ['syscall/memory/mremap/grow-in-place', `isolation/escape ${INJECTION}`, 'boot/no-warnings'];

export function runResult(): RunResult {
  const families = ['files', 'memory', 'process', 'signals', 'time', 'net'];
  const items: ConformanceItem[] = Array.from({ length: 300 }, (_, i) => ({
    item: `${families[i % families.length]}/call${i}`,
    status: i === 7 ? 'fail' : i % 50 === 3 ? 'skip' : 'pass',
    passed: i === 7 ? 1 : 3,
    failed: i === 7 ? 1 : 0,
    skipped: i % 50 === 3 ? 1 : 0,
    reasons: i % 50 === 3 ? ['needs CAP_SYS_ADMIN'] : [],
    details: { number: i },
  }));
  const tests: TestResult[] = [
    test({ id: 'boot/reaches-landmark', status: 'passed', metrics: [{ name: 'boot-time-host', unit: 'ms', value: 2310 }] }),
    test({ id: 'syscall/files/openat/creates', status: 'passed' }),
    test({
      id: FAILING[0]!,
      status: 'failed',
      error: { message: 'mremap(MREMAP_MAYMOVE) returned -1 ENOMEM, expected a new mapping', consoleExcerpt: PANIC_EXCERPT },
    }),
    test({
      id: FAILING[1]!,
      status: 'crashed',
      session: 's2',
      error: { message: `kernel died: ${INJECTION}`, consoleExcerpt: `\x1b[31mred\x1b[0m\r\n${INJECTION}\nend of excerpt` },
    }),
    test({ id: FAILING[2]!, status: 'passed', expectation: { outcome: 'unexpected-pass', reason: 'WARN in the vmalloc path' } }),
    test({ id: 'gpu/passthrough', status: 'skipped', reason: 'target has no GPU' }),
    test({ id: 'containers/run', status: 'infraError', error: { message: 'docker channel refused the connection' } }),
  ];
  return {
    version: RESULT_VERSION,
    run: {
      id: '20261121-070152-4c3d',
      target: 'qemu-x86',
      startedAt: '2026-11-21T07:01:52.000Z',
      finishedAt: '2026-11-21T07:03:10.000Z',
      kernel: { path: '/cache/vmlinuz-6.1.0-56-cloud-amd64', source: 'debian-package', package: 'linux-image-6.1.0-56-cloud-amd64', version: '6.1.192-2', cmdline: 'console=ttyS0 panic=-1' },
      accel: 'tcg',
      accelReason: 'KVM internal error. Suberror: 1',
      qemuVersion: '7.2.22',
      host: { hostname: 'ci-1', platform: 'linux 6.18.44', arch: 'x64', cpuModel: 'AMD EPYC 7B13', cpus: 2, memoryMb: 24000 },
      tsuiteVersion: '0.1.0',
    },
    summary: summarize(tests, 78_000),
    sessions: [
      { id: 's1', target: 'qemu-x86', accel: 'tcg', consoleLog: 's1/console.log' },
      { id: 's2', target: 'qemu-x86', accel: 'tcg', consoleLog: 's2/console.log' },
    ],
    tests,
    conformance: {
      syscall: { itemKind: 'syscall', covered: 294, items },
      isolation: { itemKind: 'attempt', covered: 2, items: items.slice(0, 2).map((i) => ({ ...i, item: `escape/${i.item}` })) },
    },
  };
}

export const fingerprint: Fingerprint = { id: 'a1b2c3d4', cpuModel: 'AMD EPYC 7B13', cores: 2, accel: 'tcg', qemuVersion: '7.2.22', runner: 'qemu', instanceType: 'local' };
const armFingerprint: Fingerprint = { ...fingerprint, id: 'e5f6a7b8', cpuModel: 'Neoverse-N1' };
const kernel: KernelIdentity = { id: 'k6f1e2', source: 'debian-package', version: '6.1.192-2', cmdline: 'console=ttyS0' };

/** metric, unit, level before and after the step (equal: no step). */
export const METRICS = [
  { name: 'syscall/getppid', unit: 'ns', before: 465, after: 465 * 1.3 },
  { name: 'ipc/pipe-roundtrip', unit: 'µs', before: 71, after: 71 },
  { name: 'memory/page-fault', unit: 'µs', before: 7, after: 7 },
] as const;
export const RUNS = 12;
/** The run from which getppid is 30% slower (`pti=on` landed): the change point's index. */
export const STEP_AT = 6;

const runId = (i: number) => `20261101-0900${String(i).padStart(2, '0')}-00${String(i).padStart(2, '0')}`;
const date = (i: number) => new Date(Date.UTC(2026, 10, 1 + i, 9)).toISOString();

/** Per-boot values with ~1% noise around `level`, from a seeded PRNG (the same on every run). */
function boots(level: number, random: () => number, n = 5): number[] {
  return Array.from({ length: n }, () => level * (1 + (random() - 0.5) * 0.02));
}

function row(i: number, m: { name: string; unit: string }, samples: number[], target = 'qemu-x86', fp = fingerprint): HistoryRow {
  return { version: 1, runId: runId(i), date: date(i), commit: `c0ffee${String(i).padStart(2, '0')}aa11bb22`, ref: 'main', target, name: m.name, unit: m.unit, better: 'lower', kernel, fingerprint: fp, samples, stats: stats(samples) };
}

/** RUNS runs of every metric on qemu-x86, plus a short arm64 history on another machine. */
export function historyRows(seed = 42): HistoryRow[] {
  const random = mulberry32(seed);
  const rows: HistoryRow[] = [];
  for (let i = 0; i < RUNS; i++) {
    for (const m of METRICS) rows.push(row(i, m, boots(i < STEP_AT ? m.before : m.after, random)));
  }
  for (let i = 0; i < 4; i++) rows.push(row(i, METRICS[0], boots(900, random), 'qemu-arm64', armFingerprint));
  return rows;
}

/** A `tsuite bench` run after the history, not recorded in it (no --record). */
export function benchRun(seed = 7): BenchRun {
  const random = mulberry32(seed);
  return {
    version: 1,
    runId: runId(RUNS),
    target: 'qemu-x86',
    commit: 'feedbeef12345678',
    ref: 'pr-42',
    date: date(RUNS),
    kernel,
    fingerprint,
    boots: 5,
    metrics: METRICS.map((m) => {
      const samples = boots(m.after, random);
      return { name: m.name, unit: m.unit, better: 'lower' as const, boots: samples.map((s) => [s]), samples, stats: stats(samples) };
    }),
    problems: [{ benchmark: 'gpu/copy', status: 'skipped', reason: 'target has no GPU' }],
  };
}
