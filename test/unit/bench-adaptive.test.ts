import { describe, expect, it } from 'vitest';
import { ADAPTIVE_STEP, describeStopping, nextBatch, planLooks, undecided, type LookPlan } from '../../src/bench/adaptive.js';
import type { MetricComparison, MetricDef } from '../../src/bench/model.js';
import { compareMetrics, type VerdictSettings } from '../../src/bench/verdict.js';
import { mulberry32 } from '../../src/core/seeded-random.js';

const def = (i: number): MetricDef => ({ name: `bench/m${i}`, unit: 'ns', better: 'lower' });
const metric = (name: string, verdict: MetricComparison['verdict'], ratio?: number): MetricComparison => ({
  name, unit: 'ns', better: 'lower', verdict, why: '', head: { mean: 1, p50: 1, p75: 1, p99: 1, sd: 0, sem: 0, moe: 0, rme: 0, min: 1, max: 1, samples: [1] },
  ...(ratio !== undefined ? { ratio } : {}),
});

describe('planLooks', () => {
  it('plans one look after the first pairs and one per batch up to the maximum', () => {
    expect(ADAPTIVE_STEP).toBe(2);
    expect(planLooks(8, 20, 0.05)).toEqual({ first: 8, max: 20, step: 2, looks: 7, alphaPerLook: 0.05 / 7 });
    expect(planLooks(8, 9, 0.05).looks).toBe(2); // one last batch of a single pair
    expect(planLooks(3, 20, 0.05).looks).toBe(10);
  });

  it('is one plain look when the maximum is not above the first pairs', () => {
    expect(planLooks(8, 8, 0.05)).toMatchObject({ looks: 1, alphaPerLook: 0.05, max: 8 });
    expect(planLooks(30, 20, 0.05)).toMatchObject({ looks: 1, alphaPerLook: 0.05, max: 30 });
  });

  it('rejects nonsense', () => {
    expect(() => planLooks(0, 20, 0.05)).toThrow(/first/);
    expect(() => planLooks(8, 20, 0)).toThrow(/alpha/);
    expect(() => planLooks(8, 20, 0.05, 0)).toThrow(/step/);
  });

  it('says the rule in words', () => {
    expect(describeStopping(planLooks(8, 20, 0.05))).toBe(
      'adaptive: after 8 pairs, 2 more while a metric is noisy, up to 20; Bonferroni over 7 planned looks (each tested at alpha/7 = 0.00714)',
    );
    expect(describeStopping(planLooks(8, 8, 0.05))).toBe('fixed: 8 pairs, one look');
  });
});

describe('undecided / nextBatch', () => {
  const plan = planLooks(8, 20, 0.05);
  const decided = [metric('a', 'unchanged', 1), metric('b', 'regressed', 1.2), metric('c', 'no-baseline')];

  it('a noisy metric with a ratio is undecided; one whose values form no ratio is not', () => {
    expect(undecided([...decided, metric('d', 'noisy', 1.1), metric('e', 'noisy')])).toEqual(['d']);
  });

  it('adds a batch while something is undecided, until the looks or the pairs run out', () => {
    const open = [...decided, metric('d', 'noisy', 1.1)];
    expect(nextBatch(plan, 8, 1, decided)).toBe(0);
    expect(nextBatch(plan, 8, 1, open)).toBe(2);
    expect(nextBatch(plan, 19, 6, open)).toBe(1);
    expect(nextBatch(plan, 20, 7, open)).toBe(0);
    expect(nextBatch(plan, 14, 7, open)).toBe(0); // looks spent (pairs lost to failures do not buy more)
    expect(nextBatch(planLooks(8, 8, 0.05), 8, 1, open)).toBe(0);
  });

  it('in instruction mode, only instruction counts hold the run open: a noisy host-timed metric does not', () => {
    const hostTimed = { ...metric('agent/round-trip', 'noisy', 1.1), clock: 'time' as const };
    const counted = { ...metric('syscall/getppid', 'unchanged', 1), clock: 'instructions' as const };
    expect(undecided([counted, hostTimed], 'instructions')).toEqual([]);
    expect(nextBatch(plan, 8, 1, [counted, hostTimed], 'instructions')).toBe(0);
    expect(nextBatch(plan, 8, 1, [counted, { ...counted, verdict: 'noisy' as const }], 'instructions')).toBe(2);
    expect(undecided([counted, hostTimed], 'time')).toEqual(['agent/round-trip']);
  });
});

/** Normal deviates from a seeded generator (Box–Muller). */
const normal = (random: () => number) => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());

