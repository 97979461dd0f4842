import { describeClock, displayUnit } from './clock.js';
import { DETECTABLE_SHOWN_UP_TO, formatDetectable } from './detectable.js';
import type { Comparison, MetricComparison, Stats, Verdict } from './model.js';

/**
 * Renderings of a Comparison: a console table, JSON, and the markdown of the PR comment.
 * Every rendering shows the same rows in the same order, so a reader of the comment and a
 * reader of the CI log see one verdict per metric.
 */

/** Hidden in the rendered comment; `--post` finds its own earlier comment by it. */
export const COMMENT_MARKER = '<!-- tsuite:bench-compare -->';

export type CompareFormat = 'table' | 'json' | 'markdown';

/** Worst news first: what a reviewer must look at, then what changed, then the rest. */
const VERDICT_ORDER: readonly Verdict[] = ['regressed', 'improved', 'noisy', 'unchanged', 'no-baseline'];

const ANSI = { red: 31, green: 32, yellow: 33, dim: 2 } as const;
const VERDICT_STYLE: Record<Verdict, keyof typeof ANSI | undefined> = {
  regressed: 'red',
  improved: 'green',
  noisy: 'yellow',
  unchanged: undefined,
  'no-baseline': 'dim',
};

export function formatComparison(c: Comparison, format: CompareFormat, options: { color?: boolean } = {}): string {
  switch (format) {
    case 'json':
      return `${JSON.stringify(c, null, 2)}\n`;
    case 'markdown':
      return formatMarkdown(c);
    case 'table':
      return formatTable(c, options.color === true);
  }
}

/** The metrics in reading order: by verdict, then the largest change first, then by name. */
export function orderMetrics(metrics: readonly MetricComparison[]): MetricComparison[] {
  const size = (m: MetricComparison) => (m.ratio === undefined || m.ratio <= 0 ? -1 : Math.abs(Math.log(m.ratio)));
  return [...metrics].sort(
    (a, b) => VERDICT_ORDER.indexOf(a.verdict) - VERDICT_ORDER.indexOf(b.verdict) || size(b) - size(a) || a.name.localeCompare(b.name),
  );
}

export function countVerdicts(metrics: readonly MetricComparison[]): Record<Verdict, number> {
  const counts = Object.fromEntries(VERDICT_ORDER.map((v) => [v, 0])) as Record<Verdict, number>;
  for (const m of metrics) counts[m.verdict]++;
  return counts;
}

// ---- cells shared by the table and the markdown ----

/** 4 significant digits, never an exponent for the values benchmarks produce. */
export function formatValue(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Math.abs(v) >= 1000) return String(Math.round(v));
  return String(Number(v.toPrecision(4)));
}

/** A ratio as a signed change: 1.123 → `+12.3%`. */
export function formatChange(ratio: number): string {
  if (!Number.isFinite(ratio)) return ratio > 0 ? '+∞' : '−∞'; // a CI bound from too few boots
  const pct = (ratio - 1) * 100;
  const shown = pct.toFixed(1);
  // -0.04 rounds to "-0.0": show no sign on a change that rounds to nothing.
  if (Number(shown) === 0) return '0.0%';
  return `${pct > 0 ? '+' : ''}${shown}%`;
}

function changeCell(m: MetricComparison): string {
  if (m.ratio === undefined) return '—';
  const ci = m.ci ? ` [${formatChange(m.ci[0])}, ${formatChange(m.ci[1])}]` : '';
  return `${formatChange(m.ratio)}${ci}`;
}

function qCell(m: MetricComparison): string {
  if (m.q === undefined) return '—';
  return m.q < 0.001 ? '<0.001' : m.q.toFixed(3);
}

const meanCell = (s: Stats | undefined) => (s ? formatValue(s.mean) : '—');
const arrow = (m: MetricComparison) => (m.better === 'lower' ? '↓' : '↑');
/** An instruction-mode figure is an instruction count, never shown as plain time. */
const unitCell = (m: MetricComparison) => `${displayUnit(m.unit, m.clock)} ${arrow(m)}`;
const detectableCell = (m: MetricComparison) => (m.detectable === undefined ? '—' : formatDetectable(m.detectable));

/**
 * The run's sensitivity as a whole: the smallest change its least and its most sensitive metric
 * could have seen. Absent when no metric was tested.
 */
