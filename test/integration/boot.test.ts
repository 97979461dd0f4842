import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RunResult } from '../../src/core/result.js';
import { packCpio } from '../../kernel/initramfs/build-initramfs.js';
import { resolveBoot } from '../../kernel/resolve-boot.js';
import { profileFor } from '../../runners/qemu/profiles/index.js';
import { createProgress } from '../../src/core/progress.js';
import { findTarget } from '../../src/core/target.js';
import { startCli, tempDir, tsuite } from './cli.js';

/** These boot the real reference guest (Debian's cloud kernel + the tsuite initramfs) in QEMU. */

const results = (dir: string) => JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as RunResult;

/** QEMU processes whose command line mentions `dir` (their console log lives there). */
const qemuUnder = (dir: string) => {
  try {
    return execFileSync('pgrep', ['-f', `qemu-system.*${dir}`], { encoding: 'utf8' }).trim();
  } catch {
    return ''; // pgrep exits 1 when nothing matches
  }
};

/** An initramfs whose init never reaches any landmark: a kernel that hangs, as a user would bring one. */
async function hangingInitrd(): Promise<string> {
  const dir = tempDir('hang');
  const stage = join(dir, 'stage');
  mkdirSync(join(stage, 'bin'), { recursive: true });
  copyFileSync('/bin/busybox', join(stage, 'bin', 'busybox'));
  writeFileSync(join(stage, 'init'), '#!/bin/busybox sh\necho "hanging init started"\nwhile :; do /bin/busybox sleep 3600; done\n');
  chmodSync(join(stage, 'init'), 0o755);
  const out = join(dir, 'hang.cpio.gz');
  writeFileSync(out, gzipSync(await packCpio(stage)));
  return out;
}

/** Starts a run whose kernel hangs with a long boot timeout; resolves once its init is running. */
async function startHangingRun(name: string) {
  const out = tempDir(name);
  const initrd = await hangingInitrd();
  const { child, done } = startCli(['run', '--target', 'qemu-x86', '--suite', 'boot', '--initrd', initrd,
    '--landmark', 'tsuite-boot: ready', '--boot-timeout', '120000', '--output-dir', out]);
  const log = join(out, 'qemu-x86-1', 'console.log');
  for (let i = 0; i < 600 && !(existsSync(log) && readFileSync(log, 'utf8').includes('hanging init started')); i++) await sleep(100);
  return { out, log, child, done };
}

describe('tsuite run --target qemu-x86 (reference guest)', () => {
  let out: string;
  let run: Awaited<ReturnType<typeof tsuite>>;

  beforeAll(async () => {
    out = tempDir('ok');
    run = await tsuite('run', '--target', 'qemu-x86', '--suite', 'boot', '--output-dir', out);
  }, 300_000);

  it('passes every boot test and exits 0', () => {
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const r = results(out);
    expect(r.summary.total).toBeGreaterThanOrEqual(6);
    expect(r.summary.passed).toBe(r.summary.total);
    expect(r.tests.map((t) => t.status)).not.toContain('skipped');
  });

  it('writes results.json, junit.xml, the TAP file and the console log', () => {
    for (const f of ['results.json', 'junit.xml', 'results.tap', 'qemu-x86-1/console.log']) expect(existsSync(join(out, f)), f).toBe(true);
    expect(readFileSync(join(out, 'results.tap'), 'utf8')).toMatch(/^TAP version 14\n1\.\.\d+/);
    expect(readFileSync(join(out, 'qemu-x86-1', 'console.log'), 'utf8')).toContain('tsuite-boot: ready');
  });

  it('records the accelerator, the kernel package and both boot-time metrics', () => {
    const r = results(out);
    expect(['kvm', 'tcg']).toContain(r.run.accel);
    expect(r.run.accelReason).toBeTruthy();
    expect(r.run.kernel).toMatchObject({ source: 'debian-package', package: expect.stringMatching(/^linux-image-/) });
    const metrics = r.tests.flatMap((t) => t.metrics.map((m) => m.name));
    expect(metrics).toEqual(expect.arrayContaining(['boot-time-host', 'boot-time-guest']));
    expect(r.sessions[0]?.exit?.kind).toBe('clean');
  });

  it("gives QEMU's scheduling group a higher priority than tsuite's, and says so", () => {
    const said = results(out).sessions[0]?.hostPriority;
    // Only root (or CAP_SYS_NICE) may raise it, and only where the kernel groups by session.
    if (process.getuid?.() === 0 && existsSync('/proc/self/autogroup')) expect(said).toBe('autogroup nice -5');
    else expect(said).toMatch(/^default priority: autogroup nice not set \(.+\)$/);
  });

  it('`tsuite parse` reproduces the boot report offline from the saved console log', async () => {
    const offline = tempDir('parse');
    const p = await tsuite('parse', join(out, 'qemu-x86-1', 'console.log'), '--output-dir', offline, '--reporter', 'json');
    expect(p.code, p.stderr).toBe(0);
    expect(p.stderr).toMatch(/release: 6\.\d+\.\d+-\S+-cloud-amd64/);
    const r = results(offline);
    expect(r.tests.find((t) => t.id === 'boot/no-kernel-errors')?.status).toBe('passed');
    expect(r.tests.find((t) => t.id === 'boot/boot-time')?.metrics[0]?.name).toBe('boot-time-guest');
    const live = r.tests.find((t) => t.id === 'boot/cmdline');
    expect(live).toMatchObject({ status: 'skipped', reason: expect.stringContaining('replayed console log') });
  });
});

