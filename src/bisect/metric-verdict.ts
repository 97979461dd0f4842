import { UsageError } from '../core/errors.js';
import { pairedLogTest, welchLogTest } from '../bench/significance.js';
import { tCritical95 } from '../bench/stats.js';

/**
 * Metric mode's rule: a step is good or bad by which endpoint its measurement is closer to, on the
 * log scale (a ratio scale: 1.3× slower is as far from 1× as 1.69× is from 1.3×), and only when it
 * is confidently on one side of the midpoint between them.
 *
 * - The endpoints are measured first, each on at least two boots; they must differ
 *   (`endpointsDiffer`: the project's Welch test on log per-boot values, or its paired test when
 *   they were booted pair by pair, p < alpha, and a change of at least the minimum effect), else
 *   there is nothing to bisect.
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
 *
 * That rule trusts the endpoints measured once, at the start, to stand for the whole bisection. In
 * instruction mode they do. In time mode they do not: a shared host's load comes and goes in
 * bursts that last several boots and slow everything by as much as the regression (measured: every
 * boot 1.65× slower for a while), so a step measured in a quiet spell looked faster than endpoints
 * measured in a busy one, and a bad commit was called good. Time mode therefore uses
 * `classifyBracketed`: every boot of the step sits between a boot of each endpoint, and the step is
 * judged against those neighbours only, round by round.
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
export function endpointsDiffer(sides: MetricSides, metric: string, minEffect: number, alpha: number, paired = false): void {
  positive(sides.good, 'good endpoint');
  positive(sides.bad, 'bad endpoint');
  if (sides.good.length < 2 || sides.bad.length < 2) throw new RangeError('each endpoint needs at least two boots');
  // Measured pair by pair (real time), good[i] and bad[i] shared the host's load: compare them pair by pair.
  const t = paired && sides.good.length === sides.bad.length ? pairedLogTest(sides.good, sides.bad, 0) : welchLogTest(sides.good, sides.bad, 0);
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
  const df = sides.good.length + sides.bad.length + step.length - 3;
  const sigma = Math.sqrt((logSumSq(sides.good) + logSumSq(sides.bad) + logSumSq(step)) / Math.max(df, 1));
  const margin = tCritical95(df) * sigma * Math.sqrt(1 / step.length + (1 / sides.good.length + 1 / sides.bad.length) / 4);
  return decide(m - (g + b) / 2, margin, b - g, `${step.length} boot(s)`);
}

/** One step measured in rounds: step[i] was booted between good[i] and bad[i] (in either order). */
export interface BracketedRounds {
  good: readonly number[];
  step: readonly number[];
  bad: readonly number[];
}

/**
 * Time mode's rule. Each round gives the step's distance d from the midpoint of the two endpoint
 * boots around it (log scale), so load that lasts a round shifts all three alike and cancels.
 * The mean d is judged with a paired 95% margin t(n-1) * sd(d) / sqrt(n): at least two rounds.
 * The regression's direction comes from the endpoints measured at the start (`sides`); rounds in
 * which the endpoints do not differ that way on average cannot place the step at all.
 */
export function classifyBracketed(sides: MetricSides, rounds: BracketedRounds): MetricClassification {
  const { good, step, bad } = rounds;
  positive(good, 'good endpoint');
  positive(step, 'step');
  positive(bad, 'bad endpoint');
  if (good.length !== step.length || bad.length !== step.length) throw new RangeError(`rounds of unequal length: ${good.length} good, ${step.length} step, ${bad.length} bad`);
  const n = step.length;
  const d = step.map((s, i) => Math.log(s) - (Math.log(good[i]!) + Math.log(bad[i]!)) / 2);
  const gap = bad.reduce((sum, x, i) => sum + Math.log(x) - Math.log(good[i]!), 0) / n;
  const of = `${n} boot(s) between endpoint boots`;
  const direction = Math.sign(logMean(sides.bad) - logMean(sides.good));
  if (gap * direction <= 0) {
    return { verdict: 'unsure', position: NaN, why: `${of}: the endpoints booted alongside did not differ the way the regression goes (bad/good ${(Math.exp(gap) * 100 - 100).toFixed(1)}%), so nothing places the step` };
  }
  const meanD = d.reduce((a, x) => a + x, 0) / n;
  const sd = n > 1 ? Math.sqrt(d.reduce((a, x) => a + (x - meanD) ** 2, 0) / (n - 1)) : NaN;
  // One round has no spread to judge by: its margin is unknown, so it cannot decide.
  const margin = n > 1 ? tCritical95(n - 1) * sd / Math.sqrt(n) : Infinity;
  return decide(meanD, margin, gap, of);
}

/**
 * The verdict from the step's offset from the midpoint (log scale), its 95% margin, and the
 * bad-minus-good gap it is measured against: confidently on one side, or unsure.
 */
function decide(offset: number, margin: number, gap: number, of: string): MetricClassification {
  const position = 0.5 + offset / gap;
  // Which side of the midpoint is bad: the regression may lower the figure (throughput).
  const towardBad = Math.sign(gap);
  const lo = (offset - margin) * towardBad;
  const hi = (offset + margin) * towardBad;
  const pos = `at ${(position * 100).toFixed(0)}% of the way from good to bad`;
  const margins = Number.isFinite(margin) ? `95% margin ±${(margin / Math.abs(gap) * 100).toFixed(0)}% of the gap` : 'no margin yet';
  const why = (verdict: string) => `${pos} (${of}, ${margins}): ${verdict}`;
  if (hi < 0) return { verdict: 'good', position, why: why('closer to good') };
  if (lo > 0) return { verdict: 'bad', position, why: why('closer to bad') };
  return { verdict: 'unsure', position, why: why('too near the midpoint to tell') };
}
