import { join } from 'node:path';
import { writeFileAtomic } from '../core/write-file-atomic.js';
import type { BenchRun, Comparison, MetricComparison } from '../bench/model.js';
import { describeStopping, nextBatch, planLooks, undecided } from '../bench/adaptive.js';
import { applyRemeasurement, compareMetrics, suspected, testName, withoutRemeasurement } from '../bench/verdict.js';
import { measureDuet, measureInterleaved, type BootsRequest, type MeasuredPairs } from './bench-boots.js';
import { benchTarget } from './bench-run.js';
import type { PreparedTarget } from './suite-run.js';

export interface AbRequest extends BootsRequest {
  a: PreparedTarget;
  b: PreparedTarget;
  labels: { a: string; b: string };
  pairs: number;
  /**
   * Adaptive boots: the most pairs to grow to while a metric is still `noisy` (src/bench/adaptive.ts);
   * `pairs` or fewer (or absent) measures exactly `pairs`.
   */
  maxPairs?: number;
  /** A and B at the same time, each on its own half of the host (measureDuet), instead of one after the other. */
  duet?: boolean;
  settings: { minEffect: number; minEffectInstructions: number; alpha: number };
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
      return { def: { name: m.name, unit: m.unit, better: m.better, ...(m.clock ? { clock: m.clock } : {}) }, base: base?.samples, head: m.samples, paired };
    }),
    settings,
  );
}


/**
 * Kernels A and B booted pair by pair on this machine (or as a duet, both at once). While some
 * metric is still `noisy` more pairs are measured, up to `maxPairs`, every look held to alpha over
 * the planned looks (src/bench/adaptive.ts). A change that looks real is then measured again on as
 * many fresh pairs, and only a change both measurements show is reported.
 */
export async function compareAb(req: AbRequest): Promise<{ comparison: Comparison; runs: BenchRun[]; complete: boolean }> {
  const plan = planLooks(req.pairs, req.maxPairs ?? req.pairs, req.settings.alpha);
  // Every look's tests at alpha / looks: stopping when things look decided cannot then raise false alarms.
  const lookSettings = { ...req.settings, alpha: plan.alphaPerLook };
  const measurePairs = (n: number, label: string, first: number) =>
    req.duet ? measureDuet(req.a, req.b, n, req, label === 'pair' ? 'duet' : label, first) : measureInterleaved(req.a, req.b, n, req, label, first);
  const runs: BenchRun[] = [];
  const fold = async (boots: MeasuredPairs, suffix: string) => ({
    a: await benchTarget(req.a, boots.a, { runId: `${req.runId}-a${suffix}` }),
    b: await benchTarget(req.b, boots.b, { runId: `${req.runId}-b${suffix}` }),
  });
  const keep = async (sides: { a: BenchRun; b: BenchRun }, suffix: string) => {
    runs.push(sides.a, sides.b);
    await writeFileAtomic(join(req.outputDir, `bench-a${suffix}.json`), `${JSON.stringify(sides.a, null, 2)}\n`);
    await writeFileAtomic(join(req.outputDir, `bench-b${suffix}.json`), `${JSON.stringify(sides.b, null, 2)}\n`);
  };

  const boots = await measurePairs(req.pairs, 'pair', 1);
  let complete = boots.a.length === req.pairs;
  let looks = 1;
  let sides = await fold(boots, '');
  let metrics = compareRuns(sides.a, sides.b, lookSettings);
  // A batch cut short (an interrupt, a boot that could not run) ends the growing: more would fail alike.
  for (let add = nextBatch(plan, boots.a.length, looks, metrics, sides.a.clock); add > 0 && complete && !req.signal.aborted; add = nextBatch(plan, boots.a.length, looks, metrics, sides.a.clock)) {
    const open = undecided(metrics, sides.a.clock);
    req.log?.(`${open.length} metric(s) still noisy (${open.slice(0, 3).join(', ')}${open.length > 3 ? ', ...' : ''}): ${add} more pair(s), look ${looks + 1} of at most ${plan.looks}`);
    const more = await measurePairs(add, 'pair', boots.a.length + 1);
    complete = more.a.length === add;
    boots.a.push(...more.a);
    boots.b.push(...more.b);
    looks++;
    sides = await fold(boots, '');
    metrics = compareRuns(sides.a, sides.b, lookSettings);
  }
  await keep(sides, '');
  const used = boots.a.length;

  const names = suspected(metrics);
  if (names.size > 0) {
    if (req.remeasure && !req.signal.aborted) {
      // As many pairs as the first measurement ended with: a change that took 20 pairs to see needs as many to confirm.
      req.log?.(`a change stands out: measuring it again on ${used} fresh pairs before reporting it`);
      const again = await measurePairs(used, 'recheck', 1);
      complete &&= again.a.length === used;
      const second = await fold(again, '-recheck');
      await keep(second, '-recheck');
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
      target: sides.a.target,
      fingerprint: sides.a.fingerprint,
      clock: sides.a.clock,
      settings: { ...req.settings, test: testName(true, sides.a.clock), looks: plan.looks, stopping: describeStopping(plan) },
      pairs: { used, first: req.pairs, max: plan.max, design: req.duet ? 'duet' : 'interleaved' },
      metrics,
    },
    runs,
    complete,
  };
}
