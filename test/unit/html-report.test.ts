import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { HistoryRow } from '../../src/bench/model.js';
import { escapeHtml, jsonForScript } from '../../src/report/html-escape.js';
import { renderHtmlReport, type ReportData } from '../../src/report/html-report.js';
import { FAILING, INJECTION, METRICS, PANIC_EXCERPT, RUNS, STEP_AT, benchRun, historyRows, runResult } from '../support/report-fixtures.js';

const generatedAt = '2026-11-21T08:00:00.000Z';

/** The page's embedded data, as the page's script reads it. */
function embedded(html: string): ReportData {
  const m = /<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(html);
  expect(m, 'embedded report data').not.toBeNull();
  return JSON.parse(m![1]!) as ReportData;
}

/** Attributes of each chart figure, in page order. */
function figures(html: string) {
  return [...html.matchAll(/<figure class="chart" id="([^"]+)" data-metric="([^"]*)" data-points="(\d+)" data-change-points="([^"]*)"(?: data-current="(\d+)")?>/g)].map((m) => ({
    id: m[1]!,
    metric: m[2]!,
    points: Number(m[3]),
    changePoints: m[4] ? m[4].split(',').map(Number) : [],
    current: m[5] === undefined ? undefined : Number(m[5]),
  }));
}

describe('escaping', () => {
  it('escapeHtml leaves no markup', () => {
    expect(escapeHtml(INJECTION)).not.toMatch(/[<>"']/);
    expect(escapeHtml(`a & b <c> "d" 'e'`)).toBe('a &amp; b &lt;c&gt; &quot;d&quot; &#39;e&#39;');
  });

  it('jsonForScript cannot end a script element, and parses back to the same value', () => {
    const value = { s: INJECTION, t: '<!-- </SCRIPT > & \u2028\u2029', n: [1.5, -2] };
    const text = jsonForScript(value);
    expect(text).not.toMatch(/<\/script|<!--|[<>&\u2028\u2029]/i);
    expect(JSON.parse(text)).toEqual(value);
  });
});

describe('renderHtmlReport', () => {
  const results = runResult();
  const history = historyRows();
  const bench = benchRun();
  const html = renderHtmlReport({ results, bench, history, generatedAt });

  it('is self-contained: uPlot inlined, no external resource, a CSP that allows only its own scripts', () => {
    expect(html).toContain('uPlot');
    // No tag loads anything: the only links are to anchors in the page.
    const loads = [...html.matchAll(/<([a-z]+)((?:\s[a-z-]+(?:="[^"]*")?)*)\s*>/gi)].flatMap(([, tag, attrs]) =>
      [...attrs!.matchAll(/\s([a-z-]+)(?:="([^"]*)")?/gi)].filter(([, name, value]) => tag === 'link' || /^(src|href|action|srcset)$/i.test(name!) && !value?.startsWith('#')),
    );
    expect(loads.map((m) => m[0])).toEqual([]);
    expect(html).toContain('<a class="to-excerpt" href="#excerpt-0">');
    const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]!);
    expect(scripts).toHaveLength(2);
    const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html)![1]!.replace(/&#39;/g, "'");
    expect(csp).toContain("default-src 'none'");
    for (const s of scripts) expect(csp).toContain(`'sha256-${createHash('sha256').update(s).digest('base64')}'`);
  });

  it('text from the kernel never becomes markup', () => {
    expect(html).not.toContain(INJECTION);
    expect(html).not.toContain('<img');
    // Exactly the page's own three script elements.
    expect(html.match(/<script\b/gi)).toHaveLength(3);
    expect(html).toContain(escapeHtml(`kernel died: ${INJECTION}`));
  });

  it('summarises the run', () => {
    expect(html).toContain('Run 20261121-070152-4c3d <span class="badge s-failed">failed</span>');
    expect(html).toContain('KVM internal error. Suberror: 1');
    expect(html).toMatch(/<li><span class="badge s-passed">passed<\/span> 3<\/li>/);
  });

  it('lists every failing test with a link to its console excerpt, and the excerpt as plain text', () => {
    for (const id of FAILING) expect(html).toContain(`data-test="${escapeHtml(id)}"`);
    const failing = [...html.matchAll(/<li id="failure-(\d+)" data-test="([^"]*)">([\s\S]*?)<\/li>/g)];
    expect(failing.map((m) => m[2])).toEqual([...FAILING.map(escapeHtml), 'containers/run']);
    // The two with an excerpt link to it; the excerpt block with that id holds the text.
    for (const [, i, , body] of failing.slice(0, 2)) {
      expect(body).toContain(`href="#excerpt-${i}"`);
      expect(html).toMatch(new RegExp(`<article class="excerpt" id="excerpt-${i}">`));
    }
    expect(html).toContain(escapeHtml(PANIC_EXCERPT));
    // Colour codes and carriage returns are stripped from excerpts.
    expect(html).not.toContain('\x1b');
    expect(html).toContain(`red\n${escapeHtml(INJECTION)}\nend of excerpt`);
    expect(html).toContain('unexpectedly passing: remove it from the expectations file');
  });

  it('has one collapsible conformance matrix per suite, open where something failed', () => {
    expect(html).toContain('<details class="matrix" data-suite="syscall" open>');
    expect(html).toContain('<details class="matrix" data-suite="isolation">');
    const syscall = html.slice(html.indexOf('data-suite="syscall"'), html.indexOf('data-suite="isolation"'));
    expect(syscall.match(/<tr class="s-/g)).toHaveLength(300);
    expect(syscall).toContain('294 covered — 293 pass, 1 fail, 6 skip');
  });

  it('draws one chart per metric and machine, with every run, the change point, and the bench run highlighted', () => {
    const figs = figures(html);
    const x86 = figs.filter((f) => METRICS.some((m) => m.name === f.metric)).slice(0, METRICS.length);
    expect(x86.map((f) => f.metric).sort()).toEqual(METRICS.map((m) => m.name).sort());
    // The bench run was not recorded: it is added as the newest point and highlighted.
    for (const f of x86) expect(f).toMatchObject({ points: RUNS + 1, current: RUNS });
    expect(x86.find((f) => f.metric === 'syscall/getppid')!.changePoints).toEqual([STEP_AT]);
    // The arm64 machine's history is a chart of its own, without the x86 bench run.
    expect(figs).toHaveLength(METRICS.length + 1);
    expect(figs[METRICS.length]).toMatchObject({ metric: 'syscall/getppid', points: 4, current: undefined });

    const data = embedded(html);
    expect(data.charts.map((c) => ({ id: c.id, points: c.points.length }))).toEqual(figs.map((f) => ({ id: f.id, points: f.points })));
    const getppid = data.charts.find((c) => c.metric === 'syscall/getppid' && c.points.length === RUNS + 1)!;
    expect(getppid.points[RUNS]!.runId).toBe(bench.runId);
    for (const p of getppid.points) {
      expect(p.min).toBeLessThanOrEqual(p.value);
      expect(p.max).toBeGreaterThanOrEqual(p.value);
    }
    // The change point is named in text, with the levels before and after (a 30% step).
    expect(html).toMatch(/<li data-index="6">from run <code>20261101-090006-0006<\/code> \(2026-11-07, commit c0ffee06aa11\): 46\d(\.\d+)? → 60\d(\.\d+)? ns \(\+(29|30)\.\d%\)<\/li>/);
  });

  it('highlights the newest run of each metric without a bench run, and renders the same page for the same input', () => {
    const page = renderHtmlReport({ history, generatedAt });
    for (const f of figures(page)) expect(f.current).toBe(f.points - 1);
    expect(renderHtmlReport({ history, generatedAt })).toBe(page);
    expect(page).not.toContain('id="summary"');
  });

  it('works with results only, and escapes metric names in the embedded data and the page', () => {
    const only = renderHtmlReport({ results, history: [], generatedAt });
    expect(figures(only)).toEqual([]);
    expect(only).toContain('No benchmark history');
    expect(embedded(only).charts).toEqual([]);

    const odd: HistoryRow[] = history.slice(0, 3).map((r) => ({ ...r, name: `evil/${INJECTION}` }));
    const page = renderHtmlReport({ history: odd, generatedAt, historyProblems: [{ file: 'bench-history/x.jsonl', line: 3, message: `not JSON: ${INJECTION}` }] });
    expect(page).not.toContain(INJECTION);
    expect(page.match(/<script\b/gi)).toHaveLength(3);
    expect(embedded(page).charts[0]!.metric).toBe(`evil/${INJECTION}`);
    expect(page).toContain(`<code>bench-history/x.jsonl:3</code> not JSON: ${escapeHtml(INJECTION)}`);
  });
});