export function sensitivityLine(metrics: readonly MetricComparison[]): string | undefined {
  const seen = metrics.filter((m) => m.detectable !== undefined).sort((a, b) => a.detectable! - b.detectable! || a.name.localeCompare(b.name));
  if (seen.length === 0) return undefined;
  const most = seen[0]!;
  const least = seen[seen.length - 1]!;
  const what = (d: number) =>
    !Number.isFinite(d) ? 'no change at all' : d > DETECTABLE_SHOWN_UP_TO ? `no change below ±${DETECTABLE_SHOWN_UP_TO * 100}%` : `changes above ${formatDetectable(d)}`;
  if (seen.length === 1 || formatDetectable(most.detectable!) === formatDetectable(least.detectable!)) {
    return `This run could see ${what(least.detectable!)} (95% power); smaller ones can hide in its noise.`;
  }
  return (
    `This run could see ${what(least.detectable!)} in its least sensitive metric (${least.name}) ` +
    `and ${what(most.detectable!)} in its most sensitive (${most.name}), with 95% power; smaller ones can hide in its noise.`
  );
}

function whyCell(m: MetricComparison): string {
  if (!m.remeasured) return m.why;
  const r = m.remeasured;
  const outcome = r.confirmed ? 'confirmed' : 'not confirmed';
  return `${m.why} (re-measured: ${formatChange(r.ratio)}, q ${r.q < 0.001 ? '<0.001' : r.q.toFixed(3)}, ${outcome})`;
}

function summaryLine(counts: Record<Verdict, number>): string {
  const parts = VERDICT_ORDER.filter((v) => counts[v] > 0).map((v) => `${counts[v]} ${v === 'no-baseline' ? 'without baseline' : v}`);
  return parts.length ? parts.join(', ') : 'no metrics compared';
}

/** How an A/B run measured its pairs, and how many it used: `12 pairs (adaptive: first 8, max 20)`. */
export function pairsText(c: Comparison): string {
  const p = c.pairs;
  const design = p?.design === 'duet'
    ? 'measured A/B as a duet (both at once, each QEMU pinned to its own half of the host CPUs, halves swapped round by round)'
    : 'measured A/B interleaved in one run';
  if (!p) return design;
  const count = `${p.used} pair${p.used === 1 ? '' : 's'}`;
  return `${design}, ${count}${p.max > p.first ? ` (adaptive: first ${p.first}, max ${p.max})` : ''}`;
}

function sidesLine(c: Comparison): string {
  if (c.mode === 'ab') return `kernel B ${c.head.label} vs kernel A ${c.base.label}, ${pairsText(c)}`;
  const runs = c.base.runs !== undefined ? `${c.base.runs} run${c.base.runs === 1 ? '' : 's'}` : undefined;
  const since = c.base.changePoint ? `regime since ${c.base.changePoint}` : undefined;
  const detail = [runs, since].filter(Boolean).join(', ');
  return `head ${c.head.label} vs base ${c.base.label}${detail ? ` (${detail})` : ''}`;
}

function fingerprintLine(c: Comparison): string {
  const f = c.fingerprint;
  return `fingerprint ${f.id}: ${f.cpuModel}, ${f.cores} cores, ${f.accel}, QEMU ${f.qemuVersion}, ${f.runner}/${f.instanceType}`;
}

/** minEffect is a fraction of the base mean (0.05 = 5%), like the ratios. */
const effectText = (minEffect: number) => `${Number((minEffect * 100).toPrecision(3))}%`;

/** Instruction counts have their own minimum effect: shown when some metric is one. */
const countsInstructions = (c: Comparison) => c.clock === 'instructions' || c.metrics.some((m) => m.clock === 'instructions');

function minEffectText(c: Comparison): string {
  const s = c.settings;
  const mi = s.minEffectInstructions;
  if (!countsInstructions(c) || mi === undefined || mi === s.minEffect) return effectText(s.minEffect);
  return `${effectText(mi)} for instruction counts, ${effectText(s.minEffect)} in real time`;
}

function lookText(c: Comparison): string {
  const looks = c.settings.looks;
  return looks !== undefined && looks > 1 ? `; ${looks} planned looks (adaptive boots), each tested at alpha/${looks}` : '';
}

function settingsLine(c: Comparison): string {
  const s = c.settings;
  return `test: ${s.test}; alpha ${s.alpha} on Benjamini–Hochberg q${lookText(c)}; min effect ${minEffectText(c)}`;
}

