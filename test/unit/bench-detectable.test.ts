import tQuantile from '@stdlib/stats-base-dists-t-quantile';
import { describe, expect, it } from 'vitest';
import { couldSee, DETECTION_POWER, detectableChange, formatDetectable } from '../../src/bench/detectable.js';
import type { MetricDef } from '../../src/bench/model.js';
import { pairedLogTest } from '../../src/bench/significance.js';
import { applyRemeasurement, compareMetric, compareMetrics, withoutRemeasurement, type MetricInput } from '../../src/bench/verdict.js';
import { mulberry32 } from '../../src/core/seeded-random.js';

const settings = { minEffect: 0.05, alpha: 0.05 };
const lower: MetricDef = { name: 'syscall/getppid', unit: 'ns', better: 'lower' };

/** Standard normal deviates from a seeded generator (Box–Muller). */
function normal(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/** `n` pairs: A around 1000, B `change` times A, each boot with log-normal noise `noise`. */
function pairs(random: () => number, n: number, change: number, noise: number): { a: number[]; b: number[] } {
  const a = Array.from({ length: n }, () => 1000 * Math.exp(noise * normal(random)));
  const b = Array.from({ length: n }, () => 1000 * change * Math.exp(noise * normal(random)));
  return { a, b };
}

describe('detectableChange', () => {
  it('is the classic power formula on the log scale when the noise dominates', () => {
    const se = 0.05;
    const df = 7;
    const expected = Math.exp((tQuantile(0.975, df) + tQuantile(0.95, df)) * se) - 1;
    expect(DETECTION_POWER).toBe(0.95);
    expect(detectableChange(se, df, 0.05, 0.01)).toBeCloseTo(expected, 12);
  });

  it('never falls below the minimum effect, which a change must reach to be reported', () => {
    expect(detectableChange(0, Infinity, 0.05, 0.05)).toBe(0.05);
    const tiny = detectableChange(0.0001, 10, 0.05, 0.05);
    expect(tiny).toBeGreaterThan(0.05);
    expect(tiny).toBeLessThan(0.0505);
  });

  it('grows with the noise and with a stricter level', () => {
    expect(detectableChange(0.1, 7, 0.05, 0.05)).toBeGreaterThan(detectableChange(0.05, 7, 0.05, 0.05));
    expect(detectableChange(0.05, 7, 0.005, 0.05)).toBeGreaterThan(detectableChange(0.05, 7, 0.05, 0.05));
    expect(detectableChange(0.05, 3, 0.05, 0.05)).toBeGreaterThan(detectableChange(0.05, 30, 0.05, 0.05));
  });

  it('is unbounded without an estimate of the noise, and rejects nonsense', () => {
    expect(detectableChange(Infinity, 0, 0.05, 0.05)).toBe(Infinity);
    expect(() => detectableChange(-1, 5, 0.05, 0.05)).toThrow(/se/);
    expect(() => detectableChange(0.1, 5, 0, 0.05)).toThrow(/alpha/);
    expect(() => detectableChange(0.1, 5, 0.05, 1)).toThrow(/minEffect/);
  });

  it('reads as ±N% with three significant digits', () => {
    expect(formatDetectable(0.1234)).toBe('±12.3%');
    expect(formatDetectable(0.05)).toBe('±5%');
    expect(formatDetectable(2.5)).toBe('±250%');
    expect(formatDetectable(1.7e41)).toBe('±>1000%');
    expect(couldSee(1.7e41)).toBe('this run could see changes above ±1000% at best (too few boots for this noise to see any realistic change)');
    expect(formatDetectable(Infinity)).toBe('±∞');
    expect(couldSee(0.1234)).toBe('this run could see changes above ±12.3%');
    expect(couldSee(Infinity)).toMatch(/could not see any change/);
  });
});

describe('detectable in verdicts', () => {
  it('a true +28% change under large noise is noisy, and says it could only see more than 28%', () => {
    const { a, b } = pairs(mulberry32(28), 8, 1.28, 0.35);
    const m = compareMetric({ def: lower, base: a, head: b, paired: true }, settings);
    expect(m.verdict).toBe('noisy');
    expect(m.detectable!).toBeGreaterThan(0.28);
    expect(m.why).toContain(`this run could see changes above ${formatDetectable(m.detectable!)}`);
  });

  it('every noisy verdict of a tested metric says what the run could see', () => {
    const see = /this run could see changes above ±\d/;
    // Significant but under the minimum effect, its CI reaching past it.
    const base = [1000, 1010, 990, 1005, 995, 1002, 998, 1001];
    const small = compareMetric({ def: lower, base, head: base.map((v, i) => v * (1.04 + (i % 2 ? 0.012 : -0.012))), paired: true }, settings);
    expect(small.verdict).toBe('noisy');
    expect(small.why).toMatch(/significant but under/);
    expect(small.why).toMatch(see);
    // A suspected change that the re-measurement does not confirm, or that was not re-measured.
    const first = compareMetrics([{ def: lower, base, head: base.map((v) => v * 1.2), paired: true }], settings);
    expect(first[0]!.verdict).toBe('regressed');
    expect(applyRemeasurement(first, [], settings)[0]!.why).toMatch(see);
    const again = compareMetrics([{ def: lower, base, head: base, paired: true }], settings);
    expect(applyRemeasurement(first, again, settings)[0]).toMatchObject({ verdict: 'noisy', why: expect.stringMatching(see) });
    expect(withoutRemeasurement(first)[0]!.why).toMatch(see);
  });

  it('is set for every tested metric, and absent for untested ones', () => {
    const random = mulberry32(3);
    const steady = pairs(random, 8, 1, 0.01);
    const out = compareMetrics(
      [
        { def: lower, base: steady.a, head: steady.b, paired: true },
        { def: { ...lower, name: 'up' }, base: steady.a, head: steady.a.map((v) => v * 1.3), paired: true },
        { def: { ...lower, name: 'none' }, head: steady.b },
        { def: { ...lower, name: 'zero' }, base: [0, 1], head: [1, 2] },
      ],
      settings,
    );
    expect(out.map((m) => m.verdict)).toEqual(['unchanged', 'regressed', 'no-baseline', 'noisy']);
    expect(out[0]!.detectable).toBeGreaterThan(0.05);
    expect(out[0]!.detectable).toBeLessThan(0.1);
    expect(out[1]!.detectable).toBe(0.05); // a constant ratio: known exactly
    expect(out[2]!.detectable).toBeUndefined();
    expect(out[3]!.detectable).toBeUndefined();
  });

  it('is stated at the level Benjamini–Hochberg holds a lone change among all metrics to', () => {
    const { a, b } = pairs(mulberry32(5), 8, 1, 0.05);
    const input: MetricInput = { def: lower, base: a, head: b, paired: true };
    const alone = compareMetric(input, settings).detectable!;
    const others = Array.from({ length: 9 }, (_, i) => ({ ...input, def: { ...lower, name: `m${i}` } }));
    const amongTen = compareMetrics([input, ...others], settings)[0]!.detectable!;
    const t = pairedLogTest(a, b);
    expect(alone).toBeCloseTo(detectableChange(t.se, t.df, 0.05, 0.05), 12);
    expect(amongTen).toBeCloseTo(detectableChange(t.se, t.df, 0.005, 0.05), 12);
    expect(amongTen).toBeGreaterThan(alone);
  });

  it('a missed true change is almost never one the run claimed it could see', () => {
    // Many runs of 8 pairs, each metric truly changed by `change`; among 10 metrics at once, as a
    // comparison tests them. A miss (anything but the right flag) whose stated detectable change is
    // not above the true change is the failure the 95% power bounds at about 5%.
    let runs = 0;
    let wrongClaims = 0;
    let missed = 0;
    for (const [change, noise] of [[1.08, 0.03], [1.15, 0.08], [1.28, 0.15], [1.28, 0.35]] as const) {
      for (let seed = 1; seed <= 60; seed++) {
        const random = mulberry32(seed * 131 + Math.round(change * 100));
        const inputs: MetricInput[] = Array.from({ length: 10 }, (_, i) => {
          const { a, b } = pairs(random, 8, change, noise);
          return { def: { ...lower, name: `m${i}` }, base: a, head: b, paired: true };
        });
        for (const m of compareMetrics(inputs, settings)) {
          runs++;
          if (m.verdict === 'regressed') continue;
          missed++;
          if (m.detectable! <= change - 1) wrongClaims++;
        }
      }
    }
    console.info(`detectable: ${missed}/${runs} true changes missed, ${wrongClaims} of them with a stated detectable change not above the true one`);
    expect(missed).toBeGreaterThan(runs * 0.2); // the noisy cases are really exercised
    expect(wrongClaims / runs).toBeLessThan(0.05);
  });
});
