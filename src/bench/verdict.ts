/**
 * Verdicts for benchmark metrics: head (or kernel B) against base (or kernel A).
 *
 * Each side is one value per independent boot. The test is Welch's t-test on the logs of those
 * values (or, for A/B runs measured pair by pair, a paired t-test on the log ratios); ratio is
 * head / base (geometric means) and its 95% CI comes from the same test. Rules, in order:
 *
 * 1. `no-baseline`: base is missing or has fewer than 2 values, or head has fewer than 2.
 * 2. p-values of all metrics compared together are corrected with Benjamini–Hochberg (q).
 * 3. `regressed` / `improved`: q < alpha AND the change is at least the minimum effect,
 *    |ratio - 1| >= minEffect. Direction-aware: for `better: 'lower'` (time, latency) a ratio
 *    above 1 is a regression; for `better: 'higher'` (throughput) a ratio below 1 is.
 * 4. `unchanged`: the whole 95% CI of the ratio lies within [1 - minEffect, 1 + minEffect]:
 *    any change is shown to be smaller than the minimum effect (this includes significant
 *    changes too small to matter).
 * 5. `noisy`: anything else: not enough evidence either way (more boots would tell). Its `why`
 *    says the smallest change this run could have seen (`detectable`, set for every tested metric:
 *    see detectable.ts), at the level BH holds a lone change among m metrics to: alpha / m.
 * A `regressed` or `improved` is kept only when an independent re-measurement agrees
 * (applyRemeasurement); otherwise it becomes `noisy`.
 * Values that are not positive cannot be compared as ratios: such a metric is `noisy`, saying why.
 * Defaults: minEffect 5%, alpha 0.05.
 */

import { DEFAULT_BENCH } from '../config/define-config.js';
import { couldSee, detectableChange } from './detectable.js';
import { benjaminiHochberg } from './multiple-comparisons.js';
import type { MetricComparison, MetricDef, Stats, Verdict } from './model.js';
import { pairedLogTest, welchLogTest, PAIRED_LOG_TEST, TRIM, WELCH_LOG_TEST, type TestResult } from './significance.js';
import type { BenchClock } from './clock.js';
import { summarize } from './stats.js';

/** The config's defaults (bench.minEffect, bench.alpha). */
export const DEFAULT_MIN_EFFECT = DEFAULT_BENCH.minEffect;
export const DEFAULT_MIN_EFFECT_INSTRUCTIONS = DEFAULT_BENCH.minEffectInstructions;
export const DEFAULT_ALPHA = DEFAULT_BENCH.alpha;

/** The name recorded in Comparison.settings.test. */
export function testName(paired: boolean, clock?: BenchClock): string {
  const name = paired ? PAIRED_LOG_TEST : WELCH_LOG_TEST;
  return clock === 'instructions' ? `${name} for real time; untrimmed (Student's t) for instruction counts` : name;
}

export interface VerdictSettings {
  /** Smallest relative change that counts in real time, e.g. 0.05 for 5%. */
  minEffect: number;
  /** The same for instruction counts (metrics whose `clock` is `instructions`); minEffect when absent. */
  minEffectInstructions?: number;
  /** FDR level the BH q-values are held to. */
  alpha: number;
}

export interface MetricInput {
  def: MetricDef;
  /** Per-boot values of the base (or kernel A); absent with no history. */
  base?: readonly number[];
  head: readonly number[];
  /** base[i] and head[i] were measured back to back (A/B interleaved). */
  paired?: boolean;
}

const signedPct = (ratio: number) => {
  const v = (ratio - 1) * 100;
  return `${v >= 0 ? '+' : ''}${v.toFixed(1)}%`;
};
const pctNum = (ratio: number) => {
  const v = (ratio - 1) * 100;
  return `${v >= 0 ? '+' : ''}${v.toFixed(1)}`;
};
export const formatQ = (q: number) => (q < 0.001 ? 'q<0.001' : `q=${q.toFixed(3)}`);
const bound = (minEffect: number) => `±${+(minEffect * 100).toFixed(2)}%`;

/** "+12.3% (95% CI +8.1..+16.0%), q=0.002" */
export function describeChange(ratio: number, ci: readonly [number, number], q: number): string {
  const hi = Number.isFinite(ci[1]) ? `${pctNum(ci[1])}%` : '∞';
  return `${signedPct(ratio)} (95% CI ${pctNum(ci[0])}..${hi}), ${formatQ(q)}`;
}

