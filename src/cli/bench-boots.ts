import { join } from 'node:path';
import { allowedHostCpus, duetHalves } from '../core/host-cpus.js';
import type { RunResult } from '../core/result.js';
import { createReporters } from '../reporters/index.js';
import type { SuiteDef } from '../core/suite.js';
import { DEFAULT_BENCH_SUITES } from './bench-suites.js';
import { runSuites, type PreparedTarget, type SuiteRunRequest } from './suite-run.js';

/** The bench suite's tests, on a fresh boot each time. */
export interface BootsRequest {
  runId: string;
  outputDir: string;
  grep?: readonly string[];
  /** The benchmark suites to run (default: the built-in `bench`), from `available` (the context's catalog). */
  suites?: readonly string[];
  available: readonly SuiteDef[];
  testTimeoutMs: number;
  signal: AbortSignal;
  /** Written to stderr after each boot. */
  log?: (line: string) => void;
}

/** One boot: the bench suite on a fresh machine, its results.json in `<outputDir>/<name>/`. */
async function oneBoot(prepared: PreparedTarget, name: string, req: BootsRequest, machineOverride?: SuiteRunRequest['machineOverride']): Promise<RunResult> {
  const outputDir = join(req.outputDir, name);
  const started = Date.now();
  const result = await runSuites(prepared, {
    suites: req.suites ?? DEFAULT_BENCH_SUITES,
    available: req.available,
    grep: req.grep,
    runId: `${req.runId}-${name}`,
    outputDir,
    reporters: createReporters(['json'], { outputDir }),
    testTimeoutMs: req.testTimeoutMs,
    signal: req.signal,
    ...(machineOverride ? { machineOverride } : {}),
  });
  const bad = result.tests.filter((t) => t.status !== 'passed' && t.status !== 'skipped').length;
  const metrics = result.tests.reduce((n, t) => n + t.metrics.length, 0);
  req.log?.(`${name}: ${metrics} metrics${bad > 0 ? `, ${bad} benchmark(s) not passed` : ''} (${((Date.now() - started) / 1000).toFixed(1)}s, ${result.run.accel})`);
  return result;
}

/** A boot that could not run anything makes the next ones pointless: the same failure would repeat. */
const hopeless = (r: RunResult) => r.run.interrupted !== undefined || (r.run.infraError !== undefined && r.tests.every((t) => t.status === 'infraError'));

/** N independent boots of one kernel. */
export async function measureBoots(prepared: PreparedTarget, count: number, req: BootsRequest, label = 'boot'): Promise<RunResult[]> {
  const results: RunResult[] = [];
  for (let i = 1; i <= count && !req.signal.aborted; i++) {
    const r = await oneBoot(prepared, `${label}-${i}`, req);
    results.push(r);
    if (hopeless(r)) break;
  }
  return results;
}

/** A and B measured as pairs: a[i] and b[i] are one pair. */
export interface MeasuredPairs {
  a: RunResult[];
  b: RunResult[];
}

/**
 * Kernels booted round by round, one boot of each a round, in the order `orderOf(round)` gives
 * (indices into `targets`). Only whole rounds are kept: a round cut short by an interrupt or a
 * hopeless boot is dropped, so the i-th boots of all kernels stay one round.
 */
async function measureRounds(
  targets: readonly PreparedTarget[],
  names: readonly string[],
  orderOf: (round: number) => readonly number[],
  rounds: number,
  req: BootsRequest,
  label: string,
  first: number,
): Promise<RunResult[][]> {
  const out = targets.map(() => [] as RunResult[]);
  measuring: for (let i = first; i < first + rounds && !req.signal.aborted; i++) {
    for (const k of orderOf(i)) {
      if (req.signal.aborted) break;
      const r = await oneBoot(targets[k]!, `${label}-${i}-${names[k]}`, req);
      out[k]!.push(r);
      if (hopeless(r)) break measuring;
    }
  }
  const whole = Math.min(...out.map((o) => o.length));
  return out.map((o) => o.slice(0, whole));
}

/**
 * Two kernels booted pair by pair, so slow drift of a shared machine hits both alike. The order
 * within a pair alternates (AB, BA, AB, ...) so neither kernel always runs on a machine warmed
 * by the other. `first` numbers the first pair (more pairs added to a run continue its numbering
 * and its alternation).
 */
export async function measureInterleaved(
  a: PreparedTarget,
  b: PreparedTarget,
  pairs: number,
  req: BootsRequest,
  label = 'pair',
  first = 1,
): Promise<MeasuredPairs> {
  const [ra, rb] = await measureRounds([a, b], ['a', 'b'], (i) => (i % 2 === 1 ? [0, 1] : [1, 0]), pairs, req, label, first);
  return { a: ra!, b: rb! };
}

/** A bisection step's boots, each between a boot of each endpoint: good[i], step[i] and bad[i] are one round. */
export interface BracketedBoots {
  good: RunResult[];
  step: RunResult[];
  bad: RunResult[];
}

/**
 * A step booted between the endpoints, round by round: good, step, bad, then bad, step, good, so
 * the step is always in the middle and neither endpoint always runs first.
 */
export async function measureBracketed(
  endpoints: { good: PreparedTarget; bad: PreparedTarget },
  step: PreparedTarget,
  rounds: number,
  req: BootsRequest,
  label = 'round',
  first = 1,
): Promise<BracketedBoots> {
  const [good, s, bad] = await measureRounds([endpoints.good, step, endpoints.bad], ['good', 'step', 'bad'], (i) => (i % 2 === 1 ? [0, 1, 2] : [2, 1, 0]), rounds, req, label, first);
  return { good: good!, step: s!, bad: bad! };
}

/**
 * A duet: A and B booted at the same time, round by round, each QEMU pinned to its own half of the
 * host's CPUs with as many vCPUs as its half has (see duetHalves: the halves swap every round).
 * Whatever else loads a shared host during a round loads both, so it cancels in that round's
 * ratio, which drift between one boot and the next in measureInterleaved does only on average.
 * Real time only: under instruction counting the host's load does not reach the figures anyway.
 * Host-side benchmarks of both run in this one process at once, so they contend with each other.
 */
export async function measureDuet(
  a: PreparedTarget,
  b: PreparedTarget,
  rounds: number,
  req: BootsRequest,
  label = 'duet',
  first = 1,
): Promise<MeasuredPairs> {
  const available = await allowedHostCpus();
  const out: MeasuredPairs = { a: [], b: [] };
  for (let i = first; i < first + rounds && !req.signal.aborted; i++) {
    const halves = duetHalves(available, i);
    // Both settle before anything is thrown: a failed boot must not leave the other running unawaited.
    const [ra, rb] = await Promise.allSettled([
      oneBoot(a, `${label}-${i}-a`, req, { cpus: halves.guestCpus, hostCpus: halves.a }),
      oneBoot(b, `${label}-${i}-b`, req, { cpus: halves.guestCpus, hostCpus: halves.b }),
    ]);
    if (ra.status === 'rejected') throw ra.reason;
    if (rb.status === 'rejected') throw rb.reason;
    out.a.push(ra.value);
    out.b.push(rb.value);
    if (hopeless(ra.value) || hopeless(rb.value)) break;
  }
  return out;
}
