/**
 * Significance tests for "did this metric change?", on the log scale: benchmark timings are
 * positive and their noise is multiplicative, so a difference of log means is a ratio and its
 * confidence interval is a ratio interval ("+12% (95% CI +8..+16%)") whatever the unit.
 *
 * Each observation is one independent boot's value (the median of that boot's samples): the
 * error term is the variance across boots, not within one boot.
 */

import tCdf from '@stdlib/stats-base-dists-t-cdf';
import tQuantile from '@stdlib/stats-base-dists-t-quantile';

export interface TestResult {
  /** Two-sided p-value for "no change". */
  p: number;
  /** head / base as a ratio of geometric means (or the geometric mean of paired ratios). */
  ratio: number;
  /** 95% confidence interval of the ratio. */
  ci: [number, number];
  /** Which test produced it (for reports). */
  test: string;
  /**
   * Standard error of the log ratio and its degrees of freedom: what the smallest detectable
   * change is computed from (see detectableChange in verdict.ts). se is 0 when neither side
   * varies (any change is exact) and Infinity when a side has too few values to estimate it.
   */
  se: number;
  df: number;
}

/**
 * The share trimmed from each end: 20%, Wilcox's recommendation. On a shared machine one boot now
 * and then runs slow throughout (another job took the CPU); an untrimmed t-test lets that one
 * boot widen the interval until a real 30% change is "not significant". With fewer than 5 values
 * a side nothing is trimmed and the tests are the plain Welch and paired t-tests.
 */
export const TRIM = 0.2;
export const WELCH_LOG_TEST = "Yuen's trimmed-mean Welch t-test (20% trimmed) on log per-boot medians";
export const PAIRED_LOG_TEST = "Yuen's trimmed-mean paired t-test (20% trimmed) on log ratios";

/** What is reported when there is too little data to test anything: no evidence of change. */
const UNBOUNDED_CI: [number, number] = [0, Infinity];

function logs(values: readonly number[], side: string): number[] {
  return values.map((v) => {
    if (!(v > 0) || !Number.isFinite(v)) {
      throw new RangeError(`${side}: ${v} cannot be compared on a log scale (values must be positive and finite)`);
    }
    return Math.log(v);
  });
}

function mean(xs: readonly number[]): number {
  return xs.reduce((s, x) => s + x, 0) / xs.length;
}

function variance(xs: readonly number[]): number {
  const m = mean(xs);
  return xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1);
}

/**
 * Trimmed mean, winsorized variance and the effective size h = n - 2g (g = floor(trim * n)
 * values cut from each end), as Yuen's tests use them.
 */
function trimmed(xs: readonly number[], trim: number): { mean: number; winVar: number; n: number; h: number } {
  const sorted = [...xs].sort((a, b) => a - b);
  const n = sorted.length;
  const g = Math.floor(trim * n);
  const kept = sorted.slice(g, n - g);
  const winsorized = sorted.map((_, i) => sorted[Math.min(Math.max(i, g), n - g - 1)]!);
  return { mean: mean(kept), winVar: variance(winsorized), n, h: kept.length };
}

/** A two-sided test of `t` with `df` degrees of freedom, and the 95% interval `estimate ± t* se`. */
function tTest(estimate: number, se: number, df: number): { p: number; lo: number; hi: number } {
  const t = estimate / se;
  const crit = tQuantile(0.975, df);
  return { p: finiteP(2 * (1 - tCdf(Math.abs(t), df))), lo: estimate - crit * se, hi: estimate + crit * se };
}

/**
 * Same log means, in the floating-point sense: values that are all equal on each side can give
 * log means a few ulps apart, which is not a change.
 */
function sameLogMean(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(a), Math.abs(b));
}

/** Result for a difference `d` of log means that has no variance to test against. */
function exact(d: number, test: string): TestResult {
  const same = sameLogMean(d, 0);
  const ratio = same ? 1 : Math.exp(d);
  return { p: same ? 1 : 0, ratio, ci: [ratio, ratio], test, se: 0, df: Infinity };
}

/** Too few values to estimate any variance: no evidence, and no change could have been seen. */
function untestable(ratio: number, test: string): TestResult {
  return { p: 1, ratio, ci: UNBOUNDED_CI, test, se: Infinity, df: 0 };
}

function finiteP(p: number): number {
  return Number.isFinite(p) ? Math.min(1, Math.max(0, p)) : 1;
}

/**
 * Yuen's two-sample test (trimmed means, winsorized variances, Welch's degrees of freedom) on
 * ln(values): head against base; `trim` 0 makes it Welch's t-test. Throws RangeError for a value
 * that is not positive and finite (a log-scale ratio is meaningless there).
 */
export function welchLogTest(base: readonly number[], head: readonly number[], trim = TRIM): TestResult {
  const lb = logs(base, 'base');
  const lh = logs(head, 'head');
  if (lb.length === 0 || lh.length === 0) return untestable(1, WELCH_LOG_TEST);
  if (lb.length < 2 || lh.length < 2) return untestable(Math.exp(mean(lh) - mean(lb)), WELCH_LOG_TEST);
  const b = trimmed(lb, trim);
  const h = trimmed(lh, trim);
  const d = h.mean - b.mean;
  const db = ((b.n - 1) * b.winVar) / (b.h * (b.h - 1));
  const dh = ((h.n - 1) * h.winVar) / (h.h * (h.h - 1));
  // Both sides constant (to rounding): the difference is exact, no test needed (t would be 0/0 or ±Inf).
  if (db + dh <= 1e-30 * Math.max(1, d * d)) return exact(d, WELCH_LOG_TEST);
  const df = (db + dh) ** 2 / (db ** 2 / (b.h - 1) + dh ** 2 / (h.h - 1));
  const se = Math.sqrt(db + dh);
  const r = tTest(d, se, df);
  return { p: r.p, ratio: Math.exp(d), ci: [Math.exp(r.lo), Math.exp(r.hi)], test: WELCH_LOG_TEST, se, df };
}

/**
 * For A/B runs measured pair by pair: Yuen's one-sample trimmed test on ln(b_i / a_i), so drift
 * that affects both members of a pair cancels, and one pair hit by a busy host does not swamp the
 * others; `trim` 0 makes it the paired t-test. `a[i]` and `b[i]` must be the same pair.
 */
export function pairedLogTest(a: readonly number[], b: readonly number[], trim = TRIM): TestResult {
  if (a.length !== b.length) {
    throw new RangeError(`paired test needs one A value per B value (got ${a.length} A, ${b.length} B): drop incomplete pairs first`);
  }
  const la = logs(a, 'A');
  const lb = logs(b, 'B');
  const diffs = lb.map((x, i) => x - la[i]!);
  if (diffs.length === 0) return untestable(1, PAIRED_LOG_TEST);
  if (diffs.length < 2) return untestable(Math.exp(mean(diffs)), PAIRED_LOG_TEST);
  const t = trimmed(diffs, trim);
  // Tukey–McLaughlin's standard error of a trimmed mean (Wilcox's trimci): s_w / ((1 - 2g/n) sqrt n).
  const se2 = (t.n * t.winVar) / (t.h * t.h);
  if (se2 <= 1e-30 * Math.max(1, t.mean * t.mean)) return exact(t.mean, PAIRED_LOG_TEST);
  const se = Math.sqrt(se2);
  const r = tTest(t.mean, se, t.h - 1);
  return { p: r.p, ratio: Math.exp(t.mean), ci: [Math.exp(r.lo), Math.exp(r.hi)], test: PAIRED_LOG_TEST, se, df: t.h - 1 };
}
