import { UsageError } from '../core/errors.js';
import { welchLogTest } from '../bench/significance.js';
import { tCritical95 } from '../bench/stats.js';

/**
 * Metric mode's rule: a step is good or bad by which endpoint its measurement is closer to, on the
 * log scale (a ratio scale: 1.3× slower is as far from 1× as 1.69× is from 1.3×), and only when it
 * is confidently on one side of the midpoint between them.
 *
 * - The endpoints are measured first, each on at least two boots; they must differ
 *   (`endpointsDiffer`: the project's Welch test on log per-boot values, p < alpha, and a change of
 *   at least the minimum effect), else there is nothing to bisect.
 * - The boot-to-boot noise sigma is the pooled standard deviation of the endpoints' log values and
 *   the step's own: each is one kernel on the same machine, so it is the spread of one boot's
 *   figure. The step's spread is pooled in because real time is not stationary: a boot slowed by
 *   another job on a shared host while the endpoints ran quietly would otherwise be judged with the
 *   endpoints' small margin and could land confidently on the wrong side. In instruction mode it
 *   is ~0 and one boot decides; in time mode a step gets several boots.
 * - The step's mean log m is compared with the midpoint c = (good + bad) / 2 with a 95% margin
 *   t * sigma * sqrt(1/n + (1/nGood + 1/nBad) / 4) (the step's own error and the midpoint's):
 *   good when m + margin < c, bad when m - margin > c, else `unsure` (the caller boots it more,
 *   up to a bound, then skips it). With sigma 0 the figures are exact and the side decides.
 */

export interface MetricSides {
  good: readonly number[];
  bad: readonly number[];
}

export interface MetricClassification {
  verdict: 'good' | 'bad' | 'unsure';
  /** Where the step lies: 0 at the good endpoint, 1 at the bad one (log scale). */
  position: number;
  why: string;
}

const logMean = (xs: readonly number[]) => xs.reduce((s, x) => s + Math.log(x), 0) / xs.length;

function logSumSq(xs: readonly number[]): number {
  const m = logMean(xs);
  return xs.reduce((s, x) => s + (Math.log(x) - m) ** 2, 0);
}

function positive(xs: readonly number[], what: string): void {
  if (xs.length === 0) throw new RangeError(`${what}: no measurement`);
  for (const x of xs) if (!(x > 0) || !Number.isFinite(x)) throw new RangeError(`${what}: ${x} is not a positive figure (a metric is bisected on the log scale)`);
}

/** Throws a UsageError when the endpoints do not differ enough to bisect, saying by how much they do. */
export function endpointsDiffer(sides: MetricSides, metric: string, minEffect: number, alpha: number): void {
  positive(sides.good, 'good endpoint');
  positive(sides.bad, 'bad endpoint');
  if (sides.good.length < 2 || sides.bad.length < 2) throw new RangeError('each endpoint needs at least two boots');
  const t = welchLogTest(sides.good, sides.bad, 0);
  const change = `${((t.ratio - 1) * 100).toFixed(1)}% (p=${t.p.toPrecision(2)})`;
  if (t.p >= alpha || Math.abs(t.ratio - 1) < minEffect) {
    throw new UsageError(
      `${metric} does not differ between the good and bad commits: bad/good ${change}, needs p < ${alpha} and a change of at least ${(minEffect * 100).toFixed(1)}%`,
      'check --good, --bad and --metric, or measure more boots of the endpoints (--boots)',
    );
  }
}

export function classifyStep(sides: MetricSides, step: readonly number[]): MetricClassification {
  positive(step, 'step');
  const g = logMean(sides.good);
  const b = logMean(sides.bad);
  const m = logMean(step);
  const position = (m - g) / (b - g);
  const df = sides.good.length + sides.bad.length + step.length - 3;
  const sigma = Math.sqrt((logSumSq(sides.good) + logSumSq(sides.bad) + logSumSq(step)) / Math.max(df, 1));
  const margin = tCritical95(df) * sigma * Math.sqrt(1 / step.length + (1 / sides.good.length + 1 / sides.bad.length) / 4);
  const c = (g + b) / 2;
  // Which side of the midpoint is bad: the regression may lower the figure (throughput).
  const towardBad = Math.sign(b - g);
  const lo = (m - margin - c) * towardBad;
  const hi = (m + margin - c) * towardBad;
  const pos = `at ${(position * 100).toFixed(0)}% of the way from good to bad`;
  const of = `${step.length} boot(s), 95% margin ±${(margin / Math.abs(b - g) * 100).toFixed(0)}% of the gap`;
  if (hi < 0) return { verdict: 'good', position, why: `${pos} (${of}): closer to good` };
  if (lo > 0) return { verdict: 'bad', position, why: `${pos} (${of}): closer to bad` };
  return { verdict: 'unsure', position, why: `${pos} (${of}): too near the midpoint to tell` };
}
