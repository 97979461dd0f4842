import { describe, expect, it } from 'vitest';
import { resolveTarget, type TargetFlags } from '../../src/cli/target-options.js';
import type { ResolvedConfig } from '../../src/config/define-config.js';
import { UsageError } from '../../src/core/errors.js';
import type { TargetDef } from '../../src/core/target.js';
import { BOOT_REPORT_READY } from '../../src/parsers/boot-report.js';
import { LINUX_EVENT_PATTERNS } from '../../src/parsers/kernel-events.js';

const config = (targets: Record<string, Partial<TargetDef>> = {}): ResolvedConfig => ({
  targets,
  suites: ['boot'],
  reporters: ['console'],
  outputDir: '/tmp/x',
  defaultTarget: 'qemu-x86',
  testTimeoutMs: 60000,
});

const usageError = (cfg: ResolvedConfig, flags: TargetFlags): UsageError => {
  try {
    resolveTarget(cfg, flags);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return err as UsageError;
  }
  throw new Error('expected a UsageError');
};

describe('resolveTarget defaults', () => {
  it('gives qemu-x86 with the reference kernel, the tsuite initramfs and its boot report', () => {
    const t = resolveTarget(config(), {});
    expect(t.name).toBe('qemu-x86');
    expect(t.def).toMatchObject({ runner: 'qemu', arch: 'x86_64', kernel: 'reference', initrd: 'tsuite', cpus: 2, memoryMb: 512, accel: 'auto' });
    expect(t.landmark).toBe(BOOT_REPORT_READY);
    expect(t.def.powerOffCommand).toBe('tsuite-poweroff');
    expect(t.eventPatterns.panic).toEqual(LINUX_EVENT_PATTERNS.panic);
    expect(t.eventPatterns.oops).toBe(LINUX_EVENT_PATTERNS.oops);
  });

  it('uses the config default target', () => {
    const cfg = { ...config({ mine: { runner: 'qemu', arch: 'x86_64', kernel: '/k', landmark: 'up' } }), defaultTarget: 'mine' };
    expect(resolveTarget(cfg, {}).name).toBe('mine');
    expect(resolveTarget(cfg, { target: 'qemu-x86' }).name).toBe('qemu-x86');
  });

  it('fails on an unknown target, listing qemu-x86', () => {
    const err = usageError(config(), { target: 'qemu-sparc' });
    expect(err.message).toContain('qemu-sparc');
    expect(err.fix).toContain('qemu-x86');
  });
});

describe('resolveTarget with the user kernel', () => {
  it('needs a landmark when the kernel has no tsuite initramfs', () => {
    const err = usageError(config(), { kernel: '/build/kernel.elf' });
    expect(err.fix).toContain('--landmark');
    expect(usageError(config(), { kernel: '/build/kernel.elf', initrd: '/build/initrd.img' }).fix).toContain('--landmark');
  });

  it('boots a bare kernel up to the given landmark, with no initrd and no power-off command', () => {
    const t = resolveTarget(config(), { kernel: 'x', landmark: 'Hello' });
    expect(t.def.kernel).toBe('x');
    expect(t.landmark).toEqual(/Hello/);
    expect(t.def.initrd).toBeUndefined();
    expect(t.def.powerOffCommand).toBeUndefined();
  });

  it('keeps the tsuite initramfs, its boot report and power-off command when asked for', () => {
    const t = resolveTarget(config(), { kernel: 'x', initrd: 'tsuite' });
    expect(t.def.kernel).toBe('x');
    expect(t.def.initrd).toBe('tsuite');
    expect(t.landmark).toBe(BOOT_REPORT_READY);
    expect(t.def.powerOffCommand).toBe('tsuite-poweroff');
  });

  it('leaves the built-in target untouched for later resolutions', () => {
    resolveTarget(config(), { kernel: 'x', landmark: 'Hello', memory: 2048 });
    const t = resolveTarget(config(), {});
    expect(t.def).toMatchObject({ kernel: 'reference', initrd: 'tsuite', memoryMb: 512, powerOffCommand: 'tsuite-poweroff' });
    expect(t.landmark).toBe(BOOT_REPORT_READY);
  });

  it('fails on a landmark that is not a valid regex', () => {
    const err = usageError(config(), { kernel: 'x', landmark: '([unclosed' });
    expect(err.message).toMatch(/landmark.*not a valid regular expression/);
  });
});

