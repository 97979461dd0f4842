import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hostArch } from '../../src/core/host-info.js';
import { LINUX_EVENT_PATTERNS } from '../../src/parsers/kernel-events.js';
import { BOOT_REPORT_READY } from '../../src/parsers/boot-report.js';
import { destructiveRefusal } from '../../src/core/destructive.js';
import type { ProvisionRequest } from '../../src/core/runner.js';
import type { Session } from '../../src/core/session.js';
import { LocalConsole, LOCAL_NOTE } from '../../runners/local/local-console.js';
import { localRunner } from '../../runners/local/local-runner.js';
import { LocalSession } from '../../runners/local/local-session.js';

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

function request(arch = hostArch()): ProvisionRequest {
  dir = mkdtempSync(join(tmpdir(), 'local-session-test-'));
  return {
    sessionId: 's1', dir: join(dir, 's1'), arch, boot: { kernel: '', cmdline: '' }, cpus: 1, memoryMb: 64, accel: 'auto',
    landmark: BOOT_REPORT_READY, bootTimeoutMs: 1000, eventPatterns: LINUX_EVENT_PATTERNS,
  };
}

/** Root passes kernel.dmesg_restrict; another user may not read the kernel log. */
const canReadKmsg = () => process.platform === 'linux' && process.getuid?.() === 0;

describe('local runner', () => {
  it('gives a session with console and agent, a landmark line in console.log, and leaves nothing behind', async () => {
    const session = (await localRunner.provision(request(), new AbortController().signal)) as LocalSession;
    const scratch = session.agent.scratchRoot;
    expect([...session.channels].sort()).toEqual(['agent', 'console']);
    expect(existsSync(join(scratch, 'tmp'))).toBe(true);
    expect(session.console.lines[session.landmarkLine]!.text).toBe(`${LOCAL_NOTE} ready`);
    const pid = await session.agent.execStart(['/bin/sleep', '60']);
    await session.shutdown('test over');
    expect(session.exit).toEqual({ kind: 'clean', detail: 'test over' });
    expect(existsSync(scratch)).toBe(false);
    expect(readFileSync(join(session.dir, 'console.log'), 'utf8')).toContain(`${LOCAL_NOTE} session ended: test over`);
    await new Promise((r) => setTimeout(r, 100));
    const stat = (() => { try { return readFileSync(`/proc/${pid}/stat`, 'utf8'); } catch { return ''; } })();
    expect(stat === '' || stat.slice(stat.lastIndexOf(')') + 2)[0] === 'Z').toBe(true);
  });

  it('refuses an arch that is not the host\'s', async () => {
    await expect(localRunner.provision(request('riscv64'), new AbortController().signal)).rejects.toThrow(/this host is/);
  });

  it('sweeps scratch folders of tsuite processes that are gone, and keeps live ones', async () => {
    const dead = mkdtempSync(join(tmpdir(), 'tsuite-local-999999999-'));
    const live = mkdtempSync(join(tmpdir(), `tsuite-local-${process.pid}-`));
    try {
      expect(await localRunner.sweepOrphans!()).toContain(999999999);
      expect(existsSync(dead)).toBe(false);
      expect(existsSync(live)).toBe(true);
    } finally {
      rmSync(live, { recursive: true, force: true });
      rmSync(dead, { recursive: true, force: true });
    }
  });
});

describe('local console', () => {
  it('says why when the kernel log cannot be read, and holds only notes', () => {
    dir = mkdtempSync(join(tmpdir(), 'local-console-test-'));
    const c = new LocalConsole(dir, undefined, join(dir, 'no-kmsg'));
    expect(c.kernelLogProblem).toMatch(/no kernel log .*ENOENT/);
    c.note('hello');
    c.close();
    expect(c.channel.lines.map((l) => l.text)).toEqual([`${LOCAL_NOTE} hello`]);
    expect(readFileSync(join(dir, 'console.log'), 'utf8')).toBe(`${LOCAL_NOTE} hello\n`);
  });

  it.runIf(canReadKmsg())('carries kernel messages logged after it started (root: /dev/kmsg readable)', async () => {
    dir = mkdtempSync(join(tmpdir(), 'local-console-test-'));
    const c = new LocalConsole(dir);
    expect(c.kernelLogProblem).toBeUndefined();
    await new Promise((r) => setTimeout(r, 300)); // dmesg --follow-new has started reading
    const marker = `tsuite-local-test-${process.pid}-${Date.now()}`;
    writeFileSync('/dev/kmsg', `${marker}\n`);
    try {
      await c.channel.expect(new RegExp(marker), { timeoutMs: 5000 });
    } finally {
      c.close();
    }
  });
});

describe('destructive operations', () => {
  const local = { agent: { scratchRoot: '/tmp/x' } } as unknown as Session;
  const guest = { agent: {} } as unknown as Session;
  it('are refused on the local target without the flag, naming what they would do', () => {
    expect(destructiveRefusal(local, false, 'bind 0000:01:00.0 to vfio-pci')).toBe('refused on the local target without --allow-destructive (it would bind 0000:01:00.0 to vfio-pci)');
    expect(destructiveRefusal(local, undefined, 'load a module')).toMatch(/^refused/);
  });
  it('are allowed with the flag, and always in a guest tsuite booted', () => {
    expect(destructiveRefusal(local, true, 'load a module')).toBeUndefined();
    expect(destructiveRefusal(guest, false, 'load a module')).toBeUndefined();
  });
});
