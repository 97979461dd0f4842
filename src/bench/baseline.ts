import type { BenchRun, HistoryRow } from './model.js';
import { sameClock } from './history.js';
import { currentRegime } from './regime.js';

/** What a head metric is compared against in history mode. */
export interface Baseline {
  /** Per-boot values of every run in the current regime, pooled. */
  samples: number[];
  /** How many runs (history rows) the regime holds. */
  runs: number;
  /** The first run of the current regime, when a change point started it. */
  changePoint?: HistoryRow;
}

/**
 * For each metric of `head`, main's current regime as of the base commit: the history rows of
 * the same target, machine fingerprint and clock (instruction counts and times never mix), from commits that are the base commit or its
 * ancestors (so rows from other branches never leak in), cut at the last E-divisive change point.
 * A rolling mean would mix the regime before a change with the one after it.
 */
export async function baselines(
  rows: readonly HistoryRow[],
  head: BenchRun,
  isBaseOrAncestor: (commit: string) => Promise<boolean>,
): Promise<Map<string, Baseline>> {
  const verdicts = new Map<string, boolean>();
  const onLine = async (commit: string | undefined) => {
    if (!commit) return false;
    if (!verdicts.has(commit)) verdicts.set(commit, await isBaseOrAncestor(commit));
    return verdicts.get(commit)!;
  };
  const comparable: HistoryRow[] = [];
  for (const r of rows) {
    if (r.target !== head.target || r.fingerprint.id !== head.fingerprint.id || r.runId === head.runId) continue;
    if (await onLine(r.commit)) comparable.push(r);
  }
  const out = new Map<string, Baseline>();
  for (const m of head.metrics) {
    const series = comparable.filter((r) => r.name === m.name && sameClock(r, { runClock: head.clock, metricClock: m.clock })).sort((a, b) => a.date.localeCompare(b.date));
    if (series.length === 0) continue;
    const regime = currentRegime(series);
    out.set(m.name, {
      samples: regime.rows.flatMap((r) => r.samples),
      runs: regime.rows.length,
      ...(regime.changePoint ? { changePoint: regime.changePoint } : {}),
    });
  }
  return out;
}