/**
 * What compare-ab's loop does, on simulated pairs: `changes[i]` is metric i's true B/A ratio.
 * Returns the final verdicts and the pairs used.
 */
function simulate(seed: number, changes: readonly number[], noise: number, plan: LookPlan, settings: VerdictSettings, alphaPerLook: number) {
  const random = mulberry32(seed);
  const a: number[][] = changes.map(() => []);
  const b: number[][] = changes.map(() => []);
  const measure = (n: number) => {
    for (let k = 0; k < n; k++) {
      changes.forEach((change, i) => {
        a[i]!.push(1000 * Math.exp(noise * normal(random)));
        b[i]!.push(1000 * change * Math.exp(noise * normal(random)));
      });
    }
  };
  const look = () => compareMetrics(changes.map((_, i) => ({ def: def(i), base: a[i]!, head: b[i]!, paired: true })), { ...settings, alpha: alphaPerLook });
  measure(plan.first);
  let pairs = plan.first;
  let looks = 1;
  let metrics = look();
  for (let add = nextBatch(plan, pairs, looks, metrics); add > 0; add = nextBatch(plan, pairs, looks, metrics)) {
    measure(add);
    pairs += add;
    looks++;
    metrics = look();
  }
  return { metrics, pairs, looks };
}

describe('adaptive stopping', () => {
  it('Bonferroni over the planned looks holds false alarms to alpha; plain alpha at every look does not', () => {
    // One unchanged metric, no minimum effect: only the test stands between noise and a flag, and
    // every look that does not flag it looks again, the worst case for optional stopping.
    const plan = planLooks(8, 20, 0.05);
    const settings = { minEffect: 0, alpha: 0.05 };
    const runs = 400;
    let guarded = 0;
    let naive = 0;
    for (let seed = 1; seed <= runs; seed++) {
      const flagged = (r: ReturnType<typeof simulate>) => r.metrics[0]!.verdict === 'regressed' || r.metrics[0]!.verdict === 'improved';
      if (flagged(simulate(seed, [1], 0.05, plan, settings, plan.alphaPerLook))) guarded++;
      if (flagged(simulate(seed, [1], 0.05, plan, settings, settings.alpha))) naive++;
    }
    console.info(`A/A with up to ${plan.looks} looks: ${guarded}/${runs} false alarms at alpha/looks, ${naive}/${runs} at plain alpha`);
    expect(guarded / runs).toBeLessThan(0.05);
    expect(naive / runs).toBeGreaterThan(0.08);
  });

  it('decides more metrics than a fixed run, with few false alarms', () => {
    // Ten metrics, noise as large as the minimum effect; three truly changed by 15%.
    const changes = [1, 1, 1, 1, 1, 1, 1, 1.15, 1.15, 1.15];
    const settings = { minEffect: 0.05, alpha: 0.05 };
    const adaptive = planLooks(8, 20, settings.alpha);
    const fixed = planLooks(8, 8, settings.alpha);
    const tally = { adaptiveNoisy: 0, fixedNoisy: 0, falseAlarms: 0, found: 0, pairs: 0 };
    const runs = 60;
    for (let seed = 1; seed <= runs; seed++) {
      const a = simulate(seed, changes, 0.05, adaptive, settings, adaptive.alphaPerLook);
      const f = simulate(seed, changes, 0.05, fixed, settings, fixed.alphaPerLook);
      tally.adaptiveNoisy += a.metrics.filter((m) => m.verdict === 'noisy').length;
      tally.fixedNoisy += f.metrics.filter((m) => m.verdict === 'noisy').length;
      tally.falseAlarms += a.metrics.filter((m, i) => changes[i] === 1 && (m.verdict === 'regressed' || m.verdict === 'improved')).length;
      tally.found += a.metrics.filter((m, i) => changes[i] !== 1 && m.verdict === 'regressed').length;
      tally.pairs += a.pairs;
    }
    console.info(`adaptive: ${tally.adaptiveNoisy} noisy vs ${tally.fixedNoisy} with 8 fixed pairs; ${tally.found}/${runs * 3} changes found, ${tally.falseAlarms}/${runs * 7} false alarms, ${(tally.pairs / runs).toFixed(1)} pairs on average`);
    expect(tally.adaptiveNoisy).toBeLessThan(tally.fixedNoisy / 2);
    expect(tally.falseAlarms / (runs * 7)).toBeLessThan(0.02);
    expect(tally.found / (runs * 3)).toBeGreaterThan(0.8);
  });
});
