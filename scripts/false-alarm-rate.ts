/**
 * How often `tsuite compare` raises a false alarm, and how often it sees a real change, on this
 * machine, in each benchmark clock mode. Every comparison is a real `tsuite compare` run:
 *
 * - A/A: the same kernel as A and as B. Every `regressed` or `improved` verdict is a false alarm.
 * - Detection: B boots with a known slowdown (default `audit=1`, which makes getppid slower and
 *   leaves the other metrics alone: fixtures/bench/SETTINGS.md). The changed metric must come out
 *   `regressed`, or `noisy` with a detectable effect above the true change; never `unchanged` or
 *   `improved`.
 *
 *   npm run bench:false-alarms -- [--clock instructions,time] [--aa-runs 10] [--detect-runs 10]
 *     [--boots N] [--detect-boots N] [--max-boots N] [--change audit=1] [--metric syscall/getppid] [--true-change 0.25]
 *     [--target qemu-x86] [--duet] [--out DIR]
 *
 * `--duet` measures time mode with A and B booted at the same time. Beside the verdicts, the
 * summary gives the spread of the per-pair log ratios of the A/A runs (the noise a paired test
 * sees), so a duet and a sequential run can be set side by side.
 *
 * Prints a summary for the README and writes it, with every comparison, to <out>/summary.json.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { BenchClock } from '../src/bench/clock.js';
import type { BenchRun, Comparison, MetricComparison, Verdict } from '../src/bench/model.js';
import { median } from '../src/bench/stats.js';

/** Per metric, the sample standard deviation of log(B_i / A_i) over the pairs of one A/B run. */
function pairSpreads(dir: string): Map<string, number> {
  const read = (side: string) => JSON.parse(readFileSync(join(dir, `bench-${side}.json`), 'utf8')) as BenchRun;
  const a = read('a');
  const b = read('b');
  const out = new Map<string, number>();
  for (const mb of b.metrics) {
    const ma = a.metrics.find((m) => m.name === mb.name);
    if (!ma || ma.samples.length !== mb.samples.length || mb.samples.length < 2) continue;
    const d = mb.samples.map((v, i) => Math.log(v / ma.samples[i]!));
    const mean = d.reduce((s, x) => s + x, 0) / d.length;
    out.set(mb.name, Math.sqrt(d.reduce((s, x) => s + (x - mean) ** 2, 0) / (d.length - 1)));
  }
  return out;
}

const { values: opts } = parseArgs({
  options: {
    clock: { type: 'string', default: 'instructions,time' },
    'aa-runs': { type: 'string', default: '10' },
    'detect-runs': { type: 'string', default: '10' },
    boots: { type: 'string' },
    // Boots per side of the detection runs (default: --boots): a large change needs fewer.
    'detect-boots': { type: 'string' },
    'max-boots': { type: 'string' },
    change: { type: 'string', default: 'audit=1' },
    metric: { type: 'string', default: 'syscall/getppid' },
    // The smallest true change of --change on --metric in real time (SETTINGS.md: +28–30% in time
    // mode); a `noisy` verdict must state a detectable effect above it.
    'true-change': { type: 'string', default: '0.25' },
    target: { type: 'string', default: 'qemu-x86' },
    duet: { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});

const clocks = opts.clock.split(',').map((c) => c.trim()) as BenchClock[];
for (const c of clocks) if (c !== 'instructions' && c !== 'time') throw new Error(`--clock takes instructions and/or time, not '${c}'`);
const aaRuns = Number(opts['aa-runs']);
const detectRuns = Number(opts['detect-runs']);
const trueChange = Number(opts['true-change']);
const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const out = opts.out ?? mkdtempSync(join(tmpdir(), 'tsuite-verdicts-'));
mkdirSync(out, { recursive: true });

function compareOnce(dir: string, clock: BenchClock, appendB?: string): Promise<Comparison> {
  const args = [cli, 'compare', '--target', opts.target, '--kernel-a', 'reference', '--kernel-b', 'reference', '--clock', clock, '--format', 'json', '-o', dir];
  const boots = appendB ? opts['detect-boots'] ?? opts.boots : opts.boots;
  if (boots) args.push('--boots', boots);
  if (opts['max-boots']) args.push('--max-boots', opts['max-boots']);
  if (appendB) args.push('--append-b', appendB);
  if (opts.duet && clock === 'time') args.push('--duet');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, CI: 'true' } });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0 && code !== 1) return reject(new Error(`tsuite compare exited with ${code}; see ${dir}`));
      resolve(JSON.parse(readFileSync(join(dir, 'compare.json'), 'utf8')) as Comparison);
    });
  });
}

const isAlarm = (m: MetricComparison) => m.verdict === 'regressed' || m.verdict === 'improved';
const pct = (n: number, of: number) => `${((100 * n) / Math.max(1, of)).toFixed(1)}%`;
const tally = (ms: readonly MetricComparison[]) => {
  const t = new Map<Verdict, number>();
  for (const m of ms) t.set(m.verdict, (t.get(m.verdict) ?? 0) + 1);
  return [...t].map(([v, n]) => `${v} ${n}`).join(', ');
};

