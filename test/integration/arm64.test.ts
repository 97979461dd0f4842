import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildInitramfs } from '../../kernel/initramfs/build-initramfs.js';
import { isForeignArch } from '../../kernel/reference/foreign-apt.js';
import { fetchReferenceGuest, type ReferenceGuest } from '../../kernel/reference/reference-guest.js';
import { profileFor } from '../../runners/qemu/profiles/index.js';
import { qemuRunner } from '../../runners/qemu/qemu-runner.js';
import { BootFailure } from '../../src/core/errors.js';
import { createProgress } from '../../src/core/progress.js';
import type { ProvisionRequest } from '../../src/core/runner.js';
import { parseBootReport } from '../../src/parsers/boot-report.js';
import { LINUX_EVENT_PATTERNS, scanKernelEvents } from '../../src/parsers/kernel-events.js';
import type { RunResult } from '../../src/core/result.js';
import { tempDir, tsuite } from './cli.js';
import { referenceRequest } from './reference-request.js';

/**
 * The qemu-arm64 target's reference guest (Debian's arm64 cloud kernel, arm64 busybox, the tsuite
 * initramfs) booted through the QEMU runner, checked for what the boot suite checks on x86.
 * The first run downloads ~22 MB of arm64 packages into the tsuite cache; later runs reuse them.
 */

const profile = profileFor('aarch64');
const quiet = createProgress(process.stderr, true);
/** As in suites/boot: firmware may keep a little RAM from the OS, no more. */
const FIRMWARE_RESERVED_KB = 2_048;

const qemuUnder = (dir: string) => {
  try {
    return execFileSync('pgrep', ['-f', `qemu-system.*${dir}`], { encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
};

let guest: ReferenceGuest;
let initrd: string;

const request = (name: string, append = ''): ProvisionRequest =>
  referenceRequest(`arm64-${name}`, 'aarch64', {
    kernel: guest.kernel.vmlinuz,
    initrd,
    cmdline: [profile.defaultCmdline, append].filter(Boolean).join(' '),
  });

beforeAll(async () => {
  guest = await fetchReferenceGuest(profile, quiet);
  initrd = await buildInitramfs({ modulesDir: guest.kernel.modulesDir, release: guest.kernel.release, busybox: guest.busybox }, quiet);
}, 300_000);

describe('qemu-arm64 reference guest', () => {
  it('is built from arm64 artifacts: a raw arm64 Image and an aarch64 busybox', () => {
    expect(guest.kernel.package).toMatch(/^linux-image-.*-arm64$/);
    // arm64 Image header: "ARM\x64" magic at offset 56.
    expect(readFileSync(guest.kernel.vmlinuz).subarray(56, 60).toString('latin1')).toBe('ARM\x64');
    // ELF e_machine 183 = EM_AARCH64.
    expect(readFileSync(guest.busybox).readUInt16LE(18)).toBe(183);
  });

  it('boots to the boot report with the machine it was given, then powers off cleanly', async () => {
    const req = request('ok');
    const session = await qemuRunner.provision(req, new AbortController().signal);
    await session.settling;
    try {
      // KVM cannot run an arm64 guest on another arch's host.
      if (isForeignArch('aarch64')) expect(session.accel).toBe('tcg');
      const lines = session.console.lines.map((l) => l.text);
      const report = parseBootReport(lines);
      expect(report, lines.slice(-20).join('\n')).toBeDefined();
      expect(report).toMatchObject({ arch: 'aarch64', release: guest.kernel.release, cmdline: req.boot.cmdline, cpus: 2 });
      expect(report!.uptimeS).toBeGreaterThan(0);
      const givenKb = req.memoryMb * 1024;
      expect(report!.memSystemRamKb).toBeLessThanOrEqual(givenKb);
      expect(report!.memSystemRamKb).toBeGreaterThanOrEqual(givenKb - FIRMWARE_RESERVED_KB);
      expect(report!.memTotalKb).toBeLessThan(report!.memSystemRamKb!);
      expect(report!.memTotalKb).toBeGreaterThan(report!.memSystemRamKb! / 2);
      expect(lines.filter((l) => /tsuite-init: insmod .* failed/.test(l))).toEqual([]);
      expect(scanKernelEvents(lines, LINUX_EVENT_PATTERNS, 0, session.landmarkLine! + 1)).toEqual([]);
      expect(readFileSync(join(req.dir, 'console.log'), 'utf8')).toContain('tsuite-boot: ready');

      const from = session.console.lines.length;
      const exit = await session.shutdown('arm64 test');
      // PSCI SYSTEM_OFF: QMP SHUTDOWN with reason guest-shutdown, QEMU status 0.
      expect(exit).toMatchObject({ kind: 'clean', code: 0 });
      expect(scanKernelEvents(session.console.lines.map((l) => l.text), LINUX_EVENT_PATTERNS, from)).toEqual([]);
    } finally {
      await session[Symbol.asyncDispose]();
    }
    expect(qemuUnder(req.dir)).toBe('');
  }, 90_000);

  it('a panic at boot (init=/nonexistent) ends QEMU and is reported as crashed', async () => {
    const req = request('panic', 'init=/nonexistent');
    const failure = await qemuRunner.provision(req, new AbortController().signal).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(BootFailure);
    expect(failure).toMatchObject({ kind: 'crashed', message: expect.stringContaining('Kernel panic - not syncing'), exit: { kind: 'panic' } });
    expect(existsSync(join(req.dir, 'console.log'))).toBe(true);
    expect(qemuUnder(req.dir)).toBe('');
  }, 90_000);
});

describe('npx tsuite run --target qemu-arm64', () => {
  it('passes the boot suite exactly as on x86', async () => {
    const out = tempDir('arm64-cli');
    const run = await tsuite('run', '--target', 'qemu-arm64', '--suite', 'boot', '--reporter', 'json', '--output-dir', out);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const r = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as RunResult;
    expect(r.tests.map((t) => [t.id, t.status])).toEqual(r.tests.map((t) => [t.id, 'passed']));
    expect(r.tests.length).toBeGreaterThanOrEqual(8);
    expect(r.run.accel).toBe('tcg');
    expect(r.sessions[0]?.exit?.kind).toBe('clean');
  }, 120_000);
});
