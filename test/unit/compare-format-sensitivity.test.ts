import { describe, expect, it } from 'vitest';
import { describeClock } from '../../src/bench/clock.js';
import { formatComparison, pairsText, sensitivityLine } from '../../src/bench/compare-format.js';
import type { Comparison, MetricComparison, Stats } from '../../src/bench/model.js';

const stats = (mean: number): Stats => ({
  mean, p50: mean, p75: mean, p99: mean, sd: mean * 0.01, sem: mean * 0.005, moe: mean * 0.012, rme: 1.2,
  min: mean * 0.98, max: mean * 1.02, samples: [mean * 0.99, mean, mean * 1.01],
});

const metric = (m: Partial<MetricComparison> & Pick<MetricComparison, 'name' | 'verdict' | 'why'>): MetricComparison => ({
  unit: 'ns', better: 'lower', head: stats(100), base: stats(100), ...m,
});

const metrics: MetricComparison[] = [
  metric({ name: 'syscall/getppid', clock: 'instructions', verdict: 'unchanged', ratio: 1.001, ci: [0.999, 1.003], p: 0.5, q: 0.6, detectable: 0.0104, why: 'within ±1%' }),
  metric({ name: 'pipe/throughput', unit: 'MB/s', better: 'higher', clock: 'instructions', verdict: 'unchanged', ratio: 1, ci: [0.998, 1.002], p: 0.9, q: 0.9, detectable: 0.0102, why: 'within ±1%' }),
  metric({ name: 'container/cold-start', unit: 'ms', clock: 'time', verdict: 'noisy', ratio: 1.2, ci: [0.8, 1.8], p: 0.3, q: 0.6, detectable: 0.612,
    why: '+20.0% (95% CI -20.0..+80.0), q=0.600: not significant and the CI reaches past ±5%; this run could see changes above ±61.2%' }),
  metric({ name: 'boot/landmark', unit: 'ms', verdict: 'no-baseline', why: 'no baseline' }),
];

const comparison: Comparison = {
  mode: 'ab',
  base: { label: 'reference on qemu-x86' },
  head: { label: 'my.elf on qemu-x86' },
  target: 'qemu-x86',
  fingerprint: { id: '3f2a1b', cpuModel: 'AMD EPYC 7B13', cores: 2, accel: 'tcg', qemuVersion: '7.2.22', runner: 'qemu', instanceType: 'local', clock: 'instructions' },
  clock: 'instructions',
  settings: { alpha: 0.05, minEffect: 0.05, minEffectInstructions: 0.01, test: "Yuen's paired test", looks: 7, stopping: 'adaptive: ...' },
  pairs: { used: 12, first: 8, max: 20, design: 'interleaved' },
  metrics,
};

describe('sensitivity', () => {
  it('names the least and the most sensitive metric', () => {
    const line = sensitivityLine(metrics)!;
    expect(line).toMatch(/^This run could see changes above ±61\.2% in its least sensitive metric \(container\/cold-start\)/);
    expect(line).toContain('above ±1.02% in its most sensitive (pipe/throughput)');
    expect(sensitivityLine([metrics[0]!])).toBe('This run could see changes above ±1.04% (95% power); smaller ones can hide in its noise.');
    expect(sensitivityLine([metrics[3]!])).toBeUndefined();
    const hopeless = { ...metrics[2]!, detectable: 1e43 };
    expect(sensitivityLine([metrics[0]!, hopeless])).toBe(
      'This run could see no change below ±1000% in its least sensitive metric (container/cold-start) and changes above ±1.04% in its most sensitive (syscall/getppid), with 95% power; smaller ones can hide in its noise.',
    );
  });

  it('table: a detectable column, the sensitivity, the clock, the looks and the pairs in the header', () => {
    const text = formatComparison(comparison, 'table');
    const lines = text.split('\n');
    expect(lines[0]).toContain('measured A/B interleaved in one run, 12 pairs (adaptive: first 8, max 20)');
    expect(text).toContain(describeClock('instructions'));
    expect(text).toContain('7 planned looks (adaptive boots), each tested at alpha/7');
    expect(text).toContain('min effect 1% for instruction counts, 5% in real time');
    expect(text).toContain('This run could see changes above ±61.2%');
    expect(lines.find((l) => l.startsWith('metric'))).toMatch(/q\s+detectable\s+verdict/);
    const row = (name: string) => lines.find((l) => l.startsWith(name))!;
    expect(row('container/cold-start')).toMatch(/\s±61\.2%\s+noisy\s/);
    expect(row('container/cold-start')).toContain('this run could see changes above ±61.2%');
    expect(row('boot/landmark')).toMatch(/—\s+no-baseline/);
  });

  it('labels instruction-mode figures as instruction counts, never as plain time', () => {
    const lines = formatComparison(comparison, 'table').split('\n');
    const row = (name: string) => lines.find((l) => l.startsWith(name))!;
    expect(row('syscall/getppid')).toMatch(/^syscall\/getppid\s+virtual ns ↓/);
    expect(row('pipe/throughput')).toMatch(/MB\/virtual s ↑/);
    expect(row('container/cold-start')).toMatch(/^container\/cold-start\s+ms ↓/);
    const md = formatComparison(comparison, 'markdown');
    expect(md).toContain('| syscall/getppid | virtual ns ↓ |');
    expect(md).not.toMatch(/\| syscall\/getppid \| ns /);
  });

  it('markdown: the header states the clock and the sensitivity of the run, the table a detectable column', () => {
    const md = formatComparison(comparison, 'markdown');
    const details = md.indexOf('<details>');
    const header = md.slice(0, details);
    expect(header).toContain('12 pairs (adaptive: first 8, max 20)');
    expect(header).toContain(`**Clock:** ${describeClock('instructions')}`);
    expect(header).toContain('**Sensitivity:** This run could see changes above ±61.2% in its least sensitive metric (container/cold-start)');
    expect(md).toMatch(/\| q \| detectable \| verdict \| why \|/);
    expect(md).toMatch(/\| ±61\.2% \| 🟡 noisy \|/);
    expect(md).toContain('every look tested at alpha/7 (Bonferroni over the 7 planned looks)');
    // Rows keep as many cells as the header.
    const rows = md.slice(details).split('\n').filter((l) => l.startsWith('|'));
    expect(new Set(rows.map((l) => l.replace(/\\\|/g, '').split('|').length)).size).toBe(1);
  });

  it('json carries the detectable change of every metric', () => {
    const parsed = JSON.parse(formatComparison(comparison, 'json')) as Comparison;
    expect(parsed.metrics.map((m) => m.detectable)).toEqual([0.0104, 0.0102, 0.612, undefined]);
    expect(parsed.pairs).toEqual(comparison.pairs);
  });

  it('describes a duet and a fixed number of pairs', () => {
    expect(pairsText({ ...comparison, pairs: { used: 8, first: 8, max: 8, design: 'duet' } })).toBe(
      'measured A/B as a duet (both at once, each QEMU pinned to its own half of the host CPUs, halves swapped round by round), 8 pairs',
    );
    const md = formatComparison({ ...comparison, pairs: { used: 8, first: 8, max: 8, design: 'duet' }, settings: { ...comparison.settings, looks: 1 } }, 'markdown');
    expect(md).toContain('kernels A and B booted at the same time');
    expect(md).not.toContain('planned looks');
  });
});
