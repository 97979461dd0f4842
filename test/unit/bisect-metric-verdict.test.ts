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
