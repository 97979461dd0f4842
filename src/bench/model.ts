/**
 * The benchmark data model shared by the bench suite, `tsuite bench`, the history store,
 * `tsuite compare`, the PR comment and the HTML report. Statistics keep tinybench's names.
 */

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
}

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
  /** One line on why this verdict (shown in tables and the PR comment). */
  why: string;
}

export interface Comparison {
  mode: 'history' | 'ab';
  /** What each side is: a commit or regime for history, a kernel for A/B. */
  base: { label: string; runs?: number; changePoint?: string };
  head: { label: string };
  target: string;
  fingerprint: Fingerprint;
  /** The thresholds the verdicts used. */
  settings: { alpha: number; minEffect: number; test: string };
  metrics: MetricComparison[];
}
