/**
 * Measures the false-alarm rate of `tsuite compare` on this machine: the same kernel as A and as B
 * (an A/A run), repeated. Every `regressed` or `improved` verdict is then a false alarm; the count
 * before re-measurement shows what the re-measurement saves. Prints a summary for the README.
 *   npm run bench:false-alarms -- [repeats=5] [pairs=5] [target=qemu-x86]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Comparison, Verdict } from '../src/bench/model.js';

const repeats = Number(process.argv[2] ?? 5);
const pairs = process.argv[3] ?? '5';
const target = process.argv[4] ?? 'qemu-x86';
const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const out = mkdtempSync(join(tmpdir(), 'tsuite-aa-'));

function compareOnce(dir: string): Promise<Comparison> {
  const args = [cli, 'compare', '--target', target, '--kernel-a', 'reference', '--kernel-b', 'reference', '--boots', pairs, '--format', 'json', '-o', dir];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, CI: 'true' } });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0 && code !== 1) return reject(new Error(`tsuite compare exited with ${code}; see ${dir}`));
      resolve(JSON.parse(readFileSync(join(dir, 'compare.json'), 'utf8')) as Comparison);
    });
  });
}

const verdicts = new Map<Verdict, number>();
let comparisons = 0;
let suspected = 0;
const alarms: string[] = [];
for (let i = 1; i <= repeats; i++) {
  const c = await compareOnce(join(out, `aa-${i}`));
  for (const m of c.metrics) {
    comparisons++;
    verdicts.set(m.verdict, (verdicts.get(m.verdict) ?? 0) + 1);
    if (m.remeasured) suspected++;
    if (m.verdict === 'regressed' || m.verdict === 'improved') alarms.push(`run ${i}: ${m.name} ${m.verdict} (${m.why})`);
  }
  process.stderr.write(`A/A ${i}/${repeats}: ${c.metrics.length} metrics, ${alarms.length} false alarm(s) so far\n`);
}
const pct = (n: number) => `${((100 * n) / Math.max(1, comparisons)).toFixed(1)}%`;
process.stdout.write(
  [
    `A/A on ${target}: ${repeats} runs x ${pairs} pairs, ${comparisons} metric comparisons (evidence: ${out})`,
    `false alarms (regressed or improved): ${alarms.length} = ${pct(alarms.length)} of comparisons; runs with any: ${new Set(alarms.map((a) => a.split(':')[0])).size}/${repeats}`,
    `suspected before re-measurement: ${suspected} = ${pct(suspected)}`,
    `verdicts: ${[...verdicts].map(([v, n]) => `${v} ${n}`).join(', ')}`,
    ...alarms,
    '',
  ].join('\n'),
);
