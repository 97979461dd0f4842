import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { RunResult } from '../../src/core/result.js';
import { startCli, tempDir, tsuite } from './cli.js';

/**
 * `tsuite run --workers N` through the CLI on the cheapest real target: tsuite's fixture kernel
 * under QEMU, whose plan has two sessions (the boot suite's, then the kernel suite's).
 */

const FIXTURE = ['run', '--target', 'qemu-x86', '--kernel', 'fixture', '--suite', 'boot,kernel', '--reporter', 'console,json'];

async function runWith(workers: string, append: string) {
  const out = tempDir(`workers-${workers}`);
  const run = await tsuite(...FIXTURE, '--append', append, '--test-timeout', '3000', '--workers', workers, '--output-dir', out);
  const result = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as RunResult;
  return { run, result, out, statuses: result.tests.map((t) => `${t.id} ${t.status}`) };
}

/** QEMU processes whose command line names this folder (each session's console log is under it). */
function qemuUnder(dir: string): string[] {
  const ps = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return ps.split('\n').filter((l) => l.includes('qemu-system') && l.includes(dir));
}

describe('tsuite run --workers', () => {
  it('--workers 2 boots both sessions and gives the ids, statuses, order and counts of --workers 1', async () => {
    // `hang` stops after the KTAP header and stays up: the kernel suite times out, the same in both,
    // and no test races the kernel's own exit (in `ok` mode it exits right after its self-tests,
    // which can end the machine in the middle of the boot suite, with or without workers).
    const [serial, parallel] = [await runWith('1', 'hang'), await runWith('2', 'hang')];
    expect(serial.run.code).toBe(1);
    expect(parallel.run.code).toBe(serial.run.code);
    expect(parallel.statuses).toEqual(serial.statuses);
    expect(parallel.statuses).toContain('kernel/ktap timedOut');
    expect(parallel.statuses).toContain('boot/reaches-landmark passed');
    const counts = (r: RunResult) => ({ ...r.summary, durationMs: 0 });
    expect(counts(parallel.result)).toEqual(counts(serial.result));
    // The boot suite's skipped power-off leaves its machine up: serially the kernel suite reuses
    // it; with two workers that session was booting already and has its own machine.
    expect(serial.result.sessions.map((s) => s.id)).toEqual(['qemu-x86-1']);
    expect(parallel.result.sessions.map((s) => s.id)).toEqual(['qemu-x86-1', 'qemu-x86-2']);
    expect(existsSync(join(parallel.out, 'qemu-x86-2', 'console.log'))).toBe(true);
    expect(parallel.run.stderr).toContain('up to 2 sessions at once');
    // CI output: each session's lines as one block, the summary after both.
    const out = parallel.run.stdout;
    expect(out.indexOf('boot/reaches-landmark')).toBeLessThan(out.indexOf('FAIL'));
    expect(out.indexOf('kernel/ktap')).toBeLessThan(out.indexOf('FAIL'));
  }, 120_000);

  it('SIGTERM with two sessions up stops both QEMUs and writes partial results', async () => {
    const out = tempDir('workers-sigterm');
    // `hang` idles after its KTAP header, and a landmark it never prints keeps both sessions booting.
    const run = startCli([...FIXTURE, '--append', 'hang', '--landmark', 'never-printed', '--workers', '2', '--output-dir', out]);
    const deadline = Date.now() + 60_000;
    while (qemuUnder(out).length < 2 && Date.now() < deadline) await sleep(200);
    expect(qemuUnder(out)).toHaveLength(2);
    run.child.kill('SIGTERM');
    const done = await run.done;
    expect(done.code).toBe(130);
    expect(qemuUnder(out)).toEqual([]);
    const result = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as RunResult;
    expect(result.run.interrupted).toEqual({ signal: 'SIGTERM' });
  }, 90_000);

  it('a bad --workers is a usage error before anything boots', async () => {
    const r = await tsuite(...FIXTURE, '--workers', '0');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--workers takes a whole number of sessions from 1 to 64, not '0'");
  });
});
