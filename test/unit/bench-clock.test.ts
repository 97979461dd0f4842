import { describe, expect, it } from 'vitest';
import { describeClock, displayUnit, resolveClock } from '../../src/bench/clock.js';
import { formatMetricValue } from '../../src/reporters/format.js';

describe('the benchmark clock', () => {
  it('auto is instructions under TCG only, and never on a cloud runner', () => {
    expect(resolveClock('auto', 'tcg')).toBe('instructions');
    expect(resolveClock('auto', 'kvm')).toBe('time');
    expect(resolveClock('auto', 'tcg', 'gcp')).toBe('time');
    expect(resolveClock('time', 'tcg')).toBe('time');
    expect(resolveClock('instructions', 'kvm')).toBe('instructions');
  });

  it('labels instruction-mode figures as instruction counts, never as time', () => {
    expect(displayUnit('ns', 'instructions')).toBe('virtual ns');
    expect(displayUnit('us', 'instructions')).toBe('virtual us');
    expect(displayUnit('MB/s', 'instructions')).toBe('MB/virtual s');
    expect(displayUnit('ops', 'instructions')).toBe('ops (instruction count)');
    expect(displayUnit('ns', 'time')).toBe('ns');
    expect(displayUnit('ms', undefined)).toBe('ms');
    expect(describeClock('instructions')).toContain('1 virtual ns = 1 guest instruction');
    expect(formatMetricValue({ name: 'syscall/getppid', unit: 'ns', samples: [337.4], clock: 'instructions' })).toBe('337.4 virtual ns (p50 of 1)');
    expect(formatMetricValue({ name: 'agent/round-trip', unit: 'ms', samples: [0.4], clock: 'time' })).toBe('0.4 ms (p50 of 1)');
  });
});