/** Whether the ratio is a change for the worse, given the direction that is better. */
export function isWorse(def: MetricDef, ratio: number): boolean {
  return def.better === 'lower' ? ratio > 1 : ratio < 1;
}

/** The minimum effect for one metric: instruction counts have their own. */
export function minEffectFor(def: MetricDef, s: VerdictSettings): number {
  return def.clock === 'instructions' ? (s.minEffectInstructions ?? s.minEffect) : s.minEffect;
}

function validateSettings(s: VerdictSettings): void {
  if (!(s.minEffect >= 0 && s.minEffect < 1)) throw new RangeError(`minEffect must be in [0, 1), got ${s.minEffect}`);
  const mi = s.minEffectInstructions;
  if (mi !== undefined && !(mi >= 0 && mi < 1)) throw new RangeError(`minEffectInstructions must be in [0, 1), got ${mi}`);
  if (!(s.alpha > 0 && s.alpha < 1)) throw new RangeError(`alpha must be in (0, 1), got ${s.alpha}`);
}

type Tested = { kind: 'tested'; test: TestResult } | { kind: 'no-baseline' | 'invalid'; why: string };

function runTest(input: MetricInput): Tested {
  const { base, head } = input;
  if (!base || base.length === 0) return { kind: 'no-baseline', why: 'no baseline' };
  if (base.length < 2) return { kind: 'no-baseline', why: `baseline has ${base.length} value; need values from at least 2 boots` };
  if (head.length < 2) return { kind: 'no-baseline', why: `head has ${head.length} value(s); need values from at least 2 boots` };
  const bad = [...base, ...head].find((v) => !(v > 0) || !Number.isFinite(v));
  if (bad !== undefined) return { kind: 'invalid', why: `cannot compare as a ratio: ${bad} is not a positive number` };
  const trim = trimFor(input.def);
  return { kind: 'tested', test: input.paired ? pairedLogTest(base, head, trim) : welchLogTest(base, head, trim) };
}

/**
 * Trimming guards real time against a boot the host slowed throughout. An instruction count has
 * no such boots (the host cannot add instructions, and each boot's least disturbed sample is
 * read), and what varies between its boots is the kernel's own memory layout: trimming would only
 * throw away degrees of freedom (with 5 pairs, 2 of 4).
 */
export function trimFor(def: MetricDef): number {
  return def.clock === 'instructions' ? 0 : TRIM;
}

/**
 * The verdict for one tested metric, given its BH q-value. `detectable` (see detectable.ts) is
 * stated in the `why` of a `noisy` verdict.
 */
export function decide(
  def: MetricDef,
  test: Pick<TestResult, 'ratio' | 'ci'>,
  q: number,
  all: VerdictSettings,
  detectable?: number,
): { verdict: Verdict; why: string } {
  const settings = { minEffect: minEffectFor(def, all), alpha: all.alpha };
  const { ratio, ci } = test;
  const change = describeChange(ratio, ci, q);
  const effect = Math.abs(ratio - 1);
  // A tiny tolerance so that a ratio of exactly 1 + minEffect, computed through logs, still counts.
  const eps = 1e-12;
  if (q < settings.alpha && effect >= settings.minEffect - eps) {
    return { verdict: isWorse(def, ratio) ? 'regressed' : 'improved', why: change };
  }
  const within = ci[0] >= 1 - settings.minEffect - eps && ci[1] <= 1 + settings.minEffect + eps;
  if (within) return { verdict: 'unchanged', why: `${change}: within ${bound(settings.minEffect)}` };
  const reason =
    q < settings.alpha
      ? `significant but under the ${bound(settings.minEffect).slice(1)} minimum effect, and the CI reaches past ${bound(settings.minEffect)}`
      : `not significant and the CI reaches past ${bound(settings.minEffect)}`;
  return { verdict: 'noisy', why: withSensitivity(`${change}: ${reason}`, detectable) };
}

/** A `noisy` verdict's why, with the smallest change the run could have seen when it is known. */
function withSensitivity(why: string, detectable: number | undefined): string {
  return detectable === undefined ? why : `${why}; ${couldSee(detectable)}`;
}

/** Statistics of a side; a head with no values at all (every boot failed) gets zeros. */
function statsOf(values: readonly number[]): Stats {
  if (values.length > 0) return summarize(values);
  return { mean: 0, p50: 0, p75: 0, p99: 0, sd: 0, sem: 0, moe: 0, rme: 0, min: 0, max: 0, samples: [] };
}

