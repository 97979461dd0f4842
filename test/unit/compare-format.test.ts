import { describe, expect, it } from 'vitest';
import { COMMENT_MARKER, escapeMarkdown, formatChange, formatComparison, formatValue } from '../../src/bench/compare-format.js';
import type { Comparison, MetricComparison, Stats } from '../../src/bench/model.js';

const stats = (mean: number): Stats => ({
  mean, p50: mean, p75: mean, p99: mean, sd: mean * 0.01, sem: mean * 0.005, moe: mean * 0.012, rme: 1.2,
  min: mean * 0.98, max: mean * 1.02, samples: [mean * 0.99, mean, mean * 1.01],
});

const metric = (m: Partial<MetricComparison> & Pick<MetricComparison, 'name' | 'verdict' | 'why'>): MetricComparison => ({
  unit: 'ns', better: 'lower', head: stats(100), ...m,
});

// Listed in an order unlike the expected one, so sorting is what puts them right.
const metrics: MetricComparison[] = [
  metric({ name: 'syscall/getppid', verdict: 'unchanged', ratio: 1.004, ci: [0.99, 1.018], p: 0.6, q: 0.71, base: stats(465), head: stats(466.9), why: 'within 5%, q 0.71' }),
  metric({ name: 'pipe/round-trip', unit: 'µs', verdict: 'improved', ratio: 0.88, ci: [0.85, 0.91], p: 0.0002, q: 0.0004, base: stats(71), head: stats(62.48), why: '-12% and q < 0.05' }),
  metric({ name: 'mem/page|fault', unit: 'µs', verdict: 'regressed', ratio: 1.072, ci: [1.03, 1.115], p: 0.004, q: 0.012, base: stats(7), head: stats(7.504), why: '+7.2% and q 0.012',
    remeasured: { ratio: 1.068, q: 0.02, confirmed: true } }),
  metric({ name: 'boot/time-host', unit: 'ms', verdict: 'regressed', ratio: 1.31, ci: [1.2, 1.42], p: 0.00001, q: 0.00005, base: stats(2310), head: stats(3026), why: '+31% and q < 0.001' }),
  metric({ name: 'net/throughput', unit: 'MB/s', better: 'higher', verdict: 'noisy', ratio: 0.93, ci: [0.7, 1.16], p: 0.4, q: 0.55, base: stats(850), head: stats(790.5), why: 'rme 18% across boots' }),
  metric({ name: 'container/cold-start', unit: 'ms', verdict: 'no-baseline', head: stats(2875), why: 'no base runs with fingerprint 3f2a1b' }),
];

const comparison: Comparison = {
  mode: 'history',
  base: { label: 'origin/main', runs: 12, changePoint: 'def5678' },
  head: { label: 'abc1234' },
  target: 'qemu-x86',
  fingerprint: { id: '3f2a1b', cpuModel: 'AMD EPYC 7B13', cores: 2, accel: 'tcg', qemuVersion: '7.2.22', runner: 'qemu', instanceType: 'local', clock: 'time' as const },
  settings: { alpha: 0.05, minEffect: 0.05, test: "Welch's t-test on log per-boot medians" },
  metrics,
};

const NAMES_IN_ORDER = ['boot/time-host', 'mem/page|fault', 'pipe/round-trip', 'net/throughput', 'syscall/getppid', 'container/cold-start'];

/** Index of the first line mentioning each name, in the given lines. */
const positions = (lines: string[], names: string[]) => names.map((n) => lines.findIndex((l) => l.includes(n)));

describe('formatChange / formatValue', () => {
  it('prints ratios as signed percentages and values with 4 significant digits', () => {
    expect(formatChange(1.123)).toBe('+12.3%');
    expect(formatChange(0.88)).toBe('-12.0%');
    expect(formatChange(0.9996)).toBe('0.0%');
    expect(formatChange(Infinity)).toBe('+∞');
    expect(formatValue(465.123)).toBe('465.1');
    expect(formatValue(0.0001234)).toBe('0.0001234');
    expect(formatValue(3026.4)).toBe('3026');
  });
});

