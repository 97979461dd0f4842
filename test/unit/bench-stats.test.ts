import { Bench } from 'tinybench';
import { describe, expect, it } from 'vitest';
import { benjaminiHochberg } from '../../src/bench/multiple-comparisons.js';
import { pairedLogTest, welchLogTest } from '../../src/bench/significance.js';
import { median, summarize } from '../../src/bench/stats.js';
import { mulberry32 } from '../../src/core/seeded-random.js';

/** tinybench's own latency statistics for `values`, via a fake clock each iteration advances. */
async function tinybenchLatency(values: readonly number[]) {
  let clock = 0;
  // tinybench calls the function once untimed first (to see whether it is async).
  let i = -1;
  const bench = new Bench({
    iterations: values.length,
    time: 0,
    warmup: false,
    retainSamples: true,
    timestampProvider: { name: 'custom', fn: () => clock, fromMs: (v: number) => v, toMs: (v) => Number(v) },
  });
  bench.add('fake', () => {
    if (i >= 0) clock += values[i]!;
    i++;
  });
  await bench.run();
  const result = bench.tasks[0]!.result;
  if (result.state !== 'completed') throw new Error(`tinybench task ended ${result.state}`);
  return result.latency;
}

describe('summarize', () => {
  it('matches tinybench on random sample sets', async () => {
    const random = mulberry32(7);
    for (const n of [2, 3, 5, 10, 101]) {
      // Integers, so the fake clock's subtraction is exact.
      const values = Array.from({ length: n }, () => 1 + Math.floor(random() * 1000));
      const ours = summarize(values);
      const theirs = await tinybenchLatency(values);
      expect(theirs.samplesCount).toBe(n);
      for (const key of ['mean', 'p50', 'p75', 'p99', 'sd', 'sem', 'moe', 'rme', 'min', 'max'] as const) {
        expect(ours[key], `${key} for n=${n}`).toBeCloseTo(theirs[key], 9);
      }
      expect(ours.samples).toEqual(values);
    }
  });

  it('computes textbook values', () => {
    const s = summarize([2, 4, 4, 4, 5, 5, 7, 9]);
    expect(s.mean).toBe(5);
    expect(s.sd).toBeCloseTo(Math.sqrt(32 / 7), 12);
    expect(s.sem).toBeCloseTo(Math.sqrt(32 / 7) / Math.sqrt(8), 12);
    // t(0.975, 7) = 2.364624
    expect(s.moe / s.sem).toBeCloseTo(2.364624, 5);
    expect(s.rme).toBeCloseTo((s.moe / 5) * 100, 10);
    expect(s.p50).toBe(4.5);
    expect(s.p75).toBe(5.5); // position 5.25 between 5 and 7
    expect(s.p99).toBeCloseTo(7 + 0.93 * 2, 12);
    expect([s.min, s.max]).toEqual([2, 9]);
  });

  it('gives zero spread for one value and keeps the input order of samples', () => {
    expect(summarize([42])).toMatchObject({ mean: 42, p50: 42, p99: 42, sd: 0, sem: 0, moe: 0, rme: 0, min: 42, max: 42, samples: [42] });
    const input = [3, 1, 2];
    const s = summarize(input);
    expect(s.samples).toEqual([3, 1, 2]);
    expect(s.samples).not.toBe(input);
  });

  it('rejects empty input and non-finite values', () => {
    expect(() => summarize([])).toThrow(/at least one value/);
    expect(() => summarize([1, NaN])).toThrow(/not a finite number/);
  });
});

describe('median', () => {
  it('interpolates between the middle values', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
  });
});

// R's sleep data set (Student 1908): extra sleep under two drugs, same ten patients.
const drug1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0];
const drug2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4];
// The tests take logs, so exp() of the data makes them test the data itself.
const exp = (xs: number[]) => xs.map(Math.exp);

