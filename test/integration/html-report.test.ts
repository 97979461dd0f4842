import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendHistory } from '../../src/bench/history.js';
import type { HistoryRow } from '../../src/bench/model.js';
import { CLI, tempDir, type CliResult } from './cli.js';
import { FAILING, METRICS, RUNS, STEP_AT, benchRun, historyRows, runResult } from '../support/report-fixtures.js';

/**
 * `tsuite report` end to end: the CLI writes the page from files shaped like `tsuite run` and
 * `tsuite bench --record` output, and a real headless Chromium (Debian's) loads it from disk.
 */

const CHROMIUM = process.env.TSUITE_CHROMIUM ?? '/usr/bin/chromium';
const SCREENSHOT = resolve('reports', 'html-report.png');

/** The built CLI in a chosen working directory (its defaults are relative to it). */
function tsuiteIn(cwd: string, ...args: string[]): Promise<CliResult> {
  return new Promise((done) => {
    execFile(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, CI: 'true' } }, (err, stdout, stderr) =>
      done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** Writes a run dir, a bench run dir and a history folder as tsuite would; returns the workspace. */
async function workspace(): Promise<{ dir: string; history: HistoryRow[] }> {
  const dir = tempDir('html-report');
  const run = runResult();
  await mkdir(join(dir, 'reports', run.run.id), { recursive: true });
  await writeFile(join(dir, 'reports', run.run.id, 'results.json'), JSON.stringify(run, null, 2));
  const bench = benchRun();
  await mkdir(join(dir, 'reports', bench.runId), { recursive: true });
  await writeFile(join(dir, 'reports', bench.runId, 'bench.json'), JSON.stringify(bench, null, 2));
  const history = historyRows();
  for (const target of new Set(history.map((r) => r.target))) await appendHistory(join(dir, 'bench-history'), history.filter((r) => r.target === target));
  return { dir, history };
}

/** What every chart must show: each (target, metric) and its number of runs, the bench run included. */
function expectedCharts(history: HistoryRow[]) {
  const bench = benchRun();
  const charts = new Map<string, { target: string; metric: string; points: number }>();
  for (const r of [...history, ...bench.metrics.map((m) => ({ target: bench.target, name: m.name }))]) {
    const key = `${r.target} ${r.name}`;
    const c = charts.get(key) ?? { target: r.target, metric: r.name, points: 0 };
    c.points += 1;
    charts.set(key, c);
  }
  return [...charts.values()];
}

describe('tsuite report', () => {
  let browser: Browser;
  let page: Page;
  let ws: Awaited<ReturnType<typeof workspace>>;
  const problems: string[] = [];
  const requests: string[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`no Chromium at ${CHROMIUM}: install Debian's package with \`apt-get install chromium\` (npm run setup:tests does), or set TSUITE_CHROMIUM`);
    }
    ws = await workspace();
    const out = join(ws.dir, 'out', 'report.html');
    const cli = await tsuiteIn(ws.dir, 'report', '--results', join('reports', runResult().run.id), '--bench', join('reports', benchRun().runId, 'bench.json'), '--history', 'bench-history', '-o', out);
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout.trim()).toBe(out);

    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(pathToFileURL(out).href, { waitUntil: 'load' });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    if (ws) await rm(ws.dir, { recursive: true, force: true });
  });

  it('loads with no console errors, runs no injected markup, and fetches nothing', async () => {
    expect(problems).toEqual([]);
    expect(await page.evaluate(() => (window as unknown as { __injected?: boolean }).__injected)).toBeUndefined();
    expect(requests.filter((u) => !u.startsWith('file:'))).toEqual([]);
    expect(await page.title()).toBe('tsuite report: run 20261121-070152-4c3d on qemu-x86');
  });

  it('draws a chart for every metric with all its points, the change point and the bench run', async () => {
    const expected = expectedCharts(ws.history);
    expect(expected.length).toBeGreaterThanOrEqual(4);
    const bench = benchRun();
    for (const { target, metric, points } of expected) {
      const fig = page.locator(`section.group[data-target="${target}"] figure.chart[data-metric="${metric}"]`);
      await expect(fig.count(), `${target} ${metric}`).resolves.toBe(1);
      expect(await fig.getAttribute('data-drawn-points'), `${target} ${metric}`).toBe(String(points));
      const drawn = await fig.evaluate((el) => {
        const u = (window as unknown as { tsuiteReport: { charts: Record<string, { data: (number | null)[][] }> } }).tsuiteReport.charts[el.id]!;
        const canvas = el.querySelector('canvas')!;
        const pixels = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
        let inked = 0;
        for (let i = 3; i < pixels.length; i += 4) if (pixels[i]! > 0) inked++;
        return { x: u.data[0]!.length, values: u.data[3]!.filter((v) => v !== null).length, current: u.data[5]!.findIndex((v) => v !== null), inked, width: canvas.width };
      });
      expect(drawn, `${target} ${metric}`).toMatchObject({ x: points, values: points });
      // Something was painted: axes, line, band (an empty canvas has no opaque pixel).
      expect(drawn.inked).toBeGreaterThan(1000);
      // The bench run (not recorded in the history) is the newest, highlighted point of its
      // machine's charts; another machine's charts have no current run.
      expect(drawn.current, `${target} ${metric}`).toBe(target === bench.target ? points - 1 : -1);
    }
    const getppid = page.locator(`section.group[data-target="qemu-x86"] figure.chart[data-metric="syscall/getppid"]`);
    expect(await getppid.getAttribute('data-change-points')).toBe(String(STEP_AT));
    await expect(getppid.locator('.change-points li').innerText()).resolves.toMatch(/from run 20261101-090006-0006 .*→.*\+(29|30)\.\d%/);
    expect(await getppid.locator('figcaption').innerText()).toContain(`highlighted: ${bench.runId}`);
    expect(expected.find((c) => c.target === bench.target && c.metric === METRICS[0].name)!.points).toBe(RUNS + 1);
  });

  it('links every failing test to its console excerpt', async () => {
    for (const id of FAILING) await expect(page.locator(`ol.failures li[data-test="${id.replace(/["\\]/g, '\\$&')}"]`).count()).resolves.toBe(1);
    const link = page.locator(`li[data-test="${FAILING[0]}"] a.to-excerpt`);
    await link.click();
    const target = await page.evaluate(() => ({ hash: location.hash, id: document.querySelector(':target')?.id }));
    expect(target.id).toBe(target.hash.slice(1));
    const excerpt = page.locator(`#${target.id}`);
    expect(await excerpt.isVisible()).toBe(true);
    expect(await excerpt.innerText()).toContain('Kernel panic - not syncing: Fatal exception');
    // Scrolled into view: the excerpt's top is inside the viewport.
    const top = await excerpt.evaluate((el) => el.getBoundingClientRect().top);
    expect(top).toBeGreaterThan(-1);
    expect(top).toBeLessThan(900);
    // The injected markup in a test name and excerpt shows as text.
    expect(await page.locator(`li[data-test^="isolation/escape"] code`).innerText()).toContain('<script>window.__injected = true</script>');
  });

  it('shows the conformance matrix per suite, and saves a screenshot', async () => {
    const syscall = page.locator('details.matrix[data-suite="syscall"]');
    expect(await syscall.getAttribute('open')).not.toBeNull();
    expect(await syscall.locator('tbody tr').count()).toBe(300);
    // The failing item comes first.
    expect(await syscall.locator('tbody tr').first().innerText()).toMatch(/^memory\/call7\s+fail/);
    await page.locator('details.matrix[data-suite="isolation"] summary').click();
    expect(await page.locator('details.matrix[data-suite="isolation"] tbody tr').first().isVisible()).toBe(true);
    await mkdir(resolve('reports'), { recursive: true });
    await page.locator('#history').scrollIntoViewIfNeeded();
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect((await readFile(SCREENSHOT)).subarray(1, 4).toString()).toBe('PNG');
    expect(problems).toEqual([]);
  });

  it('lets no script run but its own (Content-Security-Policy)', async () => {
    await expect(page.addScriptTag({ content: 'window.__injected = true' })).rejects.toThrow();
    expect(await page.evaluate(() => (window as unknown as { __injected?: boolean }).__injected)).toBeUndefined();
    expect(problems.some((p) => /Content Security Policy/.test(p))).toBe(true);
  });

  it('defaults to the newest run dirs under reports/ and bench-history/, and says what to do with nothing to report', async () => {
    const made = await tsuiteIn(ws.dir, 'report');
    expect(made.code, made.stderr).toBe(0);
    expect(made.stderr).toContain(`results ${join('reports', runResult().run.id, 'results.json')}`);
    expect(made.stderr).toContain(`bench ${join('reports', benchRun().runId, 'bench.json')}`);
    const html = await readFile(join(ws.dir, 'reports', 'report.html'), 'utf8');
    expect(html).toContain('data-metric="memory/page-fault"');

    const empty = join(ws.dir, 'empty');
    await mkdir(empty);
    const none = await tsuiteIn(empty, 'report');
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/nothing to report: no results\.json or bench\.json under reports\/ and no rows in bench-history\/\n {2}fix: run `tsuite run` or `tsuite bench` first/);
    const missing = await tsuiteIn(empty, 'report', '--results', 'nope');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--results nope: no such file');
  });
});
