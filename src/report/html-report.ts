/**
 * `tsuite report`: one self-contained HTML file. uPlot, the page's script and style are read from
 * disk and inlined, the data travels as embedded JSON, and a Content-Security-Policy forbids
 * every fetch: the file can be mailed, attached to CI, or opened offline years later.
 */

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { HistoryProblem } from '../bench/history.js';
import type { BenchRun, HistoryRow } from '../bench/model.js';
import type { RunResult } from '../core/result.js';
import { assetPath } from '../core/paths.js';
import { buildChartGroups, type ChartData, type ChartGroup } from './chart-data.js';
import { escapeHtml as h, jsonForScript } from './html-escape.js';
import { benchSummary, conformance, failures, historyProblems, num, runSummary } from './html-sections.js';

export interface HtmlReportInput {
  /** A `tsuite run`'s results.json. */
  results?: RunResult;
  /** A `tsuite bench`'s bench.json: its run is highlighted in the history charts. */
  bench?: BenchRun;
  /** Rows of bench-history/*.jsonl, any targets and fingerprints. */
  history: readonly HistoryRow[];
  /** Lines of the history that could not be read. */
  historyProblems?: readonly HistoryProblem[];
  /** ISO time, passed in so the same input renders the same page. */
  generatedAt: string;
}

/** The data the page's script draws from (embedded as JSON). */
export interface ReportData {
  charts: ChartData[];
}

const requireHere = createRequire(import.meta.url);
let assets: { uplotJs: string; uplotCss: string; clientJs: string; css: string } | undefined;

/** Read once per process: the same files for every report. */
function loadAssets() {
  // The script and style are not TypeScript, so tsc does not copy them to dist/: read them from src/.
  assets ??= {
    uplotJs: readFileSync(requireHere.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8'),
    uplotCss: readFileSync(requireHere.resolve('uplot/dist/uPlot.min.css'), 'utf8'),
    clientJs: readFileSync(assetPath('src', 'report', 'report-client.js'), 'utf8'),
    css: readFileSync(assetPath('src', 'report', 'report.css'), 'utf8'),
  };
  return assets;
}

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

/** `</script` inside an inlined library would end its element early. */
const safeScript = (code: string) => code.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');

export function renderHtmlReport(input: HtmlReportInput): string {
  const { results, bench } = input;
  const groups = buildChartGroups(input.history, bench);
  const a = loadAssets();
  const uplotJs = safeScript(a.uplotJs);
  const clientJs = safeScript(a.clientJs);
  const data: ReportData = { charts: groups.flatMap((g) => g.charts) };
  // Only these two scripts may run: injected markup could not execute even if escaping failed.
  const csp = `default-src 'none'; script-src ${sha256(uplotJs)} ${sha256(clientJs)}; style-src 'unsafe-inline'; img-src data:`;
  const title = results ? `tsuite report: run ${results.run.id} on ${results.run.target}` : bench ? `tsuite report: bench ${bench.runId} on ${bench.target}` : 'tsuite report: benchmark history';

  const sections = [
    results ? runSummary(results) : '',
    results ? failures(results) : '',
    results ? conformance(results) : '',
    bench ? benchSummary(bench) : '',
    historySection(groups, bench),
    historyProblems(input.historyProblems ?? []),
  ].filter(Boolean);
  const nav = [
    results && ['summary', 'Summary'],
    results && ['failures', 'Failures'],
    results?.conformance && Object.keys(results.conformance).length > 0 && ['conformance', 'Conformance'],
    bench && ['bench', 'Benchmark run'],
    ['history', 'History'],
  ]
    .filter((x): x is string[] => Array.isArray(x))
    .map(([id, label]) => `<a href="#${id}">${label}</a>`)
    .join(' ');

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${h(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="tsuite">
<title>${h(title)}</title>
<style>${a.uplotCss}</style>
<style>${a.css}</style>
</head>
<body>
<header><h1>${h(title)}</h1><nav>${nav}</nav><p class="muted">Generated ${h(input.generatedAt)}</p></header>
<main>
${sections.join('\n')}
</main>
<script type="application/json" id="report-data">${jsonForScript(data)}</script>
<script>${uplotJs}</script>
<script>${clientJs}</script>
</body>
</html>
`;
}

function historySection(groups: readonly ChartGroup[], bench: BenchRun | undefined): string {
  if (groups.length === 0) return `<section id="history"><h2>History</h2><p class="muted">No benchmark history: record runs with <code>tsuite bench --record</code>.</p></section>`;
  const recorded = bench === undefined || groups.some((g) => g.charts.some((c) => c.current !== undefined && c.points[c.current]!.runId === bench.runId));
  const intro = bench
    ? `The benchmark run ${h(bench.runId)} is the highlighted point${recorded ? '' : ' (not yet recorded in the history)'}.`
    : 'The newest run of each metric is the highlighted point.';
  const blocks = groups.map((g) => {
    const fp = g.fingerprint;
    const machine = `${fp.cpuModel}, ${fp.cores} cores, ${fp.accel}, QEMU ${fp.qemuVersion}, ${fp.runner}/${fp.instanceType}`;
    return `<section class="group" data-target="${h(g.target)}" data-fingerprint="${h(fp.id)}"><h3>${h(g.target)} <span class="muted">on ${h(machine)} (fingerprint ${h(fp.id)})</span></h3>
<div class="charts">${g.charts.map(chartFigure).join('\n')}</div></section>`;
  });
  return `<section id="history"><h2>History</h2><p>One chart per metric: the line is each run's mean across boots, the band its slowest and fastest boot. Dashed vertical lines are change points (a new regime starts: E-divisive means), dashed horizontal ones each regime's mean. ${intro} Rows from different machines are never compared, so each machine has its own charts.</p>
${blocks.join('\n')}</section>`;
}

function chartFigure(c: ChartData): string {
  const values = c.points.map((p) => p.value);
  const mean = (from: number, to: number) => values.slice(from, to).reduce((s, v) => s + v, 0) / (to - from);
  const starts = [0, ...c.changePoints, values.length];
  const changes = c.changePoints.map((at, k) => {
    const before = mean(starts[k]!, at);
    const after = mean(at, starts[k + 2]!);
    const p = c.points[at]!;
    const pct = ((after / before - 1) * 100).toFixed(1);
    return `<li data-index="${at}">from run <code>${h(p.runId)}</code> (${h(p.date.slice(0, 10))}${p.commit ? `, commit ${h(p.commit.slice(0, 12))}` : ''}): ${num(before)} → ${num(after)} ${h(c.unit)} (${after >= before ? '+' : ''}${pct}%)</li>`;
  });
  const cur = c.current !== undefined ? c.points[c.current]! : undefined;
  return `<figure class="chart" id="${h(c.id)}" data-metric="${h(c.metric)}" data-points="${c.points.length}" data-change-points="${c.changePoints.join(',')}"${c.current !== undefined ? ` data-current="${c.current}"` : ''}>
<figcaption><code>${h(c.metric)}</code> <span class="muted">${h(c.unit)}, ${h(c.better)} is better, ${c.points.length} run(s)${cur ? `; highlighted: ${h(cur.runId)} = ${num(cur.value)} ${h(c.unit)}` : ''}</span></figcaption>
<div class="plot"></div>
${changes.length ? `<ul class="change-points">${changes.join('')}</ul>` : '<p class="muted no-change">No change point: one regime.</p>'}
</figure>`;
}
