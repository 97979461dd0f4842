/**
 * E-divisive means (Matteson & James 2014, "A Nonparametric Approach for Multiple Change Point
 * Analysis of Multivariate Data"; the method behind MongoDB's signal-processing-algorithms and
 * Apache Otava/Hunter). It finds where a benchmark's history shifts without assuming a
 * distribution or a window size, which a rolling mean cannot do: a PR is then compared with the
 * runs since the last shift, not with a mix of before and after.
 *
 * - Divergence between two segments X, Y is the energy statistic
 *     E = 2/(nm) Σ|Xi-Yj|^α - C(n,2)^-1 Σ_{i<k}|Xi-Xk|^α - C(m,2)^-1 Σ_{j<k}|Yj-Yk|^α,
 *   scaled to Q = nm/(n+m) E. α in (0, 2); α = 1 is the usual choice.
 * - Bisection: in every segment between the change points found so far, the split with the
 *   largest Q is the candidate; the best candidate over all segments is tested.
 * - Significance: a permutation test. The points of each segment are shuffled within their
 *   segment R times and the best Q recomputed; p = (#{Q_perm >= Q} + 1) / (R + 1). The candidate
 *   is kept when p <= sigLevel, and the search goes on; otherwise it stops.
 * A seeded PRNG makes the permutations, so the same series always gives the same answer.
 */

import { mulberry32 } from '../core/seeded-random.js';

export interface ChangePointOptions {
  /** Exponent α of the distances, in (0, 2). Default 1. */
  alpha?: number;
  /** Permutations per significance test. Default 199 (as in the paper and R's ecp). */
  permutations?: number;
  /** Fewest points a regime may have. Default 3; at least 2. */
  minSize?: number;
  /** Seed of the permutation PRNG. */
  seed?: number;
  /** Largest permutation p-value accepted as a change. Default 0.05. */
  sigLevel?: number;
}

export const DEFAULT_CHANGE_POINT_OPTIONS = { alpha: 1, permutations: 199, minSize: 3, seed: 0x5eed, sigLevel: 0.05 } as const;

interface Split {
  /** Position where the second segment starts. */
  at: number;
  q: number;
}

/**
 * The split of positions [a, b) of `order` with the largest Q, each side at least `minSize` long.
 * `order` maps positions to series indices (the identity, or a permutation). O((b-a)^2).
 */
function bestSplit(d: Float64Array, n: number, order: Int32Array, a: number, b: number, minSize: number): Split | undefined {
  const len = b - a;
  if (len < 2 * minSize) return undefined;
  const dist = (p: number, r: number) => d[order[p]! * n + order[r]!]!;
  let sxx = 0;
  let syy = 0;
  let sxy = 0;
  const mid = a + minSize;
  for (let p = a; p < b; p++) {
    for (let r = p + 1; r < b; r++) {
      const v = dist(p, r);
      if (r < mid) sxx += v;
      else if (p >= mid) syy += v;
      else sxy += v;
    }
  }
  let best: Split | undefined;
  for (let at = mid; ; at++) {
    const nx = at - a;
    const ny = b - at;
    const e = (2 * sxy) / (nx * ny) - sxx / ((nx * (nx - 1)) / 2) - syy / ((ny * (ny - 1)) / 2);
    const q = ((nx * ny) / (nx + ny)) * e;
    if (!best || q > best.q) best = { at, q };
    if (ny - 1 < minSize) break;
    // Move position `at` from Y to X.
    let toX = 0;
    let toY = 0;
    for (let p = a; p < at; p++) toX += dist(p, at);
    for (let r = at + 1; r < b; r++) toY += dist(at, r);
    sxy += toY - toX;
    sxx += toX;
    syy -= toY;
  }
  return best;
}

/** Best split over every window [bounds[i], bounds[i+1]). */
function bestOverWindows(d: Float64Array, n: number, order: Int32Array, bounds: readonly number[], minSize: number): Split | undefined {
  let best: Split | undefined;
  for (let i = 0; i + 1 < bounds.length; i++) {
    const s = bestSplit(d, n, order, bounds[i]!, bounds[i + 1]!, minSize);
    if (s && (!best || s.q > best.q)) best = s;
  }
  return best;
}

/**
 * Q for segments x and y computed directly from the definition, O((n+m)^2). For tests and for
 * reporting how strong a change is; changePoints uses incremental sums instead.
 */
