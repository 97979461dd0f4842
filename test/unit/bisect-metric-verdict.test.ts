import { describe, expect, it } from 'vitest';
import { classifyBracketed, classifyStep, endpointsDiffer } from '../../src/bisect/metric-verdict.js';
import { UsageError } from '../../src/core/errors.js';

describe('metric bisection rule', () => {
  // Instruction counts: exact figures, one boot decides.
  const exact = { good: [1000, 1000], bad: [1300, 1300] };

  it('exact figures: the side of the midpoint decides on one boot', () => {
    expect(classifyStep(exact, [1000]).verdict).toBe('good');
    expect(classifyStep(exact, [1300]).verdict).toBe('bad');
    expect(classifyStep(exact, [1100]).verdict).toBe('good');
    expect(classifyStep(exact, [1200]).verdict).toBe('bad');
    expect(classifyStep(exact, [1300]).position).toBeCloseTo(1);
  });

  it('a step exactly at the midpoint is unsure, not guessed', () => {
    const mid = Math.sqrt(1000 * 1300);
    expect(classifyStep(exact, [mid]).verdict).toBe('unsure');
  });

  it('noisy figures: one boot near the midpoint is unsure; more boots on one side decide', () => {
    const noisy = { good: [100, 104, 97, 102, 99], bad: [130, 126, 133, 129, 131] };
    expect(classifyStep(noisy, [116]).verdict).toBe('unsure');
    expect(classifyStep(noisy, [101]).verdict).toBe('good');
    expect(classifyStep(noisy, [128, 131, 127]).verdict).toBe('bad');
  });

  it("a step's own spread widens the margin: one boot slowed by the host's load is not a confident bad", () => {
    // Measured in time mode on a shared 2-core host: quiet endpoints, then a good-side commit whose
    // second boot ran while another job took the CPU. With the endpoints' spread alone it was 'bad'.
    const quiet = { good: [483, 480, 474], bad: [635, 630, 638] };
    const hit = classifyStep(quiet, [489, 791, 502]);
    expect(hit.position).toBeGreaterThan(0.5);
    expect(hit.verdict).toBe('unsure');
    // Its quiet boots alone, or steady boots at either level, still decide.
    expect(classifyStep(quiet, [489, 502, 490]).verdict).toBe('good');
    expect(classifyStep(quiet, [636, 640, 634]).verdict).toBe('bad');
  });

  it('a regression that lowers the figure (throughput) is classified the same way', () => {
    const sides = { good: [500, 505], bad: [350, 352] };
    expect(classifyStep(sides, [503]).verdict).toBe('good');
    expect(classifyStep(sides, [351]).verdict).toBe('bad');
  });

  it('refuses endpoints that do not differ', () => {
    expect(() => endpointsDiffer({ good: [100, 103, 98], bad: [101, 99, 102] }, 'm', 0.05, 0.05)).toThrow(UsageError);
    expect(() => endpointsDiffer({ good: [1000, 1000], bad: [1010, 1010] }, 'm', 0.05, 0.05)).toThrow(/does not differ/);
    expect(() => endpointsDiffer(exact, 'm', 0.05, 0.05)).not.toThrow();
  });

  it('refuses figures that are not positive', () => {
    expect(() => classifyStep(exact, [0])).toThrow(RangeError);
  });
});

describe('metric bisection rule in real time: each step boot between endpoint boots', () => {
  // Captured in CI on this project's 2-core host (ms, rounded): the endpoints measured at the start
  // while the host's load came and went; every boot in a busy spell was ~1.65x slower.
  const start = { good: [807, 482, 807, 485, 794], bad: [1064, 1067, 644, 1028, 1010] };
  // A commit after the regression, measured in a quiet spell: ~650 is the bad kernel's quiet figure.
  const quietBad = [646, 648, 652, 638, 651, 652, 671, 676, 649, 668];

  it('the old rule called a bad commit measured in a quiet spell good; bracketed by quiet endpoint boots it is bad', () => {
    expect(classifyStep(start, quietBad).verdict).toBe('good');
    const rounds = { good: [483, 480, 486, 479, 490, 484, 488, 481, 479, 485], step: quietBad, bad: [649, 652, 644, 655, 641, 650, 660, 648, 651, 657] };
    const c = classifyBracketed(start, rounds);
    expect(c.verdict).toBe('bad');
    expect(c.position).toBeGreaterThan(0.8);
    expect(c.why).toContain('10 boot(s) between endpoint boots');
  });

  it('a busy spell over one round slows its three boots alike and does not move the verdict', () => {
    const rounds = { good: [483, 801, 486, 479], step: [490, 805, 485, 482], bad: [649, 1066, 644, 655] };
    expect(classifyBracketed(start, rounds).verdict).toBe('good');
    // A spell that starts within a round (the step slow, its good neighbour not) only widens the margin.
    const torn = { good: [483, 480, 486], step: [490, 802, 485], bad: [649, 1061, 644] };
    expect(classifyBracketed(start, torn).verdict).toBe('unsure');
  });

  it('one round has no spread to judge by: unsure, however clear it looks', () => {
    const c = classifyBracketed(start, { good: [483], step: [650], bad: [652] });
    expect(c.verdict).toBe('unsure');
    expect(c.why).toContain('no margin yet');
    expect(classifyBracketed(start, { good: [483, 484], step: [650, 651], bad: [652, 650] }).verdict).toBe('bad');
  });

  it('rounds whose endpoints do not differ the way the regression goes place nothing', () => {
    const c = classifyBracketed(start, { good: [650, 648, 652], step: [600, 610, 605], bad: [640, 645, 641] });
    expect(c.verdict).toBe('unsure');
    expect(c.why).toMatch(/endpoints booted alongside did not differ/);
  });

  it('a regression that lowers the figure (throughput) is classified the same way', () => {
    const sides = { good: [500, 505], bad: [350, 352] };
    expect(classifyBracketed(sides, { good: [500, 498, 503], step: [351, 349, 355], bad: [350, 352, 349] }).verdict).toBe('bad');
    expect(classifyBracketed(sides, { good: [500, 498, 503], step: [499, 502, 497], bad: [350, 352, 349] }).verdict).toBe('good');
  });

  it('refuses rounds of unequal length and figures that are not positive', () => {
    expect(() => classifyBracketed(start, { good: [1, 2], step: [1], bad: [1] })).toThrow(/unequal/);
    expect(() => classifyBracketed(start, { good: [1], step: [0], bad: [1] })).toThrow(RangeError);
  });
});
