import { describe, expect, it } from 'vitest';
import type { MetricComparison, MetricDef } from '../../src/bench/model.js';
import {
  applyRemeasurement,
  suspected,
  withoutRemeasurement,
  compareMetric,
  compareMetrics,
  DEFAULT_ALPHA,
  DEFAULT_MIN_EFFECT,
  testName,
  trimFor,
  type MetricInput,
} from '../../src/bench/verdict.js';
import { PAIRED_LOG_TEST, WELCH_LOG_TEST } from '../../src/bench/significance.js';
import { DEFAULT_BENCH } from '../../src/config/define-config.js';
import { mulberry32 } from '../../src/core/seeded-random.js';

const settings = { minEffect: DEFAULT_MIN_EFFECT, alpha: DEFAULT_ALPHA };
/** tsuite bench's default number of boots. */
const BOOTS = DEFAULT_BENCH.boots;
const lower: MetricDef = { name: 'syscall/getppid', unit: 'ns', better: 'lower' };
const higher: MetricDef = { name: 'net/throughput', unit: 'MB/s', better: 'higher' };

/** `n` per-boot values around `center` with multiplicative (log-normal) noise of `noise`. */
function boots(random: () => number, n: number, center: number, noise: number): number[] {
  return Array.from({ length: n }, () => {
    const u = 1 - random();
    const v = random();
    const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    return center * Math.exp(noise * z);
  });
}

const metric = (i: number): MetricDef => ({ name: `bench/m${i}`, unit: 'ns', better: i % 2 ? 'higher' : 'lower' });