describe('failures are reported as the kernel failing, never as passes', () => {
  it('a panic at boot (init=/nonexistent) is crashed, with the panic in the error and the log', async () => {
    const out = tempDir('panic');
    const run = await tsuite('run', '--target', 'qemu-x86', '--suite', 'boot', '--append', 'init=/nonexistent', '--output-dir', out);
    expect(run.code).toBe(1);
    const r = results(out);
    expect(r.summary.passed).toBe(0);
    expect(new Set(r.tests.map((t) => t.status))).toEqual(new Set(['crashed']));
    expect(r.tests[0]?.error?.message).toContain('Kernel panic - not syncing');
    expect(readFileSync(join(out, 'qemu-x86-1', 'console.log'), 'utf8')).toContain('Kernel panic - not syncing');
    expect(qemuUnder(out)).toBe('');
  }, 120_000);

  it('a kernel that hangs is timedOut within the boot timeout, with no QEMU left behind', async () => {
    const out = tempDir('hang');
    const initrd = await hangingInitrd();
    const started = Date.now();
    const run = await tsuite('run', '--target', 'qemu-x86', '--suite', 'boot', '--initrd', initrd,
      '--landmark', 'tsuite-boot: ready', '--boot-timeout', '8000', '--output-dir', out);
    expect(run.code).toBe(1);
    const r = results(out);
    // Its own initrd declares no power-off command: that test is skipped whatever the boot did.
    expect(r.tests.find((t) => t.id === 'boot/clean-shutdown')).toMatchObject({ status: 'skipped', reason: expect.stringContaining('no power-off command') });
    const rest = r.tests.filter((t) => t.id !== 'boot/clean-shutdown');
    expect(new Set(rest.map((t) => t.status))).toEqual(new Set(['timedOut']));
    expect(rest[0]?.error?.consoleExcerpt).toContain('hanging init started');
    expect(r.sessions[0]?.exit).toMatchObject({ kind: 'hang', detail: 'boot timed out' });
    // Behaviour, not speed: the run ended because of the 8 s timeout, not the 60 s default.
    expect(Date.now() - started).toBeLessThan(50_000);
    expect(qemuUnder(out)).toBe('');
  }, 120_000);

  it('SIGINT mid-run stops QEMU, writes partial results and the console log, and says so', async () => {
    const { out, log, child, done } = await startHangingRun('sigint');
    expect(qemuUnder(out)).not.toBe('');
    child.kill('SIGINT');
    const run = await done;
    expect(run.code).toBe(130);
    expect(run.stdout + run.stderr).toMatch(/interrupted by SIGINT/);
    const r = results(out);
    expect(r.run.interrupted).toEqual({ signal: 'SIGINT' });
    expect(r.summary.passed).toBe(0);
    expect(readFileSync(log, 'utf8')).toContain('hanging init started');
    expect(qemuUnder(out)).toBe('');
  }, 120_000);
});