interface ModeSummary {
  clock: BenchClock;
  aa: { runs: number; comparisons: number; ownClock: number; falseAlarms: string[]; suspected: number; verdicts: string; minutes: number; pairSpread: Record<string, number> };
  detect: { runs: number; verdicts: string[]; regressed: number; honestNoisy: number; wrong: string[]; minutes: number };
}

const summaries: ModeSummary[] = [];
for (const clock of clocks) {
  const started = Date.now();
  const aaMetrics: MetricComparison[] = [];
  const falseAlarms: string[] = [];
  const spreads = new Map<string, number[]>();
  for (let i = 1; i <= aaRuns; i++) {
    const dir = join(out, `${clock}-aa-${i}`);
    const c = await compareOnce(dir, clock);
    for (const [name, sd] of pairSpreads(dir)) spreads.set(name, [...(spreads.get(name) ?? []), sd]);
    for (const m of c.metrics) {
      aaMetrics.push(m);
      if (isAlarm(m)) falseAlarms.push(`A/A run ${i}: ${m.name} ${m.verdict} (${m.why})`);
    }
    process.stderr.write(`${clock} A/A ${i}/${aaRuns}: ${c.metrics.length} metrics, ${falseAlarms.length} false alarm(s) so far\n`);
  }
  const aaMinutes = (Date.now() - started) / 60_000;
  const detectStarted = Date.now();
  const verdicts: string[] = [];
  const wrong: string[] = [];
  let regressed = 0;
  let honestNoisy = 0;
  for (let i = 1; i <= detectRuns; i++) {
    const c = await compareOnce(join(out, `${clock}-detect-${i}`), clock, opts.change);
    const m = c.metrics.find((x) => x.name === opts.metric);
    const line = m ? `${m.verdict} ${m.ratio?.toFixed(3) ?? '-'}${m.detectable !== undefined ? ` (detectable ±${(m.detectable * 100).toFixed(1)}%)` : ''}` : 'missing';
    verdicts.push(line);
    if (m?.verdict === 'regressed') regressed++;
    else if (m?.verdict === 'noisy' && m.detectable !== undefined && m.detectable > trueChange) honestNoisy++;
    else wrong.push(`run ${i}: ${line}${m ? `: ${m.why}` : ''}`);
    process.stderr.write(`${clock} detection ${i}/${detectRuns}: ${opts.metric} ${line}\n`);
  }
  // Own-clock comparisons: in instruction mode the host-timed metrics (agent, host boot time) stay real time.
  const ownClock = aaMetrics.filter((m) => (m.clock ?? 'time') === clock).length;
  summaries.push({
    clock,
    aa: {
      runs: aaRuns, comparisons: aaMetrics.length, ownClock, falseAlarms, suspected: aaMetrics.filter((m) => m.remeasured).length, verdicts: tally(aaMetrics), minutes: aaMinutes,
      // The median over runs of each metric's spread of per-pair log ratios.
      pairSpread: Object.fromEntries([...spreads].map(([name, sds]) => [name, median(sds)])),
    },
    detect: { runs: detectRuns, verdicts, regressed, honestNoisy, wrong, minutes: (Date.now() - detectStarted) / 60_000 },
  });
}

const lines = [`tsuite compare on ${opts.target}, boots ${opts.boots ?? 'default'} (detection: ${opts['detect-boots'] ?? opts.boots ?? 'default'}), max boots ${opts['max-boots'] ?? 'default'}${opts.duet ? ', time mode as a duet' : ''} (evidence: ${out})`];
for (const s of summaries) {
  lines.push(
    '',
    `${s.clock} mode`,
    `  A/A: ${s.aa.runs} runs, ${s.aa.comparisons} metric comparisons (${s.aa.ownClock} on the ${s.clock} clock), ${s.aa.minutes.toFixed(1)} min`,
    `  false alarms (regressed or improved): ${s.aa.falseAlarms.length} = ${pct(s.aa.falseAlarms.length, s.aa.comparisons)}; suspected before re-measurement: ${s.aa.suspected}`,
    `  verdicts: ${s.aa.verdicts}`,
    ...s.aa.falseAlarms.map((a) => `    ${a}`),
    `  spread of per-pair log ratios (median over runs): ${Object.entries(s.aa.pairSpread).map(([n, v]) => `${n} ${v.toFixed(4)}`).join(', ')}`,
    `  detection of ${opts.change} on ${opts.metric}: ${s.detect.runs} runs, ${s.detect.minutes.toFixed(1)} min`,
    `  regressed ${s.detect.regressed}/${s.detect.runs}; noisy with a detectable effect above ${(trueChange * 100).toFixed(0)}%: ${s.detect.honestNoisy}; wrong: ${s.detect.wrong.length}`,
    `  verdicts: ${s.detect.verdicts.join('; ')}`,
    ...s.detect.wrong.map((w) => `    ${w}`),
  );
}
writeFileSync(join(out, 'summary.json'), `${JSON.stringify({ target: opts.target, change: opts.change, metric: opts.metric, trueChange, summaries }, null, 2)}\n`);
process.stdout.write(`${lines.join('\n')}\n`);
