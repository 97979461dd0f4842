import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConsoleChannel } from '../../src/channels/console.js';
import { LINUX_EVENT_PATTERNS } from '../../src/parsers/kernel-events.js';
import { QemuSession } from '../../runners/qemu/qemu-session.js';

/**
 * How a session ends a machine that has no power-off: tsuite stops it and records `stopped`. The
 * machine is a real process that, like such a kernel, never ends by itself (`sleep`), standing in
 * for QEMU: without a QMP socket the stop is the SIGKILL that follows an unanswered `quit`.
 */
function machine(powerOffCommand?: string) {
  const child = spawn('sleep', ['600'], { detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  const console = new ConsoleChannel(Date.now(), (text) => child.stdin!.write(text));
  const tmp = mkdtempSync(join(tmpdir(), 'tsuite-test-stop-'));
  const spec = { arch: 'x86_64', cpus: 1, memoryMb: 128, cmdline: '' };
  return { child, tmp, session: new QemuSession('s-1', tmp, console, 'tcg', spec, LINUX_EVENT_PATTERNS, child, tmp, powerOffCommand, false) };
}

describe('a machine without power-off', () => {
  it('is stopped by tsuite when its session closes, and says so: never a crash or a kill', async () => {
    const { child, tmp, session } = machine();
    expect(session.canPowerOff).toBe(false);
    await session[Symbol.asyncDispose]();
    expect(session.exit).toEqual({ kind: 'stopped', detail: "tsuite stopped the machine after the session's last test: the kernel has no power-off" });
    expect(child.signalCode).toBe('SIGKILL');
    expect(existsSync(tmp)).toBe(false);
  }, 20_000);

  it('names another reason given to shutdown (an interrupted run)', async () => {
    const { session } = machine();
    expect(await session.shutdown('when the run was interrupted (SIGINT)')).toEqual({
      kind: 'stopped', detail: 'tsuite stopped the machine when the run was interrupted (SIGINT): the kernel has no power-off',
    });
    await session[Symbol.asyncDispose]();
  }, 20_000);
});
