/**
 * Measures what tsuite adds to a boot: `tsuite run --suite boot` against a raw qemu-system run of
 * the same kernel, initramfs and cmdline to the same landmark followed by the same clean power-off
 * (the boot suite powers off, so the fair baseline does too), interleaved in one run so machine
 * drift hits both alike. Then the per-test overhead on a booted session: a suite of no-op tests
 * run from a --suite-files file, each test noting when it started, so the gap between consecutive
 * tests is what tsuite spends per test (dispatch, result, reporters), free of boot noise.
 * Prints medians and ratios for the README's performance section.
 *   npm run perf:boot -- [rounds] [no-op tests]
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveBoot } from '../kernel/resolve-boot.js';
import { createProgress } from '../src/core/progress.js';
import type { RunResult } from '../src/core/result.js';
import { findTarget } from '../src/core/target.js';
import { profileFor } from '../runners/qemu/profiles/index.js';
import { chooseAccel } from '../runners/qemu/accel.js';
import { raiseAutogroupPriority, SESSION_AUTOGROUP_NICE } from '../runners/qemu/autogroup.js';
import { perfScratch } from './perf-scratch.js';

const rounds = Number(process.argv[2] ?? 5);
const noopTests = Number(process.argv[3] ?? 200);
const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const scratch = perfScratch('tsuite-perf-');
const target = findTarget('qemu-x86');
const profile = profileFor(target.arch);
const { boot } = await resolveBoot(target, profile, createProgress(process.stderr, true));
const { accel } = await chooseAccel('auto', profile);

/**
 * A bare QEMU run: ms from spawn until the landmark line on the serial console, and ms from then
 * until QEMU exits after the same power-off command tsuite sends (`tsuite-poweroff` on the console).
 */
function rawBoot(): Promise<{ bootMs: number; totalMs: number }> {
  const args = ['-accel', accel, '-M', profile.machine, '-cpu', profile.cpu[accel], '-smp', String(target.cpus), '-m', String(target.memoryMb),
    '-nodefaults', '-display', 'none', '-no-reboot', '-serial', 'stdio', '-bios', profile.firmware!,
    '-kernel', boot.kernel, '-initrd', boot.initrd!, '-append', boot.cmdline,
    // The same guest agent port, so the guest does the same work before its landmark.
    '-device', 'virtio-serial-pci', '-chardev', 'null,id=qga0', '-device', 'virtserialport,chardev=qga0,name=org.qemu.guest_agent.0'];
  return new Promise((resolve, reject) => {
    const started = performance.now();
    // In a scheduling group of its own at the priority tsuite gives its machines (autogroup.ts), so
    // the ratio is what tsuite adds, not the shelter from other processes that tsuite gives QEMU.
    const qemu = spawn(profile.qemuBinary, args, { stdio: ['pipe', 'pipe', 'ignore'], detached: true });
    if (qemu.pid !== undefined) void raiseAutogroupPriority(qemu.pid, SESSION_AUTOGROUP_NICE);
    // Detached, it would outlive a Ctrl-C of this script (which exits through 'exit', below).
    const orphanGuard = () => qemu.kill('SIGKILL');
    process.once('exit', orphanGuard);
    // Every QEMU started here ends: a hung guest is killed after 60 s.
    const limit = setTimeout(() => qemu.kill('SIGKILL'), 60_000);
    let out = '';
    let bootMs: number | undefined;
    qemu.stdout.on('data', (d) => {
      out += d;
      if (bootMs === undefined && out.includes('tsuite-boot: ready')) {
        bootMs = performance.now() - started;
        qemu.stdin.write('tsuite-poweroff\n');
      }
    });
    qemu.on('exit', (code) => {
      clearTimeout(limit);
      process.off('exit', orphanGuard);
      if (bootMs === undefined) return reject(new Error('raw QEMU exited before the landmark'));
      if (code !== 0) return reject(new Error(`raw QEMU ended with status ${code}, not a clean power-off`));
      resolve({ bootMs, totalMs: performance.now() - started });
    });
  });
}

