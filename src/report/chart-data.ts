/**
 * The history charts' data: one chart per metric of each (target, machine fingerprint), since rows
 * from different fingerprints are never compared. Change points come from the same regime finder
 * `tsuite compare` uses, so the report shows the regimes a PR is judged against.
 */

import { displayUnit } from '../bench/clock.js';
import { currentRegime } from '../bench/regime.js';
import { rowsFromBenchRun } from '../bench/history.js';
import type { BenchRun, Direction, Fingerprint, HistoryRow } from '../bench/model.js';

export interface ChartPoint {
  runId: string;
  date: string;
  commit?: string;
  /** The run's value (the mean of its per-boot values), as the regime finder sees it. */
  value: number;
  /** Spread across the run's boots. */
  min: number;
  max: number;
  boots: number;
}

export interface ChartData {
  /** Unique in the page: the chart's element id. */
  id: string;
  metric: string;
  unit: string;
  better: Direction;
  /** Oldest first. */
  points: ChartPoint[];
  /** Indices into `points` where a new regime starts. */
  changePoints: number[];
  /** Index of the run this report is about (the --bench run, else the newest). */
  current?: number;
}

export interface ChartGroup {
  target: string;
  fingerprint: Fingerprint;
  charts: ChartData[];
}

/**
 * Groups `history` into charts. A `bench` run that was not recorded (no `--record`) is added as
 * the newest point of its charts, so it can be seen against the history all the same.
 */
export function buildChartGroups(history: readonly HistoryRow[], bench?: BenchRun): ChartGroup[] {
  const rows = [...history];
  if (bench && !history.some((r) => r.runId === bench.runId)) rows.push(...rowsFromBenchRun(bench));

  const groups = new Map<string, { target: string; fingerprint: Fingerprint; metrics: Map<string, HistoryRow[]> }>();
  for (const row of rows) {
    const key = JSON.stringify([row.target, row.fingerprint.id]);
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { target: row.target, fingerprint: row.fingerprint, metrics: new Map() }));
    const list = group.metrics.get(row.name) ?? [];
    list.push(row);
    group.metrics.set(row.name, list);
  }

  const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  const isBenchGroup = (g: { target: string; fingerprint: Fingerprint }) => g.target === bench?.target && g.fingerprint.id === bench.fingerprint.id;
  let n = 0;
  return [...groups.values()]
    // The bench run's machine first: that is what the reader came for.
    .sort((a, b) => Number(isBenchGroup(b)) - Number(isBenchGroup(a)) || byName(a.target, b.target) || byName(a.fingerprint.id, b.fingerprint.id))
    .map((g) => ({
      target: g.target,
      fingerprint: g.fingerprint,
      charts: [...g.metrics.entries()].sort(([a], [b]) => byName(a, b)).map(([, list]) => chart(`chart-${n++}`, list, bench?.runId)),
    }));
}

function chart(id: string, unordered: HistoryRow[], currentRunId: string | undefined): ChartData {
  // currentRegime sorts stably by date too; sorting here first keeps its series aligned with `ordered`.
  const ordered = [...unordered].sort((a, b) => Date.parse(a.date) - Date.parse(b.date));
  const regime = currentRegime(ordered);
  const points = ordered.map((row, i): ChartPoint => {
    const value = regime.series[i]!.value;
    const spread = row.samples.length > 0 ? row.samples : [value];
    const point: ChartPoint = { runId: row.runId, date: row.date, value, min: Math.min(...spread), max: Math.max(...spread), boots: row.samples.length };
    if (row.commit !== undefined) point.commit = row.commit;
    return point;
  });
  const last = ordered[ordered.length - 1]!;
  const current = currentRunId === undefined ? points.length - 1 : points.findIndex((p) => p.runId === currentRunId);
  // An instruction count is labelled as one ("virtual ns"), never as a time.
  const data: ChartData = { id, metric: last.name, unit: displayUnit(last.unit, last.clock), better: last.better, points, changePoints: regime.changePoints };
  if (current >= 0) data.current = current;
  return data;
}
