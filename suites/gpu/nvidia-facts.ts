/**
 * The NVIDIA probes' machine-readable diagnostics (fixtures/gpu/nvidia/README.md):
 *
 *   # fact: <key>=<value>                  a string: the rest of the line, trimmed
 *   # metric: <key>=<number>[ <unit>]      a number, with an optional unit word (GB/s)
 *
 * at any indentation, anywhere in the KTAP output. Keys are lower-case `[a-z0-9_.-]+`, dotted
 * (`nvml.gpu0.name`, `cuda.d2d_bandwidth_gbps`). Pure: lines in, records out; a malformed line or
 * a key seen twice is reported in `warnings` (the later value wins), never thrown.
 */

export interface NvidiaMetric {
  name: string;
  value: number;
  /** `''` when the line had none. */
  unit: string;
}

export interface NvidiaFacts {
  facts: Record<string, string>;
  metrics: NvidiaMetric[];
  warnings: string[];
}

const LINE = /^\s*#\s*(fact|metric):\s*(.*)$/;
const KEY = /^[a-z0-9_.-]+$/;
const METRIC_VALUE = /^([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(?:\s+(\S+))?$/;

export function parseNvidiaFacts(lines: readonly string[]): NvidiaFacts {
  const facts: Record<string, string> = {};
  const metrics: NvidiaMetric[] = [];
  const warnings: string[] = [];
  lines.forEach((line, i) => {
    const m = LINE.exec(line);
    if (!m) return;
    const [, kind, body = ''] = m;
    const eq = body.indexOf('=');
    const key = eq < 0 ? '' : body.slice(0, eq).trim();
    const value = eq < 0 ? '' : body.slice(eq + 1).trim();
    if (!KEY.test(key)) {
      warnings.push(`line ${i + 1}: ${kind} without a valid key=value: ${line.trim()}`);
      return;
    }
    if (kind === 'fact') {
      if (Object.hasOwn(facts, key)) warnings.push(`line ${i + 1}: fact ${key} given twice; the later value is kept`);
      facts[key] = value;
      return;
    }
    const v = METRIC_VALUE.exec(value);
    const num = v ? Number(v[1]) : NaN;
    if (!v || !Number.isFinite(num)) {
      warnings.push(`line ${i + 1}: metric ${key} has no finite number: '${value}'`);
      return;
    }
    const at = metrics.findIndex((x) => x.name === key);
    const metric = { name: key, value: num, unit: v[2] ?? '' };
    if (at >= 0) {
      warnings.push(`line ${i + 1}: metric ${key} given twice; the later value is kept`);
      metrics[at] = metric;
    } else metrics.push(metric);
  });
  return { facts, metrics, warnings };
}
