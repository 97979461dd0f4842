import { join } from 'node:path';
import { writeFileAtomic } from '../core/write-file-atomic.js';
import type { BenchRun, Comparison, MetricComparison } from '../bench/model.js';
import { applyRemeasurement, compareMetrics, suspected, testName, withoutRemeasurement } from '../bench/verdict.js';
import { measureInterleaved, type BootsRequest } from './bench-boots.js';
import { benchTarget } from './commands/bench.js';
import type { PreparedTarget } from './suite-run.js';

export interface AbRequest extends BootsRequest {
  a: PreparedTarget;
  b: PreparedTarget;
  labels: { a: string; b: string };
  pairs: number;
  settings: { minEffect: number; alpha: number };
  remeasure: boolean;
}

/**
 * B against A, metric by metric (only `names`, when given: a re-measurement tests just the
 * suspected metrics, so its Benjamini–Hochberg correction is over those). Pairs line up only when
 * every boot of both produced the metric.
 */
function compareRuns(a: BenchRun, b: BenchRun, settings: AbRequest['settings'], names?: ReadonlySet<string>): MetricComparison[] {
  return compareMetrics(
    b.metrics.filter((m) => !names || names.has(m.name)).map((m) => {
      const base = a.metrics.find((x) => x.name === m.name);
      const paired = base !== undefined && base.samples.length === m.samples.length && m.samples.length === a.boots && a.boots === b.boots;
      return { def: { name: m.name, unit: m.unit, better: m.better }, base: base?.samples, head: m.samples, paired };
    }),
    settings,
  );
}


/**
 * Kernels A and B booted pair by pair on this machine. A change that looks real is measured again
 * on fresh pairs, and only a change both measurements show is reported.
 */
export async function compareAb(req: AbRequest): Promise<{ comparison: Comparison; runs: BenchRun[]; complete: boolean }> {
  const first = await measureInterleaved(req.a, req.b, req.pairs, req);
  const runs: BenchRun[] = [];
  const measure = async (boots: typeof first, suffix: string) => {
    const a = await benchTarget(req.a, boots.a, { runId: `${req.runId}-a${suffix}` });
    const b = await benchTarget(req.b, boots.b, { runId: `${req.runId}-b${suffix}` });
    runs.push(a, b);
    await writeFileAtomic(join(req.outputDir, `bench-a${suffix}.json`), `${JSON.stringify(a, null, 2)}\n`);
    await writeFileAtomic(join(req.outputDir, `bench-b${suffix}.json`), `${JSON.stringify(b, null, 2)}\n`);
    return { a, b };
  };
  let complete = first.a.length === req.pairs;
  const { a, b } = await measure(first, '');
  let metrics = compareRuns(a, b, req.settings);
  const names = suspected(metrics);
  if (names.size > 0) {
    if (req.remeasure && !req.signal.aborted) {
      req.log?.('a change stands out: measuring it again on fresh pairs before reporting it');
      const again = await measureInterleaved(req.a, req.b, req.pairs, req, 'recheck');
      complete &&= again.a.length === req.pairs;
      const second = await measure(again, '-recheck');
      metrics = applyRemeasurement(metrics, compareRuns(second.a, second.b, req.settings, names), req.settings);
    } else {
      metrics = withoutRemeasurement(metrics);
    }
  }
  return {
    comparison: {
      mode: 'ab',
      base: { label: req.labels.a },
      head: { label: req.labels.b },
      target: a.target,
      fingerprint: a.fingerprint,
      settings: { ...req.settings, test: testName(true) },
      metrics,
    },
    runs,
    complete,
  };
}