describe('verdict rules', () => {
  it('exports its defaults and test names', () => {
    expect(DEFAULT_MIN_EFFECT).toBe(0.05);
    expect(DEFAULT_ALPHA).toBe(0.05);
    expect(testName(false)).toBe(WELCH_LOG_TEST);
    expect(testName(true)).toBe(PAIRED_LOG_TEST);
    expect(WELCH_LOG_TEST).not.toBe(PAIRED_LOG_TEST);
  });

  it('A/A: the same distribution is rarely flagged, and mostly shown unchanged', () => {
    const counts = { flagged: 0, unchanged: 0, total: 0 };
    const noisyCounts = { flagged: 0, total: 0 };
    // The test and BH alone (no minimum effect): the family-wise rate BH holds to alpha.
    const testOnly = { flagged: 0, familiesFlagged: 0 };
    for (let seed = 1; seed <= 200; seed++) {
      const random = mulberry32(seed);
      const inputs: MetricInput[] = Array.from({ length: 15 }, (_, i) => ({
        def: metric(i),
        base: boots(random, BOOTS, 1000 * (i + 1), 0.02),
        head: boots(random, BOOTS, 1000 * (i + 1), 0.02),
      }));
      const flaggedByTest = compareMetrics(inputs, { minEffect: 0, alpha: settings.alpha }).filter((m) => m.verdict === 'regressed' || m.verdict === 'improved').length;
      testOnly.flagged += flaggedByTest;
      if (flaggedByTest > 0) testOnly.familiesFlagged++;
      for (const m of compareMetrics(inputs, settings)) {
        counts.total++;
        if (m.verdict === 'regressed' || m.verdict === 'improved') counts.flagged++;
        if (m.verdict === 'unchanged') counts.unchanged++;
      }
      // Noise as large as the minimum effect: the test, not the effect threshold, must hold the line.
      const noisy: MetricInput[] = Array.from({ length: 15 }, (_, i) => ({
        def: metric(i),
        base: boots(random, BOOTS, 500, 0.05),
        head: boots(random, BOOTS, 500, 0.05),
      }));
      for (const m of compareMetrics(noisy, settings)) {
        noisyCounts.total++;
        if (m.verdict === 'regressed' || m.verdict === 'improved') noisyCounts.flagged++;
      }
    }
    const rate = counts.flagged / counts.total;
    const noisyRate = noisyCounts.flagged / noisyCounts.total;
    console.info(
      `A/A false alarms: ${counts.flagged}/${counts.total} (${(rate * 100).toFixed(2)}%) at 2% noise; ` +
        `${noisyCounts.flagged}/${noisyCounts.total} (${(noisyRate * 100).toFixed(2)}%) at 5% noise; ` +
        `unchanged ${((counts.unchanged / counts.total) * 100).toFixed(1)}% at 2% noise; ` +
        `test+BH alone (minEffect 0): ${testOnly.flagged}/${counts.total} comparisons, ${testOnly.familiesFlagged}/200 runs with any flag`,
    );
    expect(counts.total).toBe(3000);
    expect(rate).toBeLessThan(0.005);
    expect(noisyRate).toBeLessThan(0.01);
    // BH keeps the chance of any false discovery in an all-null family near alpha (binomial slack on 200 runs).
    expect(testOnly.familiesFlagged / 200).toBeLessThan(0.1);
    // With 2% noise and 8 boots the 95% CI is about ±3%: equivalence within ±5% is usually shown.
    expect(counts.unchanged / counts.total).toBeGreaterThan(0.8);
  });

  it('flags a 15% slowdown with 2% per-boot noise over 8 boots as regressed, even with one slow boot a side', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const random = mulberry32(seed);
      const inputs: MetricInput[] = Array.from({ length: 15 }, (_, i) => ({
        def: metric(i),
        base: boots(random, BOOTS, 1000, 0.02),
        head: boots(random, BOOTS, i === 4 ? 1150 : 1000, 0.02),
      }));
      // A busy host made one boot of each side 1.7x slow throughout: trimming keeps it from swamping the test.
      inputs[4]!.base = inputs[4]!.base!.map((v, j) => (j === seed % BOOTS ? v * 1.7 : v));
      inputs[4]!.head = inputs[4]!.head.map((v, j) => (j === (seed + 3) % BOOTS ? v * 1.7 : v));
      const out = compareMetrics(inputs, settings);
      expect(out[4]!.verdict, `seed ${seed}: ${out[4]!.why}`).toBe('regressed');
      expect(out[4]!.ratio).toBeGreaterThan(1.1);
      expect(out[4]!.why).toMatch(/^\+1\d\.\d% \(95% CI \+\d+\.\d\.\.\+\d+\.\d%\), q[=<]0\.\d{3}/);
    }
  });

  it('is direction-aware', () => {
    const random = mulberry32(5);
    const base = boots(random, 5, 1000, 0.02);
    const up = base.map((v) => v * 1.2);
    const down = base.map((v) => v * 0.8);
    expect(compareMetric({ def: lower, base, head: up }, settings).verdict).toBe('regressed');
    expect(compareMetric({ def: lower, base, head: down }, settings).verdict).toBe('improved');
    expect(compareMetric({ def: higher, base, head: up }, settings).verdict).toBe('improved');
    expect(compareMetric({ def: higher, base, head: down }, settings).verdict).toBe('regressed');
  });

  it('needs both a significant test and the minimum effect', () => {
    // A clear 2% change, far beyond noise: significant but too small to matter.
    const base = [1000, 1001, 999, 1000.5, 999.5];
    const small = compareMetric({ def: lower, base, head: base.map((v) => v * 1.02) }, settings);
    expect(small.q!).toBeLessThan(0.001);
    expect(small.verdict).toBe('unchanged');
    expect(small.why).toMatch(/within ±5%/);
    // The same 2% with a 1% minimum effect is a regression.
    expect(compareMetric({ def: lower, base, head: base.map((v) => v * 1.02) }, { minEffect: 0.01, alpha: 0.05 }).verdict).toBe('regressed');
  });

  it('calls a large but uncertain change noisy', () => {
    const base = [800, 1200, 1000];
    const head = [900, 1500, 1250];
    const m = compareMetric({ def: lower, base, head }, settings);
    expect(m.ratio!).toBeGreaterThan(1.05);
    expect(m.q!).toBeGreaterThan(0.05);
    expect(m.verdict).toBe('noisy');
    expect(m.why).toMatch(/not significant/);
  });

  it('says no-baseline without base values or with fewer than 2 on a side', () => {
    const head = [1, 2, 3];
    expect(compareMetric({ def: lower, head }, settings)).toMatchObject({ verdict: 'no-baseline', why: 'no baseline' });
    expect(compareMetric({ def: lower, base: [], head }, settings).verdict).toBe('no-baseline');
    const one = compareMetric({ def: lower, base: [2], head }, settings);
    expect(one.verdict).toBe('no-baseline');
    expect(one.base?.mean).toBe(2);
    expect(one.ratio).toBeUndefined();
    expect(compareMetric({ def: lower, base: head, head: [2] }, settings).verdict).toBe('no-baseline');
    expect(compareMetric({ def: lower, base: head, head: [] }, settings)).toMatchObject({ verdict: 'no-baseline', head: { samples: [] } });
  });

  it('reports values that cannot form a ratio instead of throwing', () => {
    const m = compareMetric({ def: lower, base: [0, 1, 2], head: [1, 2, 3] }, settings);
    expect(m.verdict).toBe('noisy');
    expect(m.why).toMatch(/not a positive number/);
  });

  it('uses the paired test when asked', () => {
    // Drift across pairs swamps the unpaired test; each pair shows B 10% slower.
    const a = [1000, 1300, 1600, 1900, 2200];
    const b = a.map((v, i) => v * 1.1 * (1 + (i % 2 ? 0.005 : -0.005)));
    expect(compareMetric({ def: lower, base: a, head: b, paired: true }, settings).verdict).toBe('regressed');
    expect(compareMetric({ def: lower, base: a, head: b }, settings).verdict).toBe('noisy');
  });

  it('Benjamini–Hochberg across metrics changes the outcome', () => {
    // Alone: p around 0.03 and +8%: a regression. Among 14 unchanged metrics, q = p * 15 > 0.05.
    const base = [100, 104, 96, 102, 98];
    const suspect: MetricInput = { def: lower, base, head: [107, 109, 105, 110, 106] };
    const alone = compareMetric(suspect, settings);
    expect(alone.p!).toBeLessThan(0.05);
    expect(alone.p! * 15).toBeGreaterThan(0.05);
    expect(alone.q).toBe(alone.p);
    expect(alone.verdict).toBe('regressed');

    const random = mulberry32(99);
    const others: MetricInput[] = Array.from({ length: 14 }, (_, i) => {
      const values = boots(random, 5, 1000, 0.01);
      return { def: metric(i + 1), base: values, head: boots(random, 5, 1000, 0.01) };
    });
    const together = compareMetrics([suspect, ...others], settings);
    expect(together[0]!.p).toBe(alone.p);
    expect(together[0]!.q!).toBeGreaterThan(settings.alpha);
    expect(together[0]!.verdict).toBe('noisy');
    // q-values are in input order and never below p.
    for (const m of together) expect(m.q!).toBeGreaterThanOrEqual(m.p!);
  });

  it('rejects settings out of range', () => {
    expect(() => compareMetrics([], { minEffect: -1, alpha: 0.05 })).toThrow(/minEffect/);
    expect(() => compareMetrics([], { minEffect: 0.05, alpha: 0 })).toThrow(/alpha/);
  });
});

