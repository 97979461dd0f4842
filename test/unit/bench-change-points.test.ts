import { describe, expect, it } from 'vitest';
import { changePoints, energyQ, strongestSplit } from '../../src/bench/change-points.js';
import type { HistoryRow } from '../../src/bench/model.js';
import { currentRegime } from '../../src/bench/regime.js';
import { summarize } from '../../src/bench/stats.js';
import { mulberry32 } from '../../src/core/seeded-random.js';

function gaussian(random: () => number): number {
  const u = 1 - random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/** Segments of [length, level] with gaussian noise of `sd`. */
function series(seed: number, segments: [number, number][], sd: number): number[] {
  const random = mulberry32(seed);
  return segments.flatMap(([n, level]) => Array.from({ length: n }, () => level + sd * gaussian(random)));
}

describe('changePoints (E-divisive means)', () => {
  // Each test of a further split is itself at the 5% level, so now and then noise next to a
  // real step is split off as a short regime of its own: bounded here, not forbidden.
  const near = (cps: number[], at: number) => cps.some((cp) => Math.abs(cp - at) <= 1);

  it('finds a single step within one point', () => {
    let extra = 0;
    for (let seed = 1; seed <= 20; seed++) {
      const at = 12 + (seed % 16);
      const cps = changePoints(series(seed, [[at, 100], [40 - at, 110]], 2));
      expect(near(cps, at), `seed ${seed}: found ${cps.join(',')} for a step at ${at}`).toBe(true);
      if (cps.length > 1) extra++;
    }
    expect(extra).toBeLessThanOrEqual(3);
  });

  it('finds two steps, up then down', () => {
    let extra = 0;
    for (let seed = 1; seed <= 10; seed++) {
      const cps = changePoints(series(seed, [[15, 100], [15, 108], [15, 96]], 2));
      expect(near(cps, 15) && near(cps, 30), `seed ${seed}: found ${cps.join(',')}`).toBe(true);
      if (cps.length > 2) extra++;
    }
    expect(extra).toBeLessThanOrEqual(2);
  });

  it('finds nothing where the change is within the noise', () => {
    // A 0.2-sigma step over 20 points is not detectable; the method must not invent one.
    let found = 0;
    for (let seed = 1; seed <= 20; seed++) if (changePoints(series(seed, [[20, 100], [20, 100.4]], 2)).length > 0) found++;
    expect(found).toBeLessThanOrEqual(3);
  });

  it('finds nothing in flat noise (rarely, at the 5% level, a false change)', () => {
    let withChange = 0;
    for (let seed = 1; seed <= 40; seed++) if (changePoints(series(seed, [[40, 100]], 2)).length > 0) withChange++;
    expect(withChange / 40).toBeLessThanOrEqual(0.1);
    expect(changePoints(series(1, [[40, 100]], 2))).toEqual([]);
    expect(changePoints(new Array<number>(20).fill(5))).toEqual([]);
  });

  it('scans splits with the same Q as the definition', () => {
    // 0,0,0 | 10,10,10: between-sum 90 over 9 pairs, no spread within: E = 20, Q = 9/6 * 20.
    expect(energyQ([0, 0, 0], [10, 10, 10])).toBe(30);
    const s = series(6, [[9, 100], [8, 104]], 2);
    for (const alpha of [0.5, 1, 1.5]) {
      let best = { at: -1, q: -Infinity };
      for (let at = 3; at <= s.length - 3; at++) {
        const q = energyQ(s.slice(0, at), s.slice(at), alpha);
        if (q > best.q) best = { at, q };
      }
      const found = strongestSplit(s, { alpha })!;
      expect(found.at).toBe(best.at);
      expect(found.q).toBeCloseTo(best.q, 8);
    }
    expect(strongestSplit([1, 2, 3, 4, 5])).toBeUndefined();
  });

  it('is deterministic for a seed', () => {
    const s = series(3, [[10, 100], [10, 103]], 2);
    expect(changePoints(s, { seed: 1 })).toEqual(changePoints(s, { seed: 1 }));
  });

  it('respects minSize and returns nothing for short series', () => {
    expect(changePoints([1, 1, 1, 9, 9])).toEqual([]); // < 2 * minSize
    expect(changePoints([])).toEqual([]);
    // A step two points from the end is too close for minSize 3 to place it exactly.
    const late = series(4, [[20, 100], [2, 150]], 1);
    for (const cp of changePoints(late)) expect(late.length - cp).toBeGreaterThanOrEqual(3);
    expect(changePoints(late, { minSize: 2 })).toContain(20);
  });

  it('validates its options', () => {
    expect(() => changePoints([1, 2, 3, 4, 5, 6], { alpha: 2 })).toThrow(/alpha/);
    expect(() => changePoints([1, 2, 3, 4, 5, 6], { minSize: 1 })).toThrow(/minSize/);
    expect(() => changePoints([1, 2, 3, 4, 5, 6], { permutations: 0 })).toThrow(/permutations/);
    expect(() => changePoints([1, NaN, 3, 4, 5, 6])).toThrow(/finite/);
  });
});

function row(i: number, values: number[]): HistoryRow {
  return {
    version: 1,
    runId: `run-${i}`,
    date: new Date(Date.UTC(2026, 0, 1 + i)).toISOString(),
    commit: `c${i}`,
    target: 'qemu-x86',
    name: 'syscall/getppid',
    unit: 'ns',
    better: 'lower',
    kernel: { id: 'k', source: 'debian-package', cmdline: 'console=ttyS0' },
    fingerprint: { id: 'f', cpuModel: 'cpu', cores: 2, accel: 'tcg', qemuVersion: '7.2', runner: 'qemu', instanceType: 'local', clock: 'time' as const },
    samples: values,
    stats: summarize(values),
  };
}

describe('currentRegime', () => {
  it('is the runs since the last change point, by date', () => {
    const levels = series(8, [[12, 100], [12, 90]], 1.5);
    const rows = levels.map((v, i) => row(i, [v - 1, v, v + 1]));
    const shuffled = [...rows].reverse();
    const regime = currentRegime(shuffled);
    expect(regime.series.map((p) => p.runId)).toEqual(rows.map((r) => r.runId));
    expect(regime.series[3]!.value).toBeCloseTo(levels[3]!, 10);
    expect(regime.series[3]!.commit).toBe('c3');
    expect(regime.changePoints).toHaveLength(1);
    const cp = regime.changePoints[0]!;
    expect(Math.abs(cp - 12)).toBeLessThanOrEqual(1);
    expect(regime.changePoint).toBe(rows[cp]);
    expect(regime.rows).toEqual(rows.slice(cp));
  });

  it('is the whole history without a change point', () => {
    const rows = series(2, [[10, 100]], 1).map((v, i) => row(i, [v]));
    const regime = currentRegime(rows);
    expect(regime.changePoints).toEqual([]);
    expect(regime.changePoint).toBeUndefined();
    expect(regime.rows).toEqual(rows);
    expect(currentRegime([])).toEqual({ rows: [], series: [], changePoints: [] });
  });
});
