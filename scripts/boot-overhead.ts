/**
 * Measures what tsuite adds to a boot: `tsuite run --suite boot` against a raw qemu-system boot of
 * the same kernel, initramfs and cmdline to the same landmark, interleaved in one run so machine
 * drift hits both alike. Prints medians and ratios for the README's performance section.
 *   npm run perf:boot -- [rounds]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveBoot } from '../kernel/resolve-boot.js';
import { createProgress } from '../src/core/progress.js';
import type { RunResult } from '../src/core/result.js';
import { findTarget } from '../src/core/target.js';
import { profileFor } from '../runners/qemu/profiles/index.js';
import { chooseAccel } from '../runners/qemu/accel.js';

const rounds = Number(process.argv[2] ?? 5);
const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const target = findTarget('qemu-x86');
const profile = profileFor(target.arch);
const { boot } = await resolveBoot(target, profile, createProgress(process.stderr, true));
const { accel } = await chooseAccel('auto', profile);

/** A bare QEMU boot: ms from spawn until the landmark line appears on the serial console. */
function rawBoot(): Promise<number> {
  const args = ['-accel', accel, '-M', profile.machine, '-cpu', profile.cpu[accel], '-smp', String(target.cpus), '-m', String(target.memoryMb),
    '-nodefaults', '-display', 'none', '-no-reboot', '-serial', 'stdio', '-bios', profile.firmware!,
    '-kernel', boot.kernel, '-initrd', boot.initrd!, '-append', boot.cmdline,
    // The same guest agent port, so the guest does the same work before its landmark.
    '-device', 'virtio-serial-pci', '-chardev', 'null,id=qga0', '-device', 'virtserialport,chardev=qga0,name=org.qemu.guest_agent.0'];
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const qemu = spawn(profile.qemuBinary, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    qemu.stdout.on('data', (d) => {
      out += d;
      if (out.includes('tsuite-boot: ready')) {
        resolve(performance.now() - started);
        qemu.kill('SIGKILL');
      }
    });
    qemu.on('exit', () => reject(new Error('raw QEMU exited before the landmark')));
  });
}

/** The whole `tsuite run --suite boot`: wall ms, and tsuite's own spawn-to-landmark ms. */
function tsuiteRun(): Promise<{ wallMs: number; bootMs: number }> {
  const out = mkdtempSync(join(tmpdir(), 'tsuite-perf-'));
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [cli, 'run', '--target', 'qemu-x86', '--suite', 'boot', '--reporter', 'json', '--output-dir', out], { stdio: 'ignore' });
    child.on('exit', (code) => {
      const wallMs = performance.now() - started;
      if (code !== 0) return reject(new Error(`tsuite run exited ${code}; see ${out}`));
      const r = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as RunResult;
      resolve({ wallMs, bootMs: r.sessions[0]!.bootMs! });
    });
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const raw: number[] = [];
const wall: number[] = [];
const toLandmark: number[] = [];
for (let i = 0; i < rounds; i++) {
  raw.push(await rawBoot());
  const t = await tsuiteRun();
  wall.push(t.wallMs);
  toLandmark.push(t.bootMs);
  process.stderr.write(`round ${i + 1}/${rounds}: raw ${raw[i]!.toFixed(0)} ms, tsuite boot ${t.bootMs} ms, tsuite run ${t.wallMs.toFixed(0)} ms\n`);
}
const r = median(raw);
console.log(`accel ${accel}, ${rounds} interleaved rounds, medians:`);
console.log(`  raw qemu boot to landmark         ${r.toFixed(0)} ms`);
console.log(`  tsuite boot to landmark           ${median(toLandmark).toFixed(0)} ms  (ratio ${(median(toLandmark) / r).toFixed(2)})`);
console.log(`  whole \`tsuite run --suite boot\`   ${median(wall).toFixed(0)} ms  (ratio ${(median(wall) / r).toFixed(2)})`);