describe('resolveTarget overrides', () => {
  it('appends --append after a configured append', () => {
    expect(resolveTarget(config({ 'qemu-x86': { append: 'loglevel=7' } }), { append: 'quiet' }).def.append).toBe('loglevel=7 quiet');
    expect(resolveTarget(config(), { append: 'quiet' }).def.append).toBe('quiet');
    expect(resolveTarget(config({ 'qemu-x86': { append: 'loglevel=7' } }), {}).def.append).toBe('loglevel=7');
  });

  it('applies cpus, memory, boot timeout and accel flags', () => {
    const t = resolveTarget(config(), { cpus: 4, memory: 2048, bootTimeout: 120_000, accel: 'tcg' });
    expect(t.def).toMatchObject({ cpus: 4, memoryMb: 2048, bootTimeoutMs: 120_000, accel: 'tcg' });
  });

  it('rejects an unknown accelerator', () => {
    expect(usageError(config(), { accel: 'hvf' as TargetFlags['accel'] }).message).toContain('hvf');
  });

  it('applies a config override of a built-in target, and flags over it', () => {
    const cfg = config({ 'qemu-x86': { memoryMb: 1024 } });
    const t = resolveTarget(cfg, {});
    expect(t.def.memoryMb).toBe(1024);
    expect(t.def.kernel).toBe('reference');
    expect(t.def.cpus).toBe(2);
    expect(resolveTarget(cfg, { memory: 256 }).def.memoryMb).toBe(256);
  });

  it('adds configured panic patterns to the Linux ones', () => {
    const t = resolveTarget(config({ 'qemu-x86': { panicPatterns: ['PANIC: .*', 'fatal trap \\d+'] } }), {});
    expect(t.eventPatterns.panic).toHaveLength(LINUX_EVENT_PATTERNS.panic.length + 2);
    expect(t.eventPatterns.panic.slice(0, LINUX_EVENT_PATTERNS.panic.length)).toEqual(LINUX_EVENT_PATTERNS.panic);
    expect(t.eventPatterns.panic.some((re) => re.test('PANIC: double fault'))).toBe(true);
    expect(t.eventPatterns.panic.some((re) => re.test('fatal trap 12'))).toBe(true);
    expect(t.eventPatterns.panic.some((re) => re.test('Kernel panic - not syncing: x'))).toBe(true);
    // The shared Linux defaults are not changed by one target's additions.
    expect(LINUX_EVENT_PATTERNS.panic).toHaveLength(1);
  });

  it('takes a configured landmark for a configured bare kernel', () => {
    const t = resolveTarget(config({ hobby: { runner: 'qemu', arch: 'x86_64', kernel: '/k.elf', landmark: '\\[ready\\]' } }), { target: 'hobby' });
    expect(t.landmark.test('[ready]')).toBe(true);
    expect(t.landmark.test('ready')).toBe(false);
  });
});

describe('resolveTarget gaps a config leaves', () => {
  it('fills cpus, memory, accel and boot timeout of a configured target that omits them', () => {
    const t = resolveTarget(config({ mine: { runner: 'qemu', arch: 'x86_64', kernel: '/k.elf', landmark: 'up' } }), { target: 'mine' });
    expect(t.def).toMatchObject({ cpus: 2, memoryMb: 512, accel: 'auto', bootTimeoutMs: 60_000 });
  });

  it("drops the tsuite power-off command when --initrd replaces the tsuite initramfs", () => {
    const t = resolveTarget(config(), { initrd: '/my.img', landmark: 'up' });
    expect(t.def.kernel).toBe('reference');
    expect(t.def.powerOffCommand).toBeUndefined();
  });
});
