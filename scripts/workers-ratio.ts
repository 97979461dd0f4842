/**
 * Measures `tsuite run --workers 2` against a serial run (`--workers 1`): the boot, kernel, syscall
 * and isolation suites on two targets, both settings interleaved round by round in one invocation
 * so machine drift hits both alike. Every pair of runs must give the same results (test ids,
 * statuses, order, counts); a difference is listed and fails the script. Prints per-target medians and the ratio
 * of the summed medians for the README's performance section ("Parallel sessions").
 *   node dist/scripts/workers-ratio.js [rounds]
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunResult } from '../src/core/result.js';
import { perfScratch } from './perf-scratch.js';

const rounds = Number(process.argv[2] ?? 3);
const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const scratch = perfScratch('tsuite-workers-ratio-');
const SUITES = 'boot,kernel,syscall,isolation';
/** The reference Linux guest, and tsuite's own fixture kernel (a plan of two sessions for these suites). */
const TARGETS: Record<string, string[]> = {
  'qemu-x86 (reference Linux)': ['--target', 'qemu-x86'],
  'qemu-x86 --kernel fixture': ['--target', 'qemu-x86', '--kernel', 'fixture', '--append', ''],
};

interface Timed { ms: number; result: RunResult }

function tsuiteRun(args: string[], workers: number): Promise<Timed> {
  const out = scratch.runDir();
  const started = performance.now();
  const child = spawn(process.execPath, [cli, 'run', ...args, '--suite', SUITES, '--reporter', 'json', '--workers', String(workers), '--output-dir', out], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, CI: 'true' } });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  // Every run started here ends: one that hangs is killed (tsuite then stops its QEMUs).
  const limit = setTimeout(() => child.kill('SIGTERM'), 300_000);
  return new Promise((resolve, reject) => child.on('close', (code) => {
    clearTimeout(limit);
    const ms = performance.now() - started;
    // 1 is a test that failed: its results still count, and are compared below.
    if (code !== 0 && code !== 1) {
      scratch.keep();
      return reject(new Error(`tsuite run ${args.join(' ')} --workers ${workers} ended with ${code}:\n${stderr}`));
    }
    resolve({ ms, result: JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as RunResult });
  }));
}

const outcome = (r: RunResult) => JSON.stringify({ tests: r.tests.map((t) => [t.id, t.status]), summary: { ...r.summary, durationMs: 0 } });
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const differences: string[] = [];
const times: Record<string, { 1: number[]; 2: number[]; sessions: string }> = {};
for (let round = 1; round <= rounds; round++) {
  for (const [name, args] of Object.entries(TARGETS)) {
    const t = (times[name] ??= { 1: [], 2: [], sessions: '' });
    // Alternate which goes first, so neither always runs on a host the other has just warmed.
    const order = round % 2 === 1 ? [1, 2] as const : [2, 1] as const;
    const got: Partial<Record<1 | 2, Timed>> = {};
    for (const w of order) got[w] = await tsuiteRun(args, w);
    if (outcome(got[1]!.result) !== outcome(got[2]!.result)) {
      const status = (r: RunResult) => new Map(r.tests.map((x) => [x.id, x.status]));
      const [s1, s2] = [status(got[1]!.result), status(got[2]!.result)];
      const diff = [...new Set([...s1.keys(), ...s2.keys()])].filter((id) => s1.get(id) !== s2.get(id)).map((id) => `${id}: ${s1.get(id)} serial, ${s2.get(id)} with 2 workers`);
      differences.push(`round ${round} ${name}: ${diff.join('; ') || 'order or counts differ'}`);
    }
    t[1].push(got[1]!.ms);
    t[2].push(got[2]!.ms);
    t.sessions = `${got[1]!.result.sessions.length} boot(s) serial, ${got[2]!.result.sessions.length} with 2 workers, ${got[1]!.result.summary.total} tests`;
    process.stderr.write(`round ${round} ${name}: serial ${(got[1]!.ms / 1000).toFixed(1)} s, 2 workers ${(got[2]!.ms / 1000).toFixed(1)} s\n`);
  }
}

let serial = 0;
let parallel = 0;
console.log(`suites ${SUITES}, ${rounds} interleaved rounds, medians:`);
for (const [name, t] of Object.entries(times)) {
  const [a, b] = [median(t[1]), median(t[2])];
  serial += a;
  parallel += b;
  console.log(`  ${name}: serial ${(a / 1000).toFixed(1)} s, --workers 2 ${(b / 1000).toFixed(1)} s, ratio ${(b / a).toFixed(2)} (${t.sessions})`);
}
console.log(`  both targets: serial ${(serial / 1000).toFixed(1)} s, --workers 2 ${(parallel / 1000).toFixed(1)} s, ratio ${(parallel / serial).toFixed(2)}`);
if (differences.length > 0) {
  console.log(`results differed between serial and --workers 2 (a flaky test, or a bug):\n  ${differences.join('\n  ')}`);
  process.exitCode = 1;
} else {
  console.log('  every pair of runs gave the same ids, statuses, order and counts');
}