const LEGEND =
  'change: head / base − 1 (geometric means over boots), [95% CI]; q: p-value after Benjamini–Hochberg; ' +
  'detectable: the smallest change this run would have reported, with 95% power, at the noise it measured; ↓ lower is better, ↑ higher is better';

// ---- console table ----

function formatTable(c: Comparison, color: boolean): string {
  const paint = (style: keyof typeof ANSI | undefined, text: string) => (color && style ? `\x1b[${ANSI[style]}m${text}\x1b[0m` : text);
  const baseHead = c.mode === 'ab' ? ['A mean', 'B mean'] : ['base mean', 'head mean'];
  const header = ['metric', 'unit', ...baseHead, 'change [95% CI]', 'q', 'detectable', 'verdict', 'why'];
  const metrics = orderMetrics(c.metrics);
  const rows = metrics.map((m) => [m.name, unitCell(m), meanCell(m.base), meanCell(m.head), changeCell(m), qCell(m), detectableCell(m), m.verdict, whyCell(m)]);
  const width = (s: string) => [...s].length;
  const widths = header.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i]!))));
  const numeric = new Set([2, 3, 4, 5, 6]);
  const line = (cells: string[], styles: (keyof typeof ANSI | undefined)[] = []) =>
    cells
      .map((cell, i) => {
        // The last column is free text: no padding, so no trailing blanks.
        if (i === cells.length - 1) return paint(styles[i], cell);
        const pad = ' '.repeat(widths[i]! - width(cell));
        return paint(styles[i], numeric.has(i) ? pad + cell : cell + pad);
      })
      .join('  ')
      .trimEnd();

  const out = [
    `tsuite compare (${c.mode === 'ab' ? 'A/B' : 'history'}) on ${c.target}: ${sidesLine(c)}`,
    fingerprintLine(c),
    describeClock(c.clock),
    settingsLine(c),
    ...[sensitivityLine(c.metrics)].filter((l): l is string => l !== undefined),
    '',
  ];
  if (rows.length === 0) out.push('(no metrics to compare)');
  else {
    out.push(paint('dim', line(header)));
    metrics.forEach((m, i) => {
      const style = VERDICT_STYLE[m.verdict];
      out.push(line(rows[i]!, [undefined, undefined, undefined, undefined, style, undefined, undefined, style, undefined]));
    });
  }
  out.push('', paint('dim', LEGEND), summaryLine(countVerdicts(c.metrics)));
  return `${out.join('\n')}\n`;
}

// ---- markdown (the PR comment) ----

