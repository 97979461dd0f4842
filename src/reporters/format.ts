import { displayUnit } from '../bench/clock.js';
import type { Metric } from '../core/result.js';

/** Text formatting shared by the reporters. */

export function formatDuration(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

function median(samples: readonly number[]): number | undefined {
  if (samples.length === 0) return undefined;
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** A metric's reading, e.g. `2310 ms`, or `41.2 ns (p50 of 100)` for raw samples. */
export function formatMetricValue(metric: Metric): string {
  const value = metric.value ?? median(metric.samples ?? []);
  if (value === undefined) return '(no data)';
  const shown = Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(4)));
  // An instruction count reads as one ("virtual ns"), never as a time.
  const unit = metric.unit ? ` ${displayUnit(metric.unit, metric.clock)}` : '';
  return metric.value === undefined ? `${shown}${unit} (p50 of ${metric.samples?.length})` : `${shown}${unit}`;
}

export const formatMetric = (metric: Metric) => `${metric.name} ${formatMetricValue(metric)}`;

/**
 * Console text as plain text: guests emit colour codes and `\r`, which would repaint the
 * user's terminal, litter CI logs, and are not allowed in YAML or XML 1.0.
 */
export function plainText(text: string): string {
  return text
    .replace(/\x1b\[[0-9;?]*[ -/]*[@-~]/g, '')
    .replace(/\r\n?/g, '\n')
    .replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '');
}