describe('applyRemeasurement', () => {
  const random = mulberry32(21);
  const base = boots(random, 5, 1000, 0.02);
  const slow = base.map((v) => v * 1.2);
  const first = compareMetrics(
    [
      { def: lower, base, head: slow },
      { def: higher, base, head: slow },
      { def: { ...lower, name: 'steady' }, base, head: base },
    ],
    settings,
  );

  it('keeps a change the re-measurement confirms', () => {
    expect(first.map((m) => m.verdict)).toEqual(['regressed', 'improved', 'unchanged']);
    const again = compareMetrics(
      [
        { def: lower, base, head: boots(random, 5, 1190, 0.02) },
        { def: higher, base, head: boots(random, 5, 1210, 0.02) },
        { def: { ...lower, name: 'steady' }, base, head: base },
      ],
      settings,
    );
    const out = applyRemeasurement(first, again, settings);
    expect(out.map((m) => m.verdict)).toEqual(['regressed', 'improved', 'unchanged']);
    expect(out[0]!.remeasured).toEqual({ ratio: again[0]!.ratio, q: again[0]!.q, confirmed: true });
    expect(out[0]!.why).toMatch(/confirmed by re-measurement/);
    expect(out[2]!.remeasured).toBeUndefined();
  });

  it('demotes an unconfirmed change to noisy, saying why', () => {
    const again = compareMetrics(
      [
        { def: lower, base, head: boots(random, 5, 1000, 0.02) },
        // Re-measured, the throughput change reverses.
        { def: higher, base, head: base.map((v) => v * 0.8) },
      ],
      settings,
    );
    const out = applyRemeasurement(first, again, settings);
    expect(out[0]!.verdict).toBe('noisy');
    expect(out[0]!.remeasured?.confirmed).toBe(false);
    expect(out[0]!.why).toMatch(/not confirmed: re-measurement gave/);
    expect(out[1]!.verdict).toBe('noisy');
    expect(out[2]!.verdict).toBe('unchanged');
  });

  it('demotes a change that could not be re-measured', () => {
    const out: MetricComparison[] = applyRemeasurement(first, [], settings);
    expect(out.map((m) => m.verdict)).toEqual(['noisy', 'noisy', 'unchanged']);
    expect(out[0]!.why).toMatch(/has no value for this metric/);
    expect(out[0]!.remeasured).toBeUndefined();
    // The input is not modified.
    expect(first[0]!.verdict).toBe('regressed');
  });

  it('names the suspected metrics, and without a re-measurement reports none of them as a change', () => {
    expect([...suspected(first)]).toEqual([lower.name, higher.name]);
    const out = withoutRemeasurement(first);
    expect(out.map((m) => m.verdict)).toEqual(['noisy', 'noisy', 'unchanged']);
    expect(out[0]!.why).toMatch(/suspected regression not re-measured/);
    expect(out[1]!.why).toMatch(/suspected improvement not re-measured/);
  });
});

