import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RunResult } from '../../src/core/result.js';
import { tempDir, tsuite, type CliResult } from './cli.js';

/**
 * A kernel that triple-faults during its boot, through the CLI with the default suites (boot,
 * kernel, syscall, isolation, containers). tsuite's fixture kernel with `triple-fault` loads an
 * empty IDT and traps after its first KTAP result; its boot counts as complete only at the landmark
 * given here, `tsuite-fixture: exit` (the line it prints once all its tests are done), so the reset
 * comes before the landmark: a boot failure. The fixture offers only its console and the exit
 * device, no agent, no Docker endpoint, no power-off.
 */

const RESET = 'the machine ended (guest reset (reboot or triple fault)) before the boot landmark /tsuite-fixture: exit/';

async function runFixture(name: string, ...args: string[]): Promise<{ cli: CliResult; result: RunResult }> {
  const out = tempDir(`boot-failure-${name}`);
  const cli = await tsuite('run', '--target', 'qemu-x86', '--kernel', 'fixture', ...args, '--reporter', 'console,json', '--output-dir', out);
  return { cli, result: JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as RunResult };
}

/** The tests skipped for a channel the target never offers, with their reasons. */
const channelSkips = (r: RunResult) =>
  Object.fromEntries(r.tests.filter((t) => t.status === 'skipped' && /offers no '\w+' channel/.test(t.reason ?? '')).map((t) => [t.id, t.reason]));

describe('a kernel that triple-faults at boot', () => {
  let failed: { cli: CliResult; result: RunResult };
  beforeAll(async () => {
    failed = await runFixture('triple-fault', '--append', 'triple-fault', '--landmark', 'tsuite-fixture: exit');
  }, 120_000);

  it('crashes the boot tests with one clear message, once for the session', () => {
    const { cli, result } = failed;
    expect(cli.code, cli.stderr).toBe(1);
    const crashed = result.tests.filter((t) => t.status === 'crashed');
    expect(crashed.map((t) => t.id).sort()).toEqual([
      'boot/arch', 'boot/boot-time', 'boot/cmdline', 'boot/cpus', 'boot/memory', 'boot/no-kernel-errors', 'boot/reaches-landmark', 'kernel/ktap',
    ]);
    for (const t of crashed) {
      expect(t.error?.message).toBe(RESET);
      expect(t.error?.consoleExcerpt).toContain('tsuite-fixture: raising a triple fault');
    }
    // One boot, not one per session of the plan: the failure is the session's.
    expect(result.sessions).toHaveLength(1);
    expect(result.sessions[0]).toMatchObject({
      exit: { kind: 'reset' },
      bootFailure: { status: 'crashed', message: RESET, consoleExcerpt: expect.stringContaining('tsuite-fixture: raising a triple fault') },
    });
  });

  it('skips every test needing an agent or docker, naming the missing channel, and the power-off test for want of a command', () => {
    const { result } = failed;
    const others = result.tests.filter((t) => ['syscall', 'isolation', 'containers'].includes(t.suite));
    expect(others.length).toBeGreaterThanOrEqual(80);
    for (const t of others) {
      expect(t.status, t.id).toBe('skipped');
      expect(t.reason, t.id).toMatch(/target 'qemu-x86' offers no '(agent|docker)' channel/);
    }
    expect(result.tests.filter((t) => t.suite === 'isolation').map((t) => t.reason)).toEqual(Array(2).fill(
      "target 'qemu-x86' offers no 'agent' channel (agent: true in its config, or --agent)"));
    expect(result.tests.find((t) => t.id === 'syscall/files')?.reason).toMatch(/^needs one of the channels agent, docker: .*'agent'.*; .*'docker'/);
    expect(result.tests.find((t) => t.id === 'boot/clean-shutdown')).toMatchObject({ status: 'skipped', reason: expect.stringContaining('no power-off command') });
    expect(result.summary).toMatchObject({ total: result.tests.length, crashed: 8, skipped: result.tests.length - 8, passed: 0 });
  });

  it('the console shows the failure once, with its excerpt, then one line per suite that could not run', () => {
    const out = failed.cli.stdout;
    const lines = out.split('\n');
    expect(lines.filter((l) => l.includes(RESET))).toEqual([`  ✗ boot failed [crashed]: ${RESET}`]);
    expect(lines.filter((l) => l.includes('raising a triple fault'))).toEqual(['      | tsuite-fixture: raising a triple fault']);
    expect(out).toContain('  ✗ boot: 7 not run (crashed: the boot failed)\n  ✗ kernel: 1 not run (crashed: the boot failed)\n');
    expect(out).toMatch(/  - isolation: 2 skipped \(target 'qemu-x86' offers no 'agent' channel/);
    expect(out).toMatch(/  - containers: \d+ skipped \(target 'qemu-x86' offers no 'docker' channel/);
    // No line per test that could not run.
    expect(out).not.toMatch(/boot\/cpus|kernel\/ktap|syscall\/files/);
  });

  it('the same tests are skipped for the same reasons when the same kernel boots fine', async () => {
    const ok = await runFixture('ok', '--append', 'ok');
    expect(ok.cli.code, ok.cli.stderr).toBe(0);
    expect(ok.result.tests.find((t) => t.id === 'boot/reaches-landmark')?.status).toBe('passed');
    expect(Object.keys(channelSkips(failed.result)).length).toBeGreaterThanOrEqual(80);
    expect(channelSkips(ok.result)).toEqual(channelSkips(failed.result));
    // Its KTAP tests carry the time between their result lines on the console (pit_timer_ticks
    // waits for timer interrupts): not all zero, and within the run.
    const ktap = ok.result.tests.filter((t) => t.id.startsWith('kernel/fixture/'));
    expect(ktap).toHaveLength(6);
    const total = ktap.reduce((sum, t) => sum + t.durationMs, 0);
    expect(total).toBeGreaterThan(0);
    expect(total).toBeLessThanOrEqual(ok.result.summary.durationMs);
  }, 120_000);
});
