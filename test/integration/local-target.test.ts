import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunResult } from '../../src/core/result.js';
import { startCli, tempDir } from './cli.js';

/**
 * The real CLI on the `local` target: the syscall probes run on this host (Linux) through the
 * local agent. Each run gets a TMPDIR of its own, so "nothing left outside the session's temp dir"
 * is checked by listing it afterwards, and "nothing in the host's guest paths" by /opt/tsuite.
 */
const PROBE_GUEST_DIR = '/opt/tsuite/probes';

function readResults(dir: string): RunResult {
  return JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as RunResult;
}

const roots: string[] = [];
afterAll(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

async function run(args: string[]) {
  const root = tempDir('local');
  roots.push(root);
  const tmp = join(root, 'tmp');
  const out = join(root, 'out');
  mkdirSync(tmp);
  const res = await startCli(['run', '--target', 'local', '-r', 'json', '--output-dir', out, ...args], { TMPDIR: tmp }).done;
  return { res, tmp, out };
}

/** What is left in a run's TMPDIR, less jiti's module cache (the CLI loads tsuite.config.ts through jiti): the session's own. */
const leftovers = (tmp: string) => readdirSync(tmp).filter((n) => n !== 'jiti');

/** A user suite whose test leaves long-running processes, one in a process group of its own, as probes do. */
const SLEEPER_SUITE = `import { defineSuite } from 'tsuite';
export default defineSuite({
  name: 'sleeper',
  description: 'processes still running when the run is interrupted',
  explicit: true,
  tests: [{
    name: 'sleeps', title: 'starts sleeps and waits', requires: ['agent'], timeoutMs: 120000,
    async run({ session }) { await session.agent.exec(['/bin/sh', '-c', 'setsid sleep 300 & sleep 300 & wait'], { timeoutMs: 100000 }); },
  }],
});
`;

/** Not ended: gone, or a zombie this host's init has not reaped yet. */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Processes whose working directory is under `dir` (the agent starts commands in <scratch>/tmp). */
function processesIn(dir: string): number[] {
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      return readlinkSync(`/proc/${p}/cwd`).startsWith(dir);
    } catch {
      return false;
    }
  }).map(Number);
}

describe.runIf(process.platform === 'linux')('the local target', () => {
  it('runs syscall probes on this host, records --allow-destructive, and leaves nothing outside its temp dir', async () => {
    const optBefore = existsSync(PROBE_GUEST_DIR);
    const { res, tmp, out } = await run(['--suite', 'syscall', '--test', 'syscall/files', '--test', 'syscall/random', '--allow-destructive']);
    expect(res.stderr).not.toMatch(/infraError|Error:/);
    const r = readResults(out);
    expect(r.run.target).toBe('local');
    expect(r.run.allowDestructive).toBe(true);
    expect(r.run.kernel).toMatchObject({ source: 'host', version: release() });
    const ids = r.tests.map((t) => t.id);
    expect(ids.some((id) => id.startsWith('syscall/files/openat/'))).toBe(true);
    expect(ids.some((id) => id.startsWith('syscall/random/getrandom/'))).toBe(true);
    expect(ids.every((id) => id.startsWith('syscall/files/') || id.startsWith('syscall/random/'))).toBe(true);
    // The host is Linux: the oracle's own behaviour, so nearly everything passes (a root without some capability skips a few).
    expect(r.summary.total).toBeGreaterThan(100);
    expect(r.summary.passed / r.summary.total).toBeGreaterThan(0.9);
    expect(r.summary.infraError + r.summary.parseError + r.summary.crashed + r.summary.timedOut).toBe(0);
    expect(res.code).toBe(r.summary.failed > 0 ? 1 : 0);
    // The session's evidence: the console stand-in and where its scratch root was.
    const session = r.sessions[0]!;
    const evidence = JSON.parse(readFileSync(join(out, session.id, 'local.json'), 'utf8')) as { scratchRoot: string };
    expect(evidence.scratchRoot.startsWith(`${tmp}/tsuite-local-`)).toBe(true);
    expect(readFileSync(join(out, session.id, 'console.log'), 'utf8')).toMatch(/^tsuite-local: ready$/m);
    // The probes were uploaded under the scratch root, which is gone; nothing else is in TMPDIR, nothing in /opt.
    expect(leftovers(tmp)).toEqual([]);
    expect(existsSync(PROBE_GUEST_DIR)).toBe(optBefore);
  });

  it('records allowDestructive false by default, and skips boot-report tests with the reason', async () => {
    const { res, tmp, out } = await run(['--suite', 'boot']);
    const r = readResults(out);
    expect(r.run.allowDestructive).toBe(false);
    const byId = new Map(r.tests.map((t) => [t.id, t]));
    expect(byId.get('boot/cmdline')).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/local target .* no tsuite boot report/) });
    expect(byId.get('boot/clean-shutdown')).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/never powers it off/) });
    expect(byId.get('boot/reaches-landmark')?.status).toBe('passed');
    expect(res.code).toBe(0);
    expect(leftovers(tmp)).toEqual([]);
  });

  it('on SIGTERM, kills what the session started (its children in other process groups too) and removes its temp dir', async () => {
    const root = tempDir('local-sig');
    roots.push(root);
    const tmp = join(root, 'tmp');
    const out = join(root, 'out');
    mkdirSync(tmp);
    writeFileSync(join(root, 'sleeper.suite.ts'), SLEEPER_SUITE);
    const { child, done } = startCli(['run', '--target', 'local', '-r', 'json', '--output-dir', out, '--suite-files', join(root, 'sleeper.suite.ts'), '--suite', 'sleeper'], { TMPDIR: tmp }, root);
    // Wait until the test's processes run in the scratch root (a shell and a setsid'd sleep), then interrupt.
    let during: number[] = [];
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && during.length < 3 && child.exitCode === null) {
      const scratch = readdirSync(tmp).find((n) => n.startsWith('tsuite-local-'));
      if (scratch) during = processesIn(join(tmp, scratch));
      await sleep(50);
    }
    expect(during.length, 'the sleeper test never started its processes').toBeGreaterThanOrEqual(3);
    child.kill('SIGTERM');
    const res = await done;
    expect(res.code).not.toBe(0);
    await sleep(200);
    expect(during.filter(running)).toEqual([]);
    expect(leftovers(tmp)).toEqual([]);
    expect(readResults(out).run.interrupted?.signal).toBe('SIGTERM');
  });
});
