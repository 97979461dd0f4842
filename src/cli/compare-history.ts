import { exec } from '../core/exec.js';
import { UsageError } from '../core/errors.js';
import { baselines, type Baseline } from '../bench/baseline.js';
import { resolveCommit } from '../bench/git.js';
import { loadHistory } from '../bench/history.js';
import type { BenchRun, Comparison, MetricComparison } from '../bench/model.js';
import { applyRemeasurement, compareMetrics, suspected, testName, withoutRemeasurement } from '../bench/verdict.js';
import { givenRunFile, newestRunFile, readRunModel } from './run-files.js';

/** bench.json given as a file or as the run folder holding it; by default the newest under `reportsDir`. */
export async function loadBenchRun(given: string | undefined, reportsDir: string): Promise<{ file: string; run: BenchRun }> {
  const file = given ? givenRunFile(given, 'bench.json', '--bench') : await newestRunFile(reportsDir, 'bench.json');
  if (!file) throw new UsageError(`no bench.json under ${reportsDir}`, 'run `tsuite bench` first, or give --bench <bench.json or its run folder>');
  const run = await readRunModel<BenchRun>(file, 'bench.json', (v) => Array.isArray(v.metrics) && typeof v.runId === 'string');
  return { file, run };
}

export interface HistoryCompareRequest {
  head: BenchRun;
  base: string;
  historyDir: string;
  repoDir: string;
  settings: { minEffect: number; minEffectInstructions: number; alpha: number };
  /** Measures the head kernel again (N fresh boots); undefined when it cannot or must not. */
  remeasure?: () => Promise<BenchRun>;
  warn: (line: string) => void;
}

/** The head's metrics (only `names`, when given) against their baselines. */
function compareToBaselines(head: BenchRun, base: Map<string, Baseline>, settings: HistoryCompareRequest['settings'], names?: ReadonlySet<string>): MetricComparison[] {
  return compareMetrics(
    head.metrics.filter((m) => !names || names.has(m.name)).map((m) => ({ def: { name: m.name, unit: m.unit, better: m.better, ...(m.clock ? { clock: m.clock } : {}) }, base: base.get(m.name)?.samples, head: m.samples })),
    settings,
  );
}

/** The head run against main's current regime as of `base`, from the history. */
export async function compareWithHistory(req: HistoryCompareRequest): Promise<Comparison> {
  const baseCommit = await resolveCommit(req.base, req.repoDir);
  const history = await loadHistory(req.historyDir);
  for (const p of history.problems) req.warn(`${p.file}:${p.line}: skipped a corrupt history line: ${p.message}`);
  const isBaseOrAncestor = async (commit: string) =>
    commit === baseCommit || (await exec('git', ['merge-base', '--is-ancestor', commit, baseCommit], { cwd: req.repoDir })).code === 0;
  const base = await baselines(history.rows, req.head, isBaseOrAncestor);
  if (base.size === 0) {
    const otherClock = history.rows.some((r) => r.target === req.head.target && r.fingerprint.clock !== req.head.clock);
    const why = otherClock ? ` (it has rows measured in ${req.head.clock === 'time' ? 'instruction' : 'time'} mode, which are never compared with ${req.head.clock} mode)` : '';
    req.warn(`no history rows for target ${req.head.target} on machine ${req.head.fingerprint.id} in ${req.head.clock} mode at or before ${req.base} (${baseCommit.slice(0, 12)}) in ${req.historyDir}${why}: every metric is no-baseline`);
  }
  let metrics = compareToBaselines(req.head, base, req.settings);
  const names = suspected(metrics);
  if (names.size > 0) {
    if (req.remeasure) {
      req.warn('a change stands out: measuring the head kernel again before reporting it');
      metrics = applyRemeasurement(metrics, compareToBaselines(await req.remeasure(), base, req.settings, names), req.settings);
    } else {
      metrics = withoutRemeasurement(metrics);
    }
  }
  const runs = Math.max(0, ...[...base.values()].map((b) => b.runs));
  const changePoint = [...base.values()].map((b) => b.changePoint).find((c) => c !== undefined);
  return {
    mode: 'history',
    base: {
      label: `${req.base} (${baseCommit.slice(0, 12)})`,
      runs,
      ...(changePoint ? { changePoint: `${changePoint.commit?.slice(0, 12) ?? changePoint.runId} (${changePoint.date.slice(0, 10)})` } : {}),
    },
    head: { label: req.head.commit ? `${req.head.ref ?? 'head'} (${req.head.commit.slice(0, 12)})` : req.head.runId },
    target: req.head.target,
    fingerprint: req.head.fingerprint,
    clock: req.head.clock,
    settings: { ...req.settings, test: testName(false, req.head.clock) },
    metrics,
  };
}
