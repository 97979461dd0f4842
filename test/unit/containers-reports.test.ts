import type Dockerode from 'dockerode';
import { describe, expect, it } from 'vitest';
import { jsonReport } from '../../suites/containers/custom-images.js';
import { cpuFraction } from '../../suites/containers/stats.js';

describe('jsonReport', () => {
  it('takes the last JSON line of the output, whatever comes around it', () => {
    const out = 'starting\n{"listening":7000}\nnoise\n{"sent":3,"received":3,"ok":true}\n';
    expect(jsonReport<{ ok: boolean; sent: number }>(out, 'net')).toEqual({ sent: 3, received: 3, ok: true });
  });

  it('skips a line that only looks like JSON', () => {
    expect(jsonReport('{"a":1}\n{not json\n', 'x')).toEqual({ a: 1 });
  });

  it('names the image and shows the output when there is no report', () => {
    expect(() => jsonReport('Killed\n', 'memstress')).toThrow(/memstress printed no JSON report; its output was "Killed\\n"/);
  });
});

const sample = (read: string, totalNs: number) => ({ read, cpu_stats: { cpu_usage: { total_usage: totalNs } } }) as unknown as Dockerode.ContainerStats;

describe('cpuFraction', () => {
  it('is CPU time over the engine-clock time between the samples', () => {
    // 0.4 s of CPU over 2 s: a fifth of a CPU.
    expect(cpuFraction(sample('2026-01-01T00:00:00.5Z', 1_000_000_000), sample('2026-01-01T00:00:02.500000000Z', 1_400_000_000))).toBeCloseTo(0.2, 9);
  });

  it('keeps nanoseconds the engine gives', () => {
    expect(cpuFraction(sample('2026-01-01T00:00:00.000000100Z', 0), sample('2026-01-01T00:00:00.000000300Z', 100))).toBeCloseTo(0.5, 9);
  });

  it('refuses samples out of order', () => {
    expect(() => cpuFraction(sample('2026-01-01T00:00:02Z', 0), sample('2026-01-01T00:00:01Z', 5))).toThrow(/not in order/);
  });
});
