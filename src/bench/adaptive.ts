/**
 * Adaptive boots for A/B comparisons: after the first pairs, while some metric is still undecided
 * (`noisy`: its CI neither lies within ±minEffect nor shows a significant change beyond it), more
 * pairs are measured and every metric is tested again, up to a maximum.
 *
 * Testing again and again, and stopping once things look decided, gives noise more chances to
 * cross the line: with plain alpha at every look the false alarm rate grows with the looks. The
 * guard is Bonferroni over the looks PLANNED before anything is measured: one after the first
 * pairs, then one after every batch of `step` pairs up to the maximum, K = 1 + ceil((max - first)
 * / step) in all. Every look tests at alpha / K. Whichever look stops, a false alarm reported at
 * it is a false alarm at some look, so its probability is at most the sum over looks, K * alpha /
 * K = alpha, whatever the stopping rule. (Bonferroni over the looks actually made would not do:
 * stopping at look k with alpha / k lets the chances add up to alpha (1 + 1/2 + ... + 1/k).)
 * Benjamini–Hochberg across metrics applies within each look, at that level.
 *
 * Pure decisions only: the loop that measures lives in src/cli/compare-ab.ts.
 */

import type { BenchClock } from './clock.js';
import type { MetricComparison } from './model.js';

/** Pairs added per look: two keeps the order alternating AB, BA within every batch. */
export const ADAPTIVE_STEP = 2;

export interface LookPlan {
  /** Pairs before the first look. */
  first: number;
  /** The most pairs. */
  max: number;
  /** Pairs added per further look. */
  step: number;
  /** Looks planned: the first, and one per batch of `step` pairs up to `max`. */
  looks: number;
  /** The level every look's tests are held to: alpha / looks. */
  alphaPerLook: number;
}

export function planLooks(first: number, max: number, alpha: number, step = ADAPTIVE_STEP): LookPlan {
  if (!(Number.isInteger(first) && first >= 1)) throw new RangeError(`first must be a whole number of pairs, got ${first}`);
  if (!(Number.isInteger(step) && step >= 1)) throw new RangeError(`step must be a whole number of pairs, got ${step}`);
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`alpha must be in (0, 1), got ${alpha}`);
  const top = Math.max(first, max);
  const looks = 1 + Math.ceil((top - first) / step);
  return { first, max: top, step, looks, alphaPerLook: alpha / looks };
}

/**
 * Metrics more pairs could still decide: tested (they have a ratio) and `noisy`. A metric whose
 * values cannot form a ratio is `noisy` too but has no ratio: more of the same will not help.
 */
export function undecided(metrics: readonly MetricComparison[], clock?: BenchClock): string[] {
  // In instruction mode the host-timed metrics (real time, noisy by nature) never hold the run open:
  // only figures on the run's own clock decide whether more pairs are worth it.
  return metrics.filter((m) => m.verdict === 'noisy' && m.ratio !== undefined && (clock === undefined || (m.clock ?? 'time') === clock)).map((m) => m.name);
}

/**
 * How many pairs to add before the next look: 0 to stop (nothing undecided, the planned looks
 * spent, or the maximum reached). `looksMade` counts the looks already taken, the first included.
 */
export function nextBatch(plan: LookPlan, pairsUsed: number, looksMade: number, metrics: readonly MetricComparison[], clock?: BenchClock): number {
  if (looksMade >= plan.looks || pairsUsed >= plan.max) return 0;
  if (undecided(metrics, clock).length === 0) return 0;
  return Math.min(plan.step, plan.max - pairsUsed);
}

/** The rule in words, for Comparison.settings.stopping. */
export function describeStopping(plan: LookPlan): string {
  if (plan.looks === 1) return `fixed: ${plan.first} pairs, one look`;
  const perLook = Number(plan.alphaPerLook.toPrecision(3));
  return (
    `adaptive: after ${plan.first} pairs, ${plan.step} more while a metric is noisy, up to ${plan.max}; ` +
    `Bonferroni over ${plan.looks} planned looks (each tested at alpha/${plan.looks} = ${perLook})`
  );
}
