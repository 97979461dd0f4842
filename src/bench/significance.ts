/**
 * Significance tests for "did this metric change?", on the log scale: benchmark timings are
 * positive and their noise is multiplicative, so a difference of log means is a ratio and its
 * confidence interval is a ratio interval ("+12% (95% CI +8..+16%)") whatever the unit.
 *
 * Each observation is one independent boot's value (the median of that boot's samples): the
 * error term is the variance across boots, not within one boot.
 */

import ttest from '@stdlib/stats-ttest';
import ttest2 from '@stdlib/stats-ttest2';

export interface TestResult {
  /** Two-sided p-value for "no change". */
  p: number;
  /** head / base as a ratio of geometric means (or the geometric mean of paired ratios). */
  ratio: number;
  /** 95% confidence interval of the ratio. */
  ci: [number, number];
  /** Which test produced it (for reports). */
  test: string;
}

export const WELCH_LOG_TEST = "Welch's t-test on log per-boot medians";
export const PAIRED_LOG_TEST = 'paired t-test on log ratios';

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
  return { p: same ? 1 : 0, ratio, ci: [ratio, ratio], test };
}

function finiteP(p: number): number {
  return Number.isFinite(p) ? Math.min(1, Math.max(0, p)) : 1;
}

/**
 * Welch's two-sample t-test on ln(values): head against base. Throws RangeError for a value that
 * is not positive and finite (a log-scale ratio is meaningless there).
 */
export function welchLogTest(base: readonly number[], head: readonly number[]): TestResult {
  const lb = logs(base, 'base');
  const lh = logs(head, 'head');
  if (lb.length === 0 || lh.length === 0) return { p: 1, ratio: 1, ci: UNBOUNDED_CI, test: WELCH_LOG_TEST };
  const d = mean(lh) - mean(lb);
  if (lb.length < 2 || lh.length < 2) return { p: 1, ratio: Math.exp(d), ci: UNBOUNDED_CI, test: WELCH_LOG_TEST };
  const vb = variance(lb);
  const vh = variance(lh);
  // Both sides constant (to rounding): the difference is exact, no test needed (t would be 0/0 or ±Inf).
  if (vb / lb.length + vh / lh.length <= 1e-30 * Math.max(1, d * d)) return exact(d, WELCH_LOG_TEST);
  const r = ttest2(lh, lb, { alpha: 0.05, variance: 'unequal' });
  const [lo, hi] = r.ci as [number, number];
  return { p: finiteP(r.pValue), ratio: Math.exp(d), ci: [Math.exp(lo), Math.exp(hi)], test: WELCH_LOG_TEST };
}

/**
 * Paired t-test for A/B runs measured pair by pair: a one-sample t-test on ln(b_i / a_i), so drift
 * that affects both members of a pair cancels. `a[i]` and `b[i]` must be the same pair.
 */
export function pairedLogTest(a: readonly number[], b: readonly number[]): TestResult {
  if (a.length !== b.length) {
    throw new RangeError(`paired test needs one A value per B value (got ${a.length} A, ${b.length} B): drop incomplete pairs first`);
  }
  const la = logs(a, 'A');
  const lb = logs(b, 'B');
  const diffs = lb.map((x, i) => x - la[i]!);
  if (diffs.length === 0) return { p: 1, ratio: 1, ci: UNBOUNDED_CI, test: PAIRED_LOG_TEST };
  const d = mean(diffs);
  if (diffs.length < 2) return { p: 1, ratio: Math.exp(d), ci: UNBOUNDED_CI, test: PAIRED_LOG_TEST };
  if (variance(diffs) / diffs.length <= 1e-30 * Math.max(1, d * d)) return exact(d, PAIRED_LOG_TEST);
  const r = ttest(diffs, { alpha: 0.05, mu: 0 });
  const [lo, hi] = r.ci as [number, number];
  return { p: finiteP(r.pValue), ratio: Math.exp(d), ci: [Math.exp(lo), Math.exp(hi)], test: PAIRED_LOG_TEST };
}
