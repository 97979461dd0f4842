import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pidAlive } from '../../src/core/pid-alive.js';
import type { RunResult } from '../../src/core/result.js';
import { startCli, tempDir } from './cli.js';

/**
 * `tsuite run` boots its first machine while the suites load (src/cli/boot-ahead.ts), against real
 * QEMU on the reference Linux. Every QEMU the run starts goes through a wrapper first in PATH
 * that logs its pid and arguments, so the tests count the machines booted and check each is gone.
 */
describe('boot ahead', () => {
  let dir: string;
  let log: string;
  let env: NodeJS.ProcessEnv;
  beforeAll(() => {
    dir = tempDir('boot-ahead');
    log = join(dir, 'qemu.log');
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    const real = execFileSync('sh', ['-c', 'command -v qemu-system-x86_64'], { encoding: 'utf8' }).trim();
    // exec keeps the pid: the logged pid is QEMU's own.
    writeFileSync(join(bin, 'qemu-system-x86_64'), `#!/bin/sh\necho "$$ $*" >> '${log}'\nexec '${real}' "$@"\n`);
    chmodSync(join(bin, 'qemu-system-x86_64'), 0o755);
    env = { PATH: `${bin}:${process.env.PATH}` };
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** The machines started since the log was last read: pids of the QEMUs given a kernel (not `--version`). */
  const takeBoots = () => {
    const lines = existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter((l) => l.includes(' -kernel ')) : [];
    rmSync(log, { force: true });
    return lines.map((l) => Number(l.split(' ')[0]));
  };
  // The reference Linux: the fixture kernel ends its machine by itself, so it is never booted ahead.
  const run = async (out: string, ...args: string[]) => {
    const cli = await startCli(['run', '--target', 'qemu-x86', '--reporter', 'json', '--output-dir', out, ...args], env, dir).done;
    return { cli, result: JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as RunResult };
  };

  it('the session takes the machine booted ahead: one boot for the run, its console log kept', async () => {
    const out = join(dir, 'taken');
    const { cli, result } = await run(out, '--suite', 'boot');
    expect(cli.stderr).not.toMatch(/Error/);
    const boots = takeBoots();
    expect(boots).toHaveLength(1);
    expect(result.sessions.map((s) => s.id)).toEqual(['qemu-x86-1']);
    expect(result.tests.find((t) => t.id === 'boot/reaches-landmark')?.status).toBe('passed');
    expect(readFileSync(join(out, 'qemu-x86-1', 'console.log'), 'utf8')).toContain('tsuite-boot: ready');
    expect(pidAlive(boots[0]!)).toBe(false);
  });

  it('a machine no session takes is stopped at the end and leaves no console log', async () => {
    // The only test needs a CRI runtime, which this target never offers: it is skipped before any
    // boot, so the machine started ahead of the plan is never taken.
    writeFileSync(join(dir, 'cri-only.suite.ts'), `import { defineSuite } from 'tsuite';
export default defineSuite({ name: 'cri-only', description: 'needs a CRI runtime', tests: [
  { name: 'version', title: 'the runtime answers', requires: ['cri'], run: () => undefined },
] });
`);
    const out = join(dir, 'untaken');
    const { cli, result } = await run(out, '--suite', 'cri-only', '--suite-files', 'cri-only.suite.ts');
    expect(cli.code).toBe(0);
    const boots = takeBoots();
    expect(boots).toHaveLength(1);
    expect(pidAlive(boots[0]!)).toBe(false);
    expect(result.tests).toEqual([expect.objectContaining({ id: 'cri-only/version', status: 'skipped', reason: expect.stringContaining('cri') })]);
    expect(existsSync(join(out, 'qemu-x86-1'))).toBe(false);
  });

  it('with --test the plan comes first: a pattern that matches nothing boots nothing', async () => {
    const out = join(dir, 'typo');
    const cli = await startCli(['run', '--target', 'qemu-x86', '--suite', 'boot', '--test', 'no-such-test', '--output-dir', out], env, dir).done;
    expect(cli.code).toBe(2);
    expect(cli.stderr).toContain('no tests match the selection');
    expect(takeBoots()).toEqual([]);
  });
});
