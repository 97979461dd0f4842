/**
 * The benchmark data model shared by the bench suite, `tsuite bench`, the history store,
 * `tsuite compare`, the PR comment and the HTML report. Statistics keep tinybench's names.
 */

import type { BenchClock } from './clock.js';

export type Direction = 'lower' | 'higher';

/** Summary statistics over a set of samples, named as tinybench names them. */
export interface Stats {
  mean: number;
  p50: number;
  p75: number;
  p99: number;
  /** Sample standard deviation (n - 1). */
  sd: number;
  /** Standard error of the mean: sd / sqrt(n). */
  sem: number;
  /** Margin of error: sem times the two-sided 95% Student's t critical value for n - 1 df. */
  moe: number;
  /** Relative margin of error, in percent of the mean. */
  rme: number;
  min: number;
  max: number;
  /** The values the statistics were computed from. */
  samples: number[];
}

/** A metric's identity: `<benchmark>/<measure>`, e.g. `syscall/getppid`. */
export interface MetricDef {
  name: string;
  unit: string;
  better: Direction;
  /**
   * What measured it: `instructions` (guest figures under QEMU icount: 1 virtual ns = 1 guest
   * instruction) or `time` (real time: host-side metrics always). Absent in rows written before
   * the clock existed: those were real time.
   */
  clock?: BenchClock;
  /**
   * How a boot's instruction-count samples become its one value (see leastDisturbed in
   * aggregate.ts): `least-disturbed` (the default) or `better-half` for a benchmark whose work is
   * partly deferred by the kernel, so that no batch is free of it.
   */
  counted?: InstructionSummary;
}

export type InstructionSummary = 'least-disturbed' | 'better-half';

/**
 * One metric measured over the N independent boots of one run. The statistics are over the
 * per-boot medians: the error term is the variance across boots, not within one boot.
 */
export interface MetricRun extends MetricDef {
  /** Raw samples, one array per boot, in boot order. */
  boots: number[][];
  /** One value per boot: the median of that boot's raw samples. */
  samples: number[];
  stats: Stats;
}

/** What makes two runs comparable at all: rows with different fingerprint ids are never compared. */
export interface Fingerprint {
  /** Short stable hash of every other field. */
  id: string;
  cpuModel: string;
  cores: number;
  accel: 'kvm' | 'tcg' | 'none';
  qemuVersion: string;
  /** `qemu`, or a cloud runner's name. */
  runner: string;
  /** Cloud instance type, or `local`. */
  instanceType: string;
  /** The benchmark clock of the run: instruction counts and real time are never compared. */
  clock: BenchClock;
}

/** Which kernel was measured: same id, same kernel binary and command line. */
export interface KernelIdentity {
  /** Short hash over the kernel's bytes (or package version), initrd and command line. */
  id: string;
  source: string;
  version?: string;
  cmdline: string;
}

/** The output of `tsuite bench`: `bench.json` in the run's output dir. */
export interface BenchRun {
  version: 1;
  runId: string;
  target: string;
  /** The commit measured (the kernel tree's, or GITHUB_SHA), when known. */
  commit?: string;
  /** Branch or ref name, when known (e.g. `main`). */
  ref?: string;
  date: string;
  kernel: KernelIdentity;
  fingerprint: Fingerprint;
  /** The run's benchmark clock (also in the fingerprint): see MetricDef.clock for each metric's own. */
  clock: BenchClock;
  boots: number;
  metrics: MetricRun[];
  /** Benchmarks that did not produce numbers, and why (a skip carries its reason). */
  problems: { benchmark: string; status: 'skipped' | 'failed' | 'infraError'; reason: string }[];
}

/** One line of `bench-history/*.jsonl`: one metric of one run. */
export interface HistoryRow extends MetricDef {
  version: 1;
  runId: string;
  date: string;
  commit?: string;
  ref?: string;
  target: string;
  kernel: KernelIdentity;
  fingerprint: Fingerprint;
  /** Per-boot values (see MetricRun.samples). */
  samples: number[];
  stats: Stats;
}

export type Verdict = 'improved' | 'regressed' | 'unchanged' | 'noisy' | 'no-baseline';

/** The comparison of one metric: head (or kernel B) against base (or kernel A). */
export interface MetricComparison extends MetricDef {
  verdict: Verdict;
  /** head / base as a ratio of geometric means (of paired ratios in A/B); absent with no baseline. */
  ratio?: number;
  /** 95% confidence interval of the ratio. */
  ci?: [number, number];
  /** The test's p-value, and after Benjamini–Hochberg across all metrics compared. */
  p?: number;
  q?: number;
  base?: Stats;
  head: Stats;
  /** Whether a suspected regression was re-measured, and what the re-measurement said. */
  remeasured?: { ratio: number; q: number; confirmed: boolean };
  /**
   * The smallest change (a fraction: 0.12 for ±12%) this comparison would have reported with 95%
   * power at the noise it measured (src/bench/detectable.ts); set for every tested metric.
   */
  detectable?: number;
  /** One line on why this verdict (shown in tables and the PR comment). */
  why: string;
}

/** How an A/B comparison measured its pairs. */
export interface AbPairs {
  /** Pairs the verdicts are computed from (a re-measurement's are not counted). */
  used: number;
  /** Pairs measured before the first look (--boots). */
  first: number;
  /** The most pairs adaptive boots could grow to (--max-boots); `first` when not adaptive. */
  max: number;
  /**
   * `interleaved`: A and B one after the other, the order alternating pair by pair. `duet`: A and
   * B at the same time, each QEMU pinned to its own half of the host's CPUs.
   */
  design: 'interleaved' | 'duet';
}

export interface Comparison {
  mode: 'history' | 'ab';
  /** What each side is: a commit or regime for history, a kernel for A/B. */
  base: { label: string; runs?: number; changePoint?: string };
  head: { label: string };
  target: string;
  fingerprint: Fingerprint;
  /** The benchmark clock both sides were measured with (see MetricDef.clock). */
  clock: BenchClock;
  /**
   * The thresholds the verdicts used. `minEffect` applies to real-time metrics,
   * `minEffectInstructions` to instruction counts (which repeat to a fraction of a percent).
   */
  settings: {
    alpha: number;
    minEffect: number;
    minEffectInstructions: number;
    test: string;
    /**
     * A/B with adaptive boots: the looks planned (every time pairs were added the metrics were
     * tested again), each held to alpha / looks, and the rule in words (see src/bench/adaptive.ts).
     */
    looks?: number;
    stopping?: string;
  };
  /** A/B only: how many pairs, and how they were measured. */
  pairs?: AbPairs;
  metrics: MetricComparison[];
}
