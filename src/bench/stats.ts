/**
 * Summary statistics with tinybench's names and definitions (tinybench 6 `dist/index.js`):
 * sample variance (n - 1, Welford), percentiles by linear interpolation between closest ranks
 * (R's type 7: position (n - 1) * q in the sorted values), sem = sd / sqrt(n),
 * moe = sem * the two-sided 95% Student's t critical value for n - 1 df, rme = moe / |mean| * 100.
 * Keeping its definitions means a host-side tinybench result and an in-guest raw-sample metric
 * read the same way in one table.
 */

import tQuantile from '@stdlib/stats-base-dists-t-quantile';
import type { Stats } from './model.js';

/** Two-sided 95% critical value of Student's t with `df` degrees of freedom. */
export function tCritical95(df: number): number {
  return tQuantile(0.975, Math.max(df, 1));
}

/** The value at quantile `q` (0..1) of ascending `sorted` values, interpolated linearly. */
export function quantileSorted(sorted: readonly number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const a = sorted[lo]!;
  if (pos === lo) return a;
  const b = sorted[lo + 1]!;
  return a + (pos - lo) * (b - a);
}

function sortedCopy(values: readonly number[], what: string): number[] {
  if (values.length === 0) throw new RangeError(`${what} needs at least one value`);
  for (const v of values) {
    if (!Number.isFinite(v)) throw new RangeError(`${what}: ${v} is not a finite number`);
  }
  return [...values].sort((x, y) => x - y);
}

export function median(values: readonly number[]): number {
  return quantileSorted(sortedCopy(values, 'median'), 0.5);
}

export function summarize(values: readonly number[]): Stats {
  const sorted = sortedCopy(values, 'summarize');
  const n = sorted.length;
  // Welford: numerically stable for samples far from zero (nanosecond timings).
  let mean = 0;
  let m2 = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    const d = v - mean;
    mean += d / (i + 1);
    m2 += d * (v - mean);
  }
  const sd = n > 1 ? Math.sqrt(m2 / (n - 1)) : 0;
  const sem = sd / Math.sqrt(n);
  const moe = n > 1 ? sem * tCritical95(n - 1) : 0;
  // tinybench reports Infinity for a zero mean; a zero margin on a zero mean is simply 0.
  const rme = moe === 0 ? 0 : mean === 0 ? Infinity : (moe / Math.abs(mean)) * 100;
  return {
    mean,
    p50: quantileSorted(sorted, 0.5),
    p75: quantileSorted(sorted, 0.75),
    p99: quantileSorted(sorted, 0.99),
    sd,
    sem,
    moe,
    rme,
    min: sorted[0]!,
    max: sorted[n - 1]!,
    // Input order (boot order for per-boot values), unlike tinybench which keeps them sorted.
    samples: [...values],
  };
}