/** Text safe in a GFM table cell: no pipe ends the cell, no markup or HTML is interpreted. */
export function escapeMarkdown(text: string): string {
  return text
    .replace(/[\r\n]+/g, ' ')
    .replace(/[\\`*_[\]|~#]/g, (ch) => `\\${ch}`)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
}

/** An inline code span that holds any text: a backtick fence longer than any run inside. */
function code(text: string): string {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longest + 1);
  const pad = text.startsWith('`') || text.endsWith('`') ? ' ' : '';
  // In a table cell a pipe must be escaped even inside a code span (GFM splits cells first).
  return `${fence}${pad}${text.replace(/[\r\n]+/g, ' ').replace(/\|/g, '\\|')}${pad}${fence}`;
}

const VERDICT_BADGE: Record<Verdict, string> = {
  regressed: '🔴 regressed',
  improved: '🟢 improved',
  noisy: '🟡 noisy',
  unchanged: '⚪ unchanged',
  'no-baseline': '➖ no baseline',
};

function headline(c: Comparison, counts: Record<Verdict, number>): string {
  const n = counts.regressed;
  const main = n > 0 ? `⚠️ ${n} regression${n === 1 ? '' : 's'}` : '✅ no regressions';
  const rest = [
    counts.improved > 0 ? `${counts.improved} improved` : '',
    counts.noisy > 0 ? `${counts.noisy} noisy` : '',
    counts['no-baseline'] > 0 ? `${counts['no-baseline']} without baseline` : '',
  ].filter(Boolean);
  return `### ${[main, ...rest].join(' · ')} — tsuite bench on ${escapeMarkdown(c.target)}`;
}

function mdTable(header: string[], rows: string[][], rightAligned: ReadonlySet<number>): string[] {
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map((_, i) => (rightAligned.has(i) ? ' ---: ' : ' --- ')).join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ];
}

function methodLine(c: Comparison): string {
  const s = c.settings;
  const design = c.mode !== 'ab'
    ? 'the base is the current regime of the base ref in the bench history, on the same machine fingerprint'
    : c.pairs?.design === 'duet'
      ? 'kernels A and B booted at the same time, round by round, each QEMU pinned to its own half of the host CPUs, so load on the host hits both alike'
      : 'kernels A and B booted pair by pair, interleaved in one run, so machine drift cancels out';
  const remeasured = c.metrics.filter((m) => m.remeasured).length;
  const looks = s.looks !== undefined && s.looks > 1
    ? ` Adaptive boots: more pairs were measured while a metric stayed noisy; every look tested at alpha/${s.looks} (Bonferroni over the ${s.looks} planned looks), so stopping early does not raise the false alarm rate.`
    : '';
  return [
    `**Method:** ${escapeMarkdown(s.test)}, one value per boot (the error term is the variance across boots); `,
    `a metric is flagged only when its change is at least ${escapeMarkdown(minEffectText(c))}, q < ${s.alpha} `,
    `(Benjamini–Hochberg over ${c.metrics.length} metrics) and a re-measurement agrees; ${design}.`,
    looks,
    remeasured > 0 ? ` ${remeasured} suspected regression${remeasured === 1 ? ' was' : 's were'} re-measured.` : '',
  ].join('');
}

function formatMarkdown(c: Comparison): string {
  const metrics = orderMetrics(c.metrics);
  const counts = countVerdicts(metrics);
  const f = c.fingerprint;
  const sides = c.mode === 'ab'
    ? `kernel B ${code(c.head.label)} vs kernel A ${code(c.base.label)}, ${escapeMarkdown(pairsText(c))}`
    : `head ${code(c.head.label)} vs base ${code(c.base.label)}` +
      (c.base.runs !== undefined || c.base.changePoint
        ? ` (${[c.base.runs !== undefined ? `${c.base.runs} runs` : '', c.base.changePoint ? `since ${code(c.base.changePoint)}` : ''].filter(Boolean).join(', ')})`
        : '');
  const machine = `fingerprint ${code(f.id)}: ${escapeMarkdown(`${f.cpuModel}, ${f.cores} cores, ${f.accel}, QEMU ${f.qemuVersion}, ${f.runner}/${f.instanceType}`)}`;

  const cells = (m: MetricComparison) => ({
    name: escapeMarkdown(m.name),
    unit: escapeMarkdown(unitCell(m)),
    change: escapeMarkdown(changeCell(m)),
    q: escapeMarkdown(qCell(m)),
    verdict: VERDICT_BADGE[m.verdict],
    why: escapeMarkdown(whyCell(m)),
  });

  const sensitivity = sensitivityLine(c.metrics);
  const out = [COMMENT_MARKER, headline(c, counts), '', `${sides} · ${machine}`, '', `**Clock:** ${escapeMarkdown(describeClock(c.clock))}`, ''];
  if (sensitivity) out.push(`**Sensitivity:** ${escapeMarkdown(sensitivity)}`, '');
  const flagged = metrics.filter((m) => m.verdict === 'regressed' || m.verdict === 'improved');
  if (flagged.length > 0) {
    out.push(...mdTable(['metric', 'change [95% CI]', 'q', 'verdict', 'why'], flagged.map((m) => {
      const x = cells(m);
      return [x.name, x.change, x.q, x.verdict, x.why];
    }), new Set([1, 2])));
  } else {
    const noisy = counts.noisy > 0 ? `; ${counts.noisy} noisy (not enough evidence either way: see all metrics below)` : '';
    out.push(metrics.length > 0 ? `Nothing regressed or improved${noisy}.` : 'No metrics were compared.');
  }
  out.push('', `<details><summary>All ${metrics.length} metrics: ${summaryLine(counts)}</summary>`, '');
  if (metrics.length > 0) {
    const [baseName, headName] = c.mode === 'ab' ? ['A mean', 'B mean'] : ['base mean', 'head mean'];
    out.push(...mdTable(['metric', 'unit', baseName, headName, 'change [95% CI]', 'q', 'detectable', 'verdict', 'why'], metrics.map((m) => {
      const x = cells(m);
      return [x.name, x.unit, meanCell(m.base), meanCell(m.head), x.change, x.q, detectableCell(m), x.verdict, x.why];
    }), new Set([2, 3, 4, 5, 6])));
    out.push('', escapeMarkdown(LEGEND));
  }
  out.push('', '</details>', '', methodLine(c));
  return `${out.join('\n')}\n`;
}