/** One `tsuite run` on qemu-x86: wall ms, and the run's results. */
function tsuiteRun(extra: string[]): Promise<{ wallMs: number; result: RunResult; out: string }> {
  const out = scratch.runDir();
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [cli, 'run', '--target', 'qemu-x86', ...extra, '--reporter', 'json', '--output-dir', out], { stdio: 'ignore' });
    child.on('exit', (code) => {
      const wallMs = performance.now() - started;
      if (code !== 0) {
        scratch.keep();
        return reject(new Error(`tsuite run exited ${code}; see ${out}`));
      }
      resolve({ wallMs, result: JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as RunResult, out });
    });
  });
}

/** A user suite of `n` tests that do nothing but note when they started (into TSUITE_PERF_STAMPS at the last one). */
function noopSuite(n: number): string {
  const file = join(scratch.dir, 'noop.suite.ts');
  writeFileSync(file, `import { writeFileSync } from 'node:fs';
const stamps: number[] = [];
export default {
  name: 'noop',
  description: 'tests that do nothing, to measure what tsuite spends per test',
  tests: Array.from({ length: ${n} }, (_, i) => ({
    name: 't' + i,
    title: 'does nothing',
    run: () => {
      stamps.push(performance.now());
      if (i === ${n - 1}) writeFileSync(process.env.TSUITE_PERF_STAMPS!, JSON.stringify(stamps));
    },
  })),
};
`);
  return file;
}

process.once('SIGINT', () => process.exit(130));

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const raw: number[] = [];
const rawBootMs: number[] = [];
const wall: number[] = [];
const toLandmark: number[] = [];
for (let i = 0; i < rounds; i++) {
  const r = await rawBoot();
  raw.push(r.totalMs);
  rawBootMs.push(r.bootMs);
  // A failed run (a garbled console line under a loaded host) is named and left out, not fatal to the measurement.
  const t = await tsuiteRun(['--suite', 'boot']).catch((err: Error) => err);
  if (t instanceof Error) {
    process.stderr.write(`round ${i + 1}/${rounds}: ${t.message}: left out\n`);
    continue;
  }
  wall.push(t.wallMs);
  toLandmark.push(t.result.sessions[0]!.bootMs!);
  process.stderr.write(`round ${i + 1}/${rounds}: raw boot ${r.bootMs.toFixed(0)} ms + power-off ${(r.totalMs - r.bootMs).toFixed(0)} ms, ` +
    `tsuite boot ${t.result.sessions[0]!.bootMs} ms, tsuite run ${t.wallMs.toFixed(0)} ms\n`);
}

// Per-test overhead: the gap between consecutive no-op tests' starts, in one booted session.
const stampsFile = join(scratch.dir, 'stamps.json');
process.env.TSUITE_PERF_STAMPS = stampsFile;
const noop = await tsuiteRun(['--suite', 'noop', '--suite-files', noopSuite(noopTests)]);
const passed = noop.result.tests.filter((t) => t.suite === 'noop' && t.status === 'passed').length;
if (passed !== noopTests) {
  scratch.keep();
  throw new Error(`${passed} of ${noopTests} no-op tests passed; see ${noop.out}`);
}
const stamps = JSON.parse(readFileSync(stampsFile, 'utf8')) as number[];
const gaps = stamps.slice(1).map((s, i) => s - stamps[i]!);
const meanGap = (stamps.at(-1)! - stamps[0]!) / gaps.length;

const base = median(raw);
const pad = (label: string) => label.padEnd(48);
console.log(`accel ${accel}, ${rounds} interleaved rounds, medians:`);
console.log(`  ${pad('raw qemu boot to landmark')}${median(rawBootMs).toFixed(0)} ms`);
console.log(`  ${pad('raw qemu boot + clean power-off (baseline)')}${base.toFixed(0)} ms`);
console.log(`  ${pad('tsuite boot to landmark')}${median(toLandmark).toFixed(0)} ms  (ratio to raw boot ${(median(toLandmark) / median(rawBootMs)).toFixed(2)})`);
console.log(`  ${pad('whole `tsuite run --suite boot`')}${median(wall).toFixed(0)} ms  (ratio to baseline ${(median(wall) / base).toFixed(2)})`);
console.log(`per-test overhead, ${noopTests} no-op tests in one session: median ${median(gaps).toFixed(2)} ms, mean ${meanGap.toFixed(2)} ms, max ${Math.max(...gaps).toFixed(1)} ms`);
