/**
 * The current regime of a metric on a branch: the runs since its last change point. A PR is
 * compared against these runs, so an old shift (a fix that made everything faster) neither hides
 * a new regression nor raises a false one, which a rolling mean over the shift would do.
 */

import { changePoints, type ChangePointOptions } from './change-points.js';
import type { HistoryRow } from './model.js';

export interface RegimePoint {
  runId: string;
  date: string;
  commit?: string;
  /** The run's value: the mean of its per-boot values. */
  value: number;
}

export interface Regime {
  /** The rows of the current regime, oldest first. */
  rows: HistoryRow[];
  /** The first row of the current regime, when a change point was found. */
  changePoint?: HistoryRow;
  /** One point per run, oldest first (what the change points index). */
  series: RegimePoint[];
  /** Indices into `series` where a regime starts, ascending. */
  changePoints: number[];
}

/**
 * `rows` are one metric of one fingerprint and target (see selectComparable). They are ordered
 * by date here (stably) in case the caller did not.
 */
export function currentRegime(rows: readonly HistoryRow[], options?: ChangePointOptions): Regime {
  const ordered = [...rows].sort((a, b) => Date.parse(a.date) - Date.parse(b.date));
  const series = ordered.map((row) => {
    const point: RegimePoint = { runId: row.runId, date: row.date, value: runValue(row) };
    if (row.commit !== undefined) point.commit = row.commit;
    return point;
  });
  const cps = changePoints(
    series.map((p) => p.value),
    options,
  );
  const start = cps.length > 0 ? cps[cps.length - 1]! : 0;
  const regime: Regime = { rows: ordered.slice(start), series, changePoints: cps };
  if (cps.length > 0) regime.changePoint = ordered[start]!;
  return regime;
}

function runValue(row: HistoryRow): number {
  const values = row.samples.length > 0 ? row.samples : [row.stats.mean];
  return values.reduce((s, v) => s + v, 0) / values.length;
}