describe('welchLogTest', () => {
  it("matches R's t.test(extra ~ group) on the sleep data", () => {
    // R: t = -1.8608, df = 17.776, p-value = 0.07939, 95% CI -3.3654832 0.2054832 (group1 - group2)
    const r = welchLogTest(exp(drug2), exp(drug1), 0);
    expect(r.p).toBeCloseTo(0.07939, 4);
    expect(Math.log(r.ci[0])).toBeCloseTo(-3.3654832, 5);
    expect(Math.log(r.ci[1])).toBeCloseTo(0.2054832, 5);
    expect(Math.log(r.ratio)).toBeCloseTo(0.75 - 2.33, 10);
    expect(r.test).toMatch(/Welch/);
  });

  it("is Yuen's test with 20% trimming by default: matches scipy's ttest_ind(trim=0.2) on the sleep data", () => {
    // scipy.stats.ttest_ind(drug2, drug1, equal_var=False, trim=0.2): t 1.6168, df 8.2647,
    // p 0.143378, 95% CI -0.697307 .. 4.030640 (trimmed mean of drug2 - that of drug1).
    const r = welchLogTest(exp(drug1), exp(drug2));
    expect(r.p).toBeCloseTo(0.143378, 5);
    expect(Math.log(r.ci[0])).toBeCloseTo(-0.697307, 5);
    expect(Math.log(r.ci[1])).toBeCloseTo(4.03064, 5);
    expect(r.test).toMatch(/Yuen/);
  });

  it('is antisymmetric: swapping the sides inverts ratio and CI, same p', () => {
    const random = mulberry32(3);
    const a = Array.from({ length: 6 }, () => 100 + random() * 10);
    const b = Array.from({ length: 4 }, () => 110 + random() * 10);
    const ab = welchLogTest(a, b);
    const ba = welchLogTest(b, a);
    expect(ba.p).toBeCloseTo(ab.p, 12);
    expect(ba.ratio).toBeCloseTo(1 / ab.ratio, 12);
    expect(ba.ci[0]).toBeCloseTo(1 / ab.ci[1], 12);
    expect(ab.ci[0]).toBeLessThan(ab.ratio);
    expect(ab.ci[1]).toBeGreaterThan(ab.ratio);
  });

  it('is a geometric ratio: scale-free', () => {
    const r = welchLogTest([10, 11, 12], [20, 22, 24]);
    expect(r.ratio).toBeCloseTo(2, 12);
    expect(r.p).toBeLessThan(0.001);
    const scaled = welchLogTest([1e-6, 1.1e-6, 1.2e-6], [2e-6, 2.2e-6, 2.4e-6]);
    expect(scaled.p).toBeCloseTo(r.p, 10);
  });

  it('handles degenerate inputs without NaN', () => {
    const noNaN = (r: { p: number; ratio: number; ci: [number, number] }) => {
      for (const v of [r.p, r.ratio, ...r.ci]) expect(Number.isNaN(v)).toBe(false);
      return r;
    };
    // Too few values on a side: no evidence.
    expect(noNaN(welchLogTest([5], [5, 6, 7]))).toMatchObject({ p: 1, ci: [0, Infinity] });
    expect(noNaN(welchLogTest([], [5, 6]))).toMatchObject({ p: 1, ratio: 1 });
    // Constant on both sides: equal means are no change, different means are a certain change.
    expect(noNaN(welchLogTest([3, 3, 3], [3, 3]))).toEqual(expect.objectContaining({ p: 1, ratio: 1, ci: [1, 1] }));
    const moved = noNaN(welchLogTest([3, 3, 3], [6, 6]));
    expect(moved.p).toBe(0);
    expect(moved.ratio).toBeCloseTo(2, 12);
    // Constant on one side only: an ordinary test.
    const one = noNaN(welchLogTest([3, 3, 3], [5, 6, 7]));
    expect(one.p).toBeGreaterThan(0);
    expect(one.p).toBeLessThan(0.05);
  });

  it('refuses values that have no logarithm', () => {
    expect(() => welchLogTest([1, 0], [1, 2])).toThrow(/positive/);
    expect(() => welchLogTest([1, 2], [1, -2])).toThrow(/positive/);
  });
});