describe('instruction counts', () => {
  it('are tested untrimmed (their boots vary by layout, not by host load), so five pairs keep four degrees of freedom', () => {
    expect(trimFor({ name: 'x', unit: 'ns', better: 'lower', clock: 'instructions' })).toBe(0);
    expect(trimFor({ name: 'x', unit: 'ns', better: 'lower', clock: 'time' })).toBe(0.2);
    expect(trimFor({ name: 'x', unit: 'ns', better: 'lower' })).toBe(0.2);
    // Five A/A pairs of fork+exec+wait as counted on this machine (virtual us).
    const a = [606.96, 606.03, 608.6, 606.8, 606.76];
    const b = [607.35, 607.0, 608.49, 607.67, 608.37];
    const settings = { minEffect: 0.05, minEffectInstructions: 0.015, alpha: 0.05 };
    const counted = compareMetric({ def: { name: 'process/fork-exec-wait', unit: 'us', better: 'lower', clock: 'instructions' }, base: a, head: b, paired: true }, settings);
    expect(counted.verdict).toBe('unchanged');
    expect(counted.ci![1] - counted.ci![0]).toBeLessThan(0.01);
    // The same numbers as real time get the trimmed test, whose interval is wider, and a 5% bar.
    const timed = compareMetric({ def: { name: 'process/fork-exec-wait', unit: 'us', better: 'lower', clock: 'time' }, base: a, head: b, paired: true }, settings);
    expect(timed.ci![1] - timed.ci![0]).toBeGreaterThan(counted.ci![1] - counted.ci![0]);
    expect(testName(true, 'instructions')).toContain("untrimmed (Student's t) for instruction counts");
  });
});