export function energyQ(x: readonly number[], y: readonly number[], alpha = 1): number {
  const within = (s: readonly number[]) => {
    let sum = 0;
    for (let i = 0; i < s.length; i++) for (let j = i + 1; j < s.length; j++) sum += Math.abs(s[i]! - s[j]!) ** alpha;
    return sum / ((s.length * (s.length - 1)) / 2);
  };
  let between = 0;
  for (const a of x) for (const b of y) between += Math.abs(a - b) ** alpha;
  const n = x.length;
  const m = y.length;
  return ((n * m) / (n + m)) * ((2 * between) / (n * m) - within(x) - within(y));
}

/** The split of the whole series with the largest Q (each side at least minSize), untested. */
export function strongestSplit(series: readonly number[], options: Pick<ChangePointOptions, 'alpha' | 'minSize'> = {}): { at: number; q: number } | undefined {
  const alpha = options.alpha ?? DEFAULT_CHANGE_POINT_OPTIONS.alpha;
  const minSize = options.minSize ?? DEFAULT_CHANGE_POINT_OPTIONS.minSize;
  const n = series.length;
  const d = distances(series, alpha);
  return bestSplit(d, n, Int32Array.from({ length: n }, (_, i) => i), 0, n, minSize);
}

function distances(series: readonly number[], alpha: number): Float64Array {
  const n = series.length;
  const d = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const v = Math.abs(series[i]! - series[j]!) ** alpha;
      d[i * n + j] = v;
      d[j * n + i] = v;
    }
  }
  return d;
}

function validate(o: Required<ChangePointOptions>): void {
  if (!(o.alpha > 0 && o.alpha < 2)) throw new RangeError(`changePoints: alpha must be in (0, 2), got ${o.alpha}`);
  if (!Number.isInteger(o.permutations) || o.permutations < 1) throw new RangeError(`changePoints: permutations must be a positive integer, got ${o.permutations}`);
  if (!Number.isInteger(o.minSize) || o.minSize < 2) throw new RangeError(`changePoints: minSize must be an integer >= 2, got ${o.minSize}`);
  if (!(o.sigLevel > 0 && o.sigLevel < 1)) throw new RangeError(`changePoints: sigLevel must be in (0, 1), got ${o.sigLevel}`);
}

/** Indices where a new regime starts, ascending. Series shorter than 2 * minSize have none. */
export function changePoints(series: readonly number[], options: ChangePointOptions = {}): number[] {
  const o = { ...DEFAULT_CHANGE_POINT_OPTIONS, ...options };
  validate(o);
  const n = series.length;
  for (const v of series) if (!Number.isFinite(v)) throw new RangeError(`changePoints: ${v} is not a finite number`);
  if (n < 2 * o.minSize) return [];

  const d = distances(series, o.alpha);
  const identity = Int32Array.from({ length: n }, (_, i) => i);
  const random = mulberry32(o.seed);
  const found: number[] = [];
  // Permuted stats count as "at least as large" within rounding: sums taken in another order.
  const atLeast = (perm: number, obs: number) => perm >= obs - 1e-12 * Math.abs(obs);
  // More exceedances than this and p > sigLevel whatever the remaining permutations give.
  const maxExceed = Math.floor(o.sigLevel * (o.permutations + 1)) - 1;

  for (;;) {
    const bounds = [0, ...found, n];
    const candidate = bestOverWindows(d, n, identity, bounds, o.minSize);
    if (!candidate) break;
    let exceed = 0;
    const order = Int32Array.from(identity);
    for (let r = 0; r < o.permutations && exceed <= maxExceed; r++) {
      for (let w = 0; w + 1 < bounds.length; w++) {
        // Fisher–Yates within the window only: the change points found so far stay put.
        const lo = bounds[w]!;
        for (let i = bounds[w + 1]! - 1; i > lo; i--) {
          const j = lo + Math.floor(random() * (i - lo + 1));
          const t = order[i]!;
          order[i] = order[j]!;
          order[j] = t;
        }
      }
      const perm = bestOverWindows(d, n, order, bounds, o.minSize);
      if (perm && atLeast(perm.q, candidate.q)) exceed++;
    }
    const p = (exceed + 1) / (o.permutations + 1);
    if (p > o.sigLevel) break;
    found.push(candidate.at);
    found.sort((x, y) => x - y);
  }
  return found;
}
