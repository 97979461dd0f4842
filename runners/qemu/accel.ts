import { spawn } from 'node:child_process';
import { constants, existsSync } from 'node:fs';
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { arch as hostArch, cpus, release } from 'node:os';
import { dirname, join } from 'node:path';
import { exec } from '../../src/core/exec.js';
import { pathOf } from '../../src/core/host-requirement.js';
import { cacheDir } from '../../src/core/paths.js';
import { statMemo } from '../../src/core/stat-memo.js';
import type { Accel } from '../../src/core/session.js';
import type { ArchProfile } from './arch-profile.js';

/** Stderr lines that mean KVM cannot run this guest here (nested KVM often fails this way). */
export const KVM_FAILURE = /KVM internal error|failed to initialize kvm|Could not access KVM kernel module|kvm run failed/i;

const versions = new Map<string, string>();

/**
 * `QEMU emulator version 7.2.22 (Debian ...)` → `7.2.22`; undefined when the binary is missing.
 * Asking costs QEMU's start-up (~80 ms, on every run): the answer is kept per binary file until that
 * file changes (an upgrade replaces it).
 */
export async function qemuVersion(binary: string): Promise<string | undefined> {
  if (!versions.has(binary)) {
    const file = binary.includes('/') ? binary : pathOf(binary);
    if (file === undefined) return undefined;
    const v = await statMemo(join(cacheDir(), 'memo', 'qemu-version'), file, async () => {
      const answer = await askQemuVersion(binary);
      return { value: answer ?? null, inputs: answer ? [file] : [] };
    }, [file]);
    if (v) versions.set(binary, v);
  }
  return versions.get(binary);
}

async function askQemuVersion(binary: string): Promise<string | undefined> {
  try {
    const r = await exec(binary, ['--version']);
    return /version (\S+)/.exec(r.stdout)?.[1];
  } catch {
    return undefined;
  }
}

interface Verdict {
  usable: boolean;
  reason: string;
  checkedAt: string;
}

const verdictFile = () => join(cacheDir(), 'kvm-verdicts.json');
const verdictKey = async (p: ArchProfile) => `${p.arch}|${await qemuVersion(p.qemuBinary)}|${release()}|${cpus()[0]?.model ?? ''}`;

async function readVerdicts(): Promise<Record<string, Verdict>> {
  try {
    return JSON.parse(await readFile(verdictFile(), 'utf8')) as Record<string, Verdict>;
  } catch {
    return {};
  }
}

/** Remembers whether KVM ran a guest on this host, QEMU and CPU, so later runs skip the retry. */
export async function recordKvmVerdict(profile: ArchProfile, usable: boolean, reason: string): Promise<void> {
  const all = await readVerdicts();
  all[await verdictKey(profile)] = { usable, reason, checkedAt: new Date().toISOString() };
  await mkdir(dirname(verdictFile()), { recursive: true });
  await writeFile(verdictFile(), JSON.stringify(all, null, 2) + '\n');
}

const QEMU_ARCH: Record<string, string> = { x64: 'x86_64', arm64: 'aarch64' };

export interface AccelChoice {
  accel: Exclude<Accel, 'none'>;
  /** Why: shown in the report next to the accelerator. */
  reason: string;
  /** True when KVM is being tried for the first time here and a failure should fall back to TCG. */
  tentative: boolean;
}

/**
 * KVM only when it can work: same arch, /dev/kvm read-write, and no earlier boot on this host
 * showed it failing. `/dev/kvm` opening is not proof (nested KVM can fail on the first guest
 * instruction), so an untried KVM is tentative: the runner falls back to TCG if the boot fails.
 */
export async function chooseAccel(requested: Accel | 'auto', profile: ArchProfile): Promise<AccelChoice> {
  if (requested === 'kvm' || requested === 'tcg') return { accel: requested, reason: 'requested', tentative: false };
  if (QEMU_ARCH[hostArch()] !== profile.arch) return { accel: 'tcg', reason: `guest arch ${profile.arch} differs from the host's`, tentative: false };
  if (!existsSync('/dev/kvm')) return { accel: 'tcg', reason: 'no /dev/kvm on this host', tentative: false };
  try {
    await access('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    return { accel: 'tcg', reason: '/dev/kvm is not read-write for this user (add it to the kvm group)', tentative: false };
  }
  const verdict = (await readVerdicts())[await verdictKey(profile)];
  if (verdict) return { accel: verdict.usable ? 'kvm' : 'tcg', reason: verdict.reason, tentative: false };
  return { accel: 'kvm', reason: 'first try of KVM on this host', tentative: true };
}

/**
 * The doctor's check: boot `kernel` under KVM with no root so it runs to its "unable to mount
 * root" panic. Reaching that panic proves KVM executes the kernel; an internal error disproves it.
 */
export async function probeKvm(profile: ArchProfile, kernel: string, timeoutMs = 10_000): Promise<Verdict> {
  const args = ['-accel', 'kvm', '-M', profile.machine, '-cpu', profile.cpu.kvm, '-m', '256', '-nodefaults', '-display', 'none',
    '-no-reboot', '-serial', 'stdio', '-kernel', kernel, '-append', `${profile.defaultCmdline} root=/dev/nonexistent`];
  return new Promise((resolve) => {
    const child = spawn(profile.qemuBinary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let settled = false;
    const done = (usable: boolean, reason: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      resolve({ usable, reason, checkedAt: new Date().toISOString() });
    };
    // Real KVM reaches the panic in well under 2 s; nested KVM here either crawls or stalls.
    const timer = setTimeout(() => done(false, `a kernel under KVM did not reach its end within ${timeoutMs} ms`), timeoutMs);
    child.stdout.on('data', (d: Buffer) => {
      out += d;
      if (/Kernel panic|VFS: Unable to mount root/.test(out)) done(true, 'KVM ran the kernel to its end (boot probe)');
    });
    child.stderr.on('data', (d: Buffer) => {
      const m = KVM_FAILURE.exec(String(d));
      if (m) done(false, `KVM fails here: ${m[0]}`);
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', (e) => done(false, `cannot start ${profile.qemuBinary}: ${e.message}`));
    // Nested KVM may also kill QEMU outright (a failed MSR write trips an assertion).
    child.on('exit', () => done(false, `QEMU under KVM died: ${stderr.trim().split('\n').pop() ?? 'no message'}`));
  });
}
