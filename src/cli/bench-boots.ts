import { join } from 'node:path';
import type { RunResult } from '../core/result.js';
import { createReporters } from '../reporters/index.js';
import { runSuites, type PreparedTarget } from './suite-run.js';

/** The bench suite's tests, on a fresh boot each time. */
export interface BootsRequest {
  runId: string;
  outputDir: string;
  grep?: readonly string[];
  testTimeoutMs: number;
  signal: AbortSignal;
  /** Written to stderr after each boot. */
  log?: (line: string) => void;
}

/** One boot: the bench suite on a fresh machine, its results.json in `<outputDir>/<name>/`. */
async function oneBoot(prepared: PreparedTarget, name: string, req: BootsRequest): Promise<RunResult> {
  const outputDir = join(req.outputDir, name);
  const started = Date.now();
  const result = await runSuites(prepared, {
    suites: ['bench'],
    grep: req.grep,
    runId: `${req.runId}-${name}`,
    outputDir,
    reporters: createReporters(['json'], { outputDir }),
    testTimeoutMs: req.testTimeoutMs,
    signal: req.signal,
  });
  const bad = result.tests.filter((t) => t.status !== 'passed' && t.status !== 'skipped').length;
  const metrics = result.tests.reduce((n, t) => n + t.metrics.length, 0);
  req.log?.(`${name}: ${metrics} metrics${bad > 0 ? `, ${bad} benchmark(s) not passed` : ''} (${((Date.now() - started) / 1000).toFixed(1)}s, ${result.run.accel})`);
  return result;
}

/** A boot that could not run anything makes the next ones pointless: the same failure would repeat. */
const hopeless = (r: RunResult) => r.run.interrupted !== undefined || (r.run.infraError !== undefined && r.tests.every((t) => t.status === 'infraError'));

/** N independent boots of one kernel. */
export async function measureBoots(prepared: PreparedTarget, count: number, req: BootsRequest, label = 'boot'): Promise<RunResult[]> {
  const results: RunResult[] = [];
  for (let i = 1; i <= count && !req.signal.aborted; i++) {
    const r = await oneBoot(prepared, `${label}-${i}`, req);
    results.push(r);
    if (hopeless(r)) break;
  }
  return results;
}

/**
 * Two kernels booted pair by pair, so slow drift of a shared machine hits both alike. The order
 * within a pair alternates (AB, BA, AB, ...) so neither kernel always runs on a machine warmed
 * by the other.
 */
export async function measureInterleaved(
  a: PreparedTarget,
  b: PreparedTarget,
  pairs: number,
  req: BootsRequest,
  label = 'pair',
): Promise<{ a: RunResult[]; b: RunResult[] }> {
  const out = { a: [] as RunResult[], b: [] as RunResult[] };
  for (let i = 1; i <= pairs && !req.signal.aborted; i++) {
    const order = i % 2 === 1 ? (['a', 'b'] as const) : (['b', 'a'] as const);
    for (const side of order) {
      if (req.signal.aborted) break;
      const r = await oneBoot(side === 'a' ? a : b, `${label}-${i}-${side}`, req);
      out[side].push(r);
      if (hopeless(r)) return out;
    }
  }
  // A pair cut short by an interrupt leaves one side a boot ahead: drop it so pairs stay pairs.
  const n = Math.min(out.a.length, out.b.length);
  return { a: out.a.slice(0, n), b: out.b.slice(0, n) };
}