describe('table', () => {
  const text = formatComparison(comparison, 'table');
  const lines = text.split('\n');

  it('has a header with mode, sides, fingerprint and settings', () => {
    expect(lines[0]).toContain('history');
    expect(lines[0]).toContain('qemu-x86');
    expect(lines[0]).toContain('head abc1234 vs base origin/main (12 runs, regime since def5678)');
    expect(text).toContain('fingerprint 3f2a1b: AMD EPYC 7B13, 2 cores, tcg, QEMU 7.2.22, qemu/local');
    expect(text).toContain("test: Welch's t-test on log per-boot medians; alpha 0.05");
    expect(text).toContain('min effect 5%');
  });

  it('has one row per metric, regressed first, then improved, noisy, unchanged, no-baseline', () => {
    const at = positions(lines, NAMES_IN_ORDER);
    expect(at.every((i) => i > 0)).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
    for (const name of NAMES_IN_ORDER) expect(lines.filter((l) => l.startsWith(name))).toHaveLength(1);
  });

  it('prints means, the change with its 95% CI, q and the verdict on each row', () => {
    const row = (name: string) => lines.find((l) => l.startsWith(name))!;
    // The detectable column (—: the fixture's metrics do not say) sits between q and the verdict.
    expect(row('boot/time-host')).toMatch(/2310\s+3026\s+\+31\.0% \[\+20\.0%, \+42\.0%\]\s+<0\.001\s+—\s+regressed/);
    expect(row('pipe/round-trip')).toMatch(/-12\.0% \[-15\.0%, -9\.0%\]\s+<0\.001\s+—\s+improved/);
    expect(row('mem/page|fault')).toContain('re-measured: +6.8%, q 0.020, confirmed');
    expect(row('net/throughput')).toMatch(/MB\/s ↑/);
    expect(row('container/cold-start')).toMatch(/—\s+2875\s+—\s+—\s+—\s+no-baseline/);
    expect(text).toContain('change: head / base − 1 (geometric means over boots), [95% CI]');
    expect(text).toContain('2 regressed, 1 improved, 1 noisy, 1 unchanged, 1 without baseline');
  });

  it('is plain text unless colour is asked for', () => {
    expect(text).not.toContain('\x1b[');
    const colored = formatComparison(comparison, 'table', { color: true });
    expect(colored).toContain('\x1b[31mregressed');
    // Colour codes go around padded cells, so columns still line up once stripped.
    expect(colored.replace(/\x1b\[\d+m/g, '')).toBe(text);
  });

  it('names A and B in A/B mode', () => {
    const ab = formatComparison({ ...comparison, mode: 'ab', base: { label: 'vmlinuz-6.1' }, head: { label: 'vmlinuz-6.12' } }, 'table');
    expect(ab).toContain('kernel B vmlinuz-6.12 vs kernel A vmlinuz-6.1, measured A/B interleaved');
    expect(ab).toMatch(/A mean\s+B mean/);
  });
});

describe('markdown', () => {
  const md = formatComparison(comparison, 'markdown');
  const lines = md.split('\n');

  it('starts with the hidden marker, then a one-line headline', () => {
    expect(lines[0]).toBe(COMMENT_MARKER);
    expect(lines[1]).toMatch(/^### ⚠️ 2 regressions · 1 improved · 1 noisy · 1 without baseline/);
    expect(md.split(COMMENT_MARKER)).toHaveLength(2);
  });

  it('summarizes the flagged metrics, then every metric in a details block', () => {
    const details = lines.findIndex((l) => l.startsWith('<details>'));
    const summary = lines.slice(0, details);
    expect(summary.filter((l) => l.startsWith('| ') && !l.startsWith('| metric') && !l.startsWith('| ---'))).toHaveLength(3);
    expect(positions(summary, ['boot/time-host', 'mem/page\\|fault', 'pipe/round-trip']).every((i) => i > 0)).toBe(true);
    expect(summary.some((l) => l.includes('net/throughput') || l.includes('getppid'))).toBe(false);

    const full = lines.slice(details);
    expect(lines[details]).toContain('All 6 metrics');
    const at = positions(full, NAMES_IN_ORDER.map(escapeMarkdown));
    expect(at.every((i) => i > 0)).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
    expect(full).toContain('</details>');
  });

  it('escapes pipes in names so each row keeps its cell count', () => {
    expect(md).toContain('mem/page\\|fault');
    const rows = lines.filter((l) => l.startsWith('| ') && l.includes('page'));
    for (const row of rows) expect(row).not.toMatch(/page\|fault/);
    // Rows of a table have as many unescaped pipes as its header.
    const details = lines.findIndex((l) => l.startsWith('<details>'));
    const fullRows = lines.slice(details).filter((l) => l.startsWith('|'));
    const cells = (l: string) => l.replace(/\\\|/g, '').split('|').length;
    expect(new Set(fullRows.map(cells)).size).toBe(1);
  });

  it('prints the CI, the sides and the method line', () => {
    expect(md).toContain('+31.0% \\[+20.0%, +42.0%\\]');
    expect(md).toContain('head `abc1234` vs base `origin/main` (12 runs, since `def5678`)');
    expect(md).toMatch(/\*\*Method:\*\* Welch's t-test on log per-boot medians, one value per boot.*at least 5%, q < 0\.05 .*re-measurement agrees/);
    expect(md).toContain('1 suspected regression was re-measured');
  });

  it('says there are no regressions when there are none', () => {
    const quiet = formatComparison({ ...comparison, metrics: metrics.filter((m) => m.verdict === 'unchanged') }, 'markdown');
    expect(quiet.split('\n')[1]).toMatch(/^### ✅ no regressions/);
    expect(quiet).toContain('Nothing regressed or improved.');
    const noisy = formatComparison({ ...comparison, metrics: metrics.filter((m) => m.verdict === 'noisy') }, 'markdown');
    expect(noisy).toContain('Nothing regressed or improved; 1 noisy');
  });

  it('keeps HTML in names from reaching the page', () => {
    const evil = formatComparison({ ...comparison, metrics: [metric({ name: '<img src=x>', verdict: 'unchanged', why: '-->' })] }, 'markdown');
    expect(evil).toContain('&lt;img src=x&gt;');
    expect(evil).not.toContain('<img');
    expect(evil.split('-->')).toHaveLength(2); // only the marker closes an HTML comment
  });
});

describe('json', () => {
  it('is the Comparison as is, pretty-printed', () => {
    const json = formatComparison(comparison, 'json');
    expect(JSON.parse(json)).toEqual(comparison);
    expect(json).toContain('\n  "mode": "history"');
  });
});