/** Compares every metric, corrects their p-values together (BH), then assigns verdicts. */
export function compareMetrics(inputs: readonly MetricInput[], settings: VerdictSettings): MetricComparison[] {
  validateSettings(settings);
  const tested = inputs.map(runTest);
  const pValues: number[] = [];
  for (const t of tested) if (t.kind === 'tested') pValues.push(t.test.p);
  const qValues = benjaminiHochberg(pValues);
  // BH flags a lone change among m metrics only when its p is below alpha / m: the detectable
  // change is stated at that level, so it holds in the common case of one metric that moved.
  const aloneAlpha = settings.alpha / Math.max(1, pValues.length);
  let k = 0;
  return inputs.map((input, i) => {
    const t = tested[i]!;
    const { name, unit, better, clock } = input.def;
    const out: MetricComparison = { name, unit, better, ...(clock ? { clock } : {}), verdict: 'no-baseline', head: statsOf(input.head), why: '' };
    if (input.base && input.base.length > 0) out.base = summarize(input.base);
    if (t.kind !== 'tested') {
      out.verdict = t.kind === 'no-baseline' ? 'no-baseline' : 'noisy';
      out.why = t.why;
      return out;
    }
    const q = qValues[k++]!;
    const detectable = detectableChange(t.test.se, t.test.df, aloneAlpha, minEffectFor(input.def, settings));
    const { verdict, why } = decide(input.def, t.test, q, settings, detectable);
    return { ...out, verdict, why, ratio: t.test.ratio, ci: t.test.ci, p: t.test.p, q, detectable };
  });
}

/** One metric on its own (its q equals its p: nothing else to correct for). */
export function compareMetric(input: MetricInput, settings: VerdictSettings): MetricComparison {
  return compareMetrics([input], settings)[0]!;
}

/**
 * Keeps a `regressed` or `improved` only if the independent re-measurement (`second`, matched by
 * metric name) shows a change of at least minEffect in the same direction with q < alpha;
 * otherwise the metric becomes `noisy`. Other verdicts pass through as they are.
 */
export function applyRemeasurement(
  first: readonly MetricComparison[],
  second: readonly MetricComparison[],
  settings: VerdictSettings,
): MetricComparison[] {
  validateSettings(settings);
  const byName = new Map(second.map((m) => [m.name, m]));
  return first.map((m) => {
    if (m.verdict !== 'regressed' && m.verdict !== 'improved') return { ...m };
    const again = byName.get(m.name);
    if (!again || again.ratio === undefined || again.q === undefined || again.ci === undefined) {
      const what = again ? `gave ${again.verdict} (${again.why})` : 'has no value for this metric';
      return { ...m, verdict: 'noisy', why: withSensitivity(`${m.why}; not confirmed: the re-measurement ${what}`, m.detectable) };
    }
    const confirmed = decide(m, { ratio: again.ratio, ci: again.ci }, again.q, settings).verdict === m.verdict;
    const remeasured = { ratio: again.ratio, q: again.q, confirmed };
    const then = describeChange(again.ratio, again.ci, again.q);
    if (confirmed) return { ...m, remeasured, why: `${m.why}; confirmed by re-measurement: ${then}` };
    return { ...m, verdict: 'noisy', remeasured, why: withSensitivity(`${m.why}; not confirmed: re-measurement gave ${then}`, m.detectable) };
  });
}

/**
 * Metrics whose change stands out and must be measured again before it is reported. The
 * re-measurement tests only these, so its Benjamini–Hochberg correction is over these alone.
 */
export function suspected(ms: readonly MetricComparison[]): Set<string> {
  return new Set(ms.filter((m) => m.verdict === 'regressed' || m.verdict === 'improved').map((m) => m.name));
}

/** Suspected changes when re-measuring was turned off: never reported without a second look. */
export function withoutRemeasurement(first: readonly MetricComparison[]): MetricComparison[] {
  return first.map((m) =>
    m.verdict === 'regressed' || m.verdict === 'improved'
      ? {
          ...m,
          verdict: 'noisy',
          why: withSensitivity(`${m.why}; suspected ${m.verdict === 'regressed' ? 'regression' : 'improvement'} not re-measured (--no-remeasure)`, m.detectable),
        }
      : { ...m },
  );
}
