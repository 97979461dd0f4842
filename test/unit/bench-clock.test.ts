import { describe, expect, it } from 'vitest';
import { describeClock, displayUnit, resolveClock } from '../../src/bench/clock.js';
import { formatMetricValue } from '../../src/reporters/format.js';
import { resolveTarget } from '../../src/cli/target-options.js';
import type { ResolvedConfig } from '../../src/config/define-config.js';
import { UsageError } from '../../src/core/errors.js';

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

describe('--clock on a target', () => {
  const config = (bench?: Partial<ResolvedConfig['bench']>) =>
    ({ targets: {}, suites: ['boot'], reporters: ['console'], outputDir: '/tmp/x', defaultTarget: 'qemu-x86', testTimeoutMs: 60000, ...(bench ? { bench } : {}) }) as ResolvedConfig;
  const usage = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      expect(err).toBeInstanceOf(UsageError);
      return err as UsageError;
    }
    throw new Error('expected a UsageError');
  };

  it('comes from the flag, else the config, else auto', () => {
    expect(resolveTarget(config(), {}).benchClock).toBe('auto');
    expect(resolveTarget(config({ clock: 'time' }), {}).benchClock).toBe('time');
    expect(resolveTarget(config({ clock: 'time' }), { clock: 'instructions' }).benchClock).toBe('instructions');
  });

  it('refuses instruction counting under KVM, and on an existing endpoint, before anything boots', () => {
    const kvm = usage(() => resolveTarget(config(), { clock: 'instructions', accel: 'kvm' }));
    expect(kvm.message).toContain('needs TCG');
    expect(kvm.fix).toContain('--clock time');
    expect(usage(() => resolveTarget(config(), { target: 'docker', dockerHost: 'tcp://127.0.0.1:2375', clock: 'instructions' })).message).toContain('existing Docker endpoint');
    expect(resolveTarget(config(), { clock: 'time', accel: 'kvm' }).benchClock).toBe('time');
  });
});
