import type { Direction, MetricDef } from '../../src/index.js';

/** One line of a benchmark's output (fixtures/bench/README.md). */
export interface BenchLine extends MetricDef {
  /** Per-operation means, one per timed batch. */
  samples: number[];
  /** Operations per batch, when the program says. */
  batch?: number;
}

const METRIC_NAME = /^[a-z0-9]+(-[a-z0-9]+)*\/[a-z0-9]+(-[a-z0-9]+)*$/;
const DIRECTIONS: readonly Direction[] = ['lower', 'higher'];

/**
 * Reads a benchmark's stdout: one JSON object per line, nothing else. Throws on the first line
 * that breaks the contract, naming it: a benchmark whose output cannot be trusted gives no numbers.
 */
export function parseBenchOutput(stdout: string): BenchLine[] {
  const lines: BenchLine[] = [];
  stdout.split('\n').forEach((text, i) => {
    if (text.trim() === '') return;
    const bad = (why: string) => new Error(`line ${i + 1} of the benchmark's output ${why}: ${text.slice(0, 200)}`);
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch {
      throw bad('is not JSON');
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad('is not a JSON object');
    const o = v as Record<string, unknown>;
    if (typeof o.metric !== 'string' || !METRIC_NAME.test(o.metric)) throw bad('has no metric name of the form <area>/<measure> in kebab-case');
    if (typeof o.unit !== 'string' || o.unit === '') throw bad('has no unit');
    if (!DIRECTIONS.includes(o.better as Direction)) throw bad('says neither "better":"lower" nor "better":"higher"');
    const samples = o.samples;
    if (!Array.isArray(samples) || samples.length === 0) throw bad('has no samples');
    if (!samples.every((s) => typeof s === 'number' && Number.isFinite(s) && s > 0)) throw bad('has a sample that is not a positive number');
    if (lines.some((l) => l.name === o.metric)) throw bad(`repeats metric ${o.metric}`);
    lines.push({
      name: o.metric,
      unit: o.unit,
      better: o.better as Direction,
      samples: samples as number[],
      ...(typeof o.batch === 'number' && { batch: o.batch }),
    });
  });
  return lines;
}