describe('kernels that are not the reference guest', () => {
  it('a kernel that prints only a banner passes the landmark tests and skips the report tests, with reasons', async () => {
    const out = tempDir('banner');
    const initrd = await hangingInitrd();
    const run = await tsuite('run', '--target', 'qemu-x86', '--suite', 'boot', '--initrd', initrd,
      '--landmark', 'hanging init started', '--output-dir', out);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const byId = new Map(results(out).tests.map((t) => [t.id, t]));
    expect(byId.get('boot/reaches-landmark')?.status).toBe('passed');
    expect(byId.get('boot/no-kernel-errors')?.status).toBe('passed');
    expect(byId.get('boot/cmdline')).toMatchObject({ status: 'skipped', reason: expect.stringContaining('no tsuite boot report') });
    expect(byId.get('boot/clean-shutdown')).toMatchObject({ status: 'skipped', reason: expect.stringContaining('no power-off command') });
    expect(results(out).sessions[0]?.exit).toMatchObject({ kind: 'stopped', detail: expect.stringContaining('the kernel has no power-off') });
    expect(qemuUnder(out)).toBe('');
  }, 120_000);

  it('a Linux bzImage given with --kernel and --initrd tsuite passes every boot test', async () => {
    const { kernel } = await resolveBoot(findTarget('qemu-x86'), profileFor('x86_64'), createProgress(process.stderr, true));
    const out = tempDir('bzimage');
    const run = await tsuite('run', '--target', 'qemu-x86', '--suite', 'boot', '--kernel', kernel.path, '--initrd', 'tsuite', '--output-dir', out);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const r = results(out);
    expect(r.run.kernel).toMatchObject({ path: kernel.path, source: 'file' });
    expect(r.tests.map((t) => t.status)).toEqual(r.tests.map(() => 'passed'));
  }, 120_000);

  it('a host without QEMU is an infraError naming the fix, never a kernel failure', async () => {
    // A PATH with everything the host has except QEMU.
    const bin = tempDir('noqemu');
    for (const dir of ['/usr/local/bin', '/usr/bin', '/bin']) {
      for (const name of existsSync(dir) ? readdirSync(dir) : []) {
        if (!name.startsWith('qemu-system') && !existsSync(join(bin, name))) symlinkSync(join(dir, name), join(bin, name));
      }
    }
    const out = tempDir('noqemu-out');
    const { done } = startCli(['run', '--target', 'qemu-x86', '--suite', 'boot', '--output-dir', out], { PATH: bin });
    const run = await done;
    expect(run.code, run.stdout + run.stderr).toBe(3);
    const r = results(out);
    expect(new Set(r.tests.map((t) => t.status))).toEqual(new Set(['infraError']));
    expect(r.run.infraError?.message).toContain('qemu-system-x86_64 is not installed');
    expect(r.run.infraError?.fix).toContain('tsuite setup');
  }, 60_000);
});

describe('usage errors exit 2 and say how to fix them', () => {
  it('an unknown target lists the valid ones', async () => {
    const run = await tsuite('run', '--target', 'qemu-nope');
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("unknown target 'qemu-nope'");
    expect(run.stderr).toContain('qemu-x86');
  });

  it('an unknown flag is a usage error', async () => {
    const run = await tsuite('run', '--no-such-flag');
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/unknown option/);
  });

  it('a missing kernel file is named', async () => {
    const run = await tsuite('run', '--kernel', '/nonexistent/vmlinuz', '--landmark', 'x');
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('/nonexistent/vmlinuz');
  });
});

describe('a tsuite killed outright leaves no QEMU behind for long', () => {
  it('the next run stops the orphaned QEMU of a SIGKILLed tsuite', async () => {
    const { out, child, done } = await startHangingRun('orphan');
    child.kill('SIGKILL');
    await done;
    expect(qemuUnder(out), 'SIGKILL leaves QEMU running: this is what the sweep is for').not.toBe('');

    const next = await tsuite('run', '--target', 'qemu-x86', '--suite', 'boot', '--test', 'boot/cpus', '--reporter', 'json', '--output-dir', tempDir('after'));
    expect(next.code, next.stderr).toBe(0);
    expect(next.stderr).toMatch(/stopped 1 QEMU process\(es\) left by an earlier tsuite/);
    expect(qemuUnder(out)).toBe('');
  }, 120_000);
});