describe('pairedLogTest', () => {
  it("matches R's t.test(extra ~ group, paired = TRUE) on the sleep data", () => {
    // R: t = -4.0621, df = 9, p-value = 0.002833, 95% CI -2.4598858 -0.7001142 (group1 - group2)
    const r = pairedLogTest(exp(drug1), exp(drug2), 0);
    expect(r.p).toBeCloseTo(0.002833, 5);
    expect(Math.log(r.ci[0])).toBeCloseTo(0.7001142, 5);
    expect(Math.log(r.ci[1])).toBeCloseTo(2.4598858, 5);
    expect(Math.log(r.ratio)).toBeCloseTo(1.58, 10);
    expect(r.test).toMatch(/paired/);
  });

  it("is Yuen's one-sample trimmed test on the differences by default (Tukey–McLaughlin standard error)", () => {
    // Computed with numpy/scipy: 20% trimmed mean 1.3333, t 7.5743 on 5 df, p 0.000636,
    // 95% CI 0.880826 .. 1.785841.
    const r = pairedLogTest(exp(drug1), exp(drug2));
    expect(Math.log(r.ratio)).toBeCloseTo(1.333333, 5);
    expect(r.p).toBeCloseTo(0.000636, 6);
    expect(Math.log(r.ci[0])).toBeCloseTo(0.880826, 5);
    expect(Math.log(r.ci[1])).toBeCloseTo(1.785841, 5);
  });

  it('keeps a 30% change significant when one pair of five was hit by a busy host', () => {
    // Measured on the project's machine (audit=1 against the default): pair 3's A boot ran 1.7x slow.
    const a = [476, 505, 818, 490, 489];
    const b = [707, 697, 658, 662, 659];
    expect(pairedLogTest(a, b, 0).p).toBeGreaterThan(0.05);
    const robust = pairedLogTest(a, b);
    expect(robust.p).toBeLessThan(0.01);
    expect(robust.ratio).toBeGreaterThan(1.3);
    expect(robust.ratio).toBeLessThan(1.45);
  });

  it('cancels drift that the unpaired test counts as noise', () => {
    // Machine drift from 100 to 170 over the run; B is 3% slower than A in every pair.
    const a = [100, 110, 120, 130, 140, 150, 160, 170];
    const b = a.map((x, i) => x * 1.03 * (1 + (i % 2 ? 0.002 : -0.002)));
    expect(pairedLogTest(a, b).p).toBeLessThan(0.001);
    expect(welchLogTest(a, b).p).toBeGreaterThan(0.5);
  });

  it('handles degenerate pairs without NaN', () => {
    expect(pairedLogTest([2], [3])).toMatchObject({ p: 1, ci: [0, Infinity] });
    expect(pairedLogTest([2, 4, 8], [2, 4, 8])).toMatchObject({ p: 1, ratio: 1, ci: [1, 1] });
    const doubled = pairedLogTest([2, 4, 8], [4, 8, 16]);
    expect(doubled.p).toBe(0);
    expect(doubled.ratio).toBeCloseTo(2, 12);
    expect(() => pairedLogTest([1, 2], [1])).toThrow(/pair/);
  });
});

describe('benjaminiHochberg', () => {
  it('gives the step-up adjusted q-values in input order', () => {
    // Sorted p (0.01, 0.03, 0.04, 0.5): q = min over ranks >= i of p_(j) * m / j.
    expect(benjaminiHochberg([0.04, 0.01, 0.5, 0.03])).toEqual([0.04 * 4 / 3, 0.04, 0.5, 0.04 * 4 / 3].map((q) => expect.closeTo(q, 12)));
    expect(benjaminiHochberg([0.2])).toEqual([0.2]);
    expect(benjaminiHochberg([])).toEqual([]);
  });

  it('never lowers a p-value and caps q at 1', () => {
    const random = mulberry32(11);
    const ps = Array.from({ length: 30 }, () => random());
    benjaminiHochberg(ps).forEach((q, i) => {
      expect(q).toBeGreaterThanOrEqual(ps[i]!);
      expect(q).toBeLessThanOrEqual(1);
    });
    expect(() => benjaminiHochberg([0.5, 1.5])).toThrow(/p-value/);
  });
});
