import { describe, expect, it } from 'vitest';
import { targetFacts } from '../../src/cli/target-facts.js';
import { resolveTarget } from '../../src/cli/target-options.js';
import type { ResolvedConfig } from '../../src/config/define-config.js';
import { UsageError } from '../../src/core/errors.js';
import { hostArch } from '../../src/core/host-info.js';
import { BUILT_IN_TARGETS, type TargetDef } from '../../src/core/target.js';

const config = (targets: Record<string, Partial<TargetDef>> = {}): ResolvedConfig => ({
  targets, suites: ['syscall'], reporters: ['console'], outputDir: '/tmp/x', defaultTarget: 'local', testTimeoutMs: 60000,
});

describe('the built-in local target', () => {
  it('is the host: its arch, the local runner, the host kernel, an agent', () => {
    expect(BUILT_IN_TARGETS.local).toMatchObject({ runner: 'local', arch: hostArch(), kernel: 'host', agent: true });
    expect(BUILT_IN_TARGETS.local!.description).toMatch(/the host tsuite runs on/);
  });

  it('declares console and agent, never powers off, has no boot report, and forbids destruction by default', () => {
    const facts = targetFacts(resolveTarget(config(), { target: 'local' }));
    expect(facts.channels).toEqual(['console', 'agent']);
    expect(facts.allowDestructive).toBe(false);
    expect(facts.powerOffWhy).toMatch(/never powers it off/);
    expect(facts.bootReportWhy).toMatch(/no tsuite boot report/);
  });

  it('takes allowDestructive from the config', () => {
    expect(targetFacts(resolveTarget(config({ local: { allowDestructive: true } }), { target: 'local' })).allowDestructive).toBe(true);
  });

  it('refuses flags that shape a machine, naming them', () => {
    let err: unknown;
    try {
      resolveTarget(config(), { target: 'local', kernel: '/boot/vmlinuz', cpus: 4 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toMatch(/host tsuite runs on .* --kernel, --cpus cannot apply/);
  });
});
