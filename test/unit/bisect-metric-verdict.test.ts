import { describe, expect, it } from 'vitest';
import { classifyStep, endpointsDiffer } from '../../src/bisect/metric-verdict.js';
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
