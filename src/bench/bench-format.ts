import { describeClock, displayUnit } from './clock.js';
import { formatValue } from './compare-format.js';
import type { BenchRun, Stats } from './model.js';

const spread = (s: Stats) => `±${s.rme.toFixed(1)}%`;

/** Pads columns of a plain-text table; the first row is the header. */
export function textTable(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ').trimEnd()).join('\n');
}

/** The console summary of `tsuite bench`: one row per metric, statistics across boots. */
export function formatBenchRun(run: BenchRun): string {
  const head = `${run.target} · ${run.kernel.source}${run.kernel.version ? ` ${run.kernel.version}` : ''} · ${run.boots} boots · ${run.fingerprint.accel} · machine ${run.fingerprint.id}\n${describeClock(run.clock)}`;
  const rows = [['metric', 'unit', 'better', 'mean', 'p50', 'rme (95%)', 'boots']];
  for (const m of run.metrics) {
    rows.push([m.name, displayUnit(m.unit, m.clock), m.better, formatValue(m.stats.mean), formatValue(m.stats.p50), spread(m.stats), String(m.samples.length)]);
  }
  const problems = run.problems.map((p) => `  ${p.status === 'skipped' ? 'skipped' : p.status}: ${p.benchmark}: ${p.reason}`);
  return [head, '', textTable(rows), ...(problems.length > 0 ? ['', 'not measured:', ...problems] : []), ''].join('\n');
}
