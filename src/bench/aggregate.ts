import type { RunResult } from '../core/result.js';
import type { BenchRun, InstructionSummary, MetricRun } from './model.js';
import { median, summarize } from './stats.js';

export type BenchMeta = Pick<BenchRun, 'runId' | 'target' | 'commit' | 'ref' | 'date' | 'kernel' | 'fingerprint' | 'clock'>;

/**
 * Folds the results of N independent boots of the bench suite into one BenchRun. Each boot
 * contributes one value per metric, the median of its raw samples (robust to a stray slow
 * sample), so the statistics describe the spread across boots. An instruction count takes the
 * least disturbed sample instead (leastDisturbed). A benchmark that did not pass in
 * some boot is listed under `problems` with its reason, never averaged in.
 */
/**
 * Under instruction counting, noise only ever adds instructions (an interrupt, the agent answering
 * the host in the middle of a batch), so the least disturbed batch is the code path itself: the
 * smallest time, or the largest throughput. Measured here, it repeats exactly from boot to boot
 * where the median moves by a percent or two.
 */
export function leastDisturbed(samples: readonly number[], better: 'lower' | 'higher'): number {
  return better === 'higher' ? Math.max(...samples) : Math.min(...samples);
}

/**
 * A boot's value under instruction counting. Some work is deferred by the kernel and done later,
 * in whichever batch is running then (files: inodes and dentries freed after an RCU grace period):
 * there the least disturbed batch is only one that happened to get less of it, and it moved by
 * 0.9% from boot to boot against 0.3% for the mean of the better half of the batches (measured
 * over 111 boots).
 */
export function countedValue(samples: readonly number[], better: 'lower' | 'higher', counted: InstructionSummary = 'least-disturbed'): number {
  if (counted === 'least-disturbed') return leastDisturbed(samples, better);
  const best = [...samples].sort((a, b) => (better === 'higher' ? b - a : a - b)).slice(0, Math.max(1, Math.ceil(samples.length / 2)));
  return best.reduce((s, x) => s + x, 0) / best.length;
}

export function benchRunFromBoots(boots: readonly RunResult[], meta: BenchMeta): BenchRun {
  const byName = new Map<string, Omit<MetricRun, 'samples' | 'stats'>>();
  const problems = new Map<string, BenchRun['problems'][number]>();
  for (const boot of boots) {
    for (const test of boot.tests) {
      if (test.status !== 'passed') {
        const status = test.status === 'skipped' ? 'skipped' : test.status === 'infraError' ? 'infraError' : 'failed';
        const reason = test.reason ?? test.error?.message ?? test.status;
        problems.set(test.id, { benchmark: test.id, status, reason });
        continue;
      }
      for (const m of test.metrics) {
        const samples = m.samples ?? (m.value !== undefined ? [m.value] : []);
        if (samples.length === 0) continue;
        let entry = byName.get(m.name);
        if (!entry) {
          entry = { name: m.name, unit: m.unit, better: m.better ?? 'lower', ...(m.clock ? { clock: m.clock } : {}), ...(m.counted ? { counted: m.counted } : {}), boots: [] };
          byName.set(m.name, entry);
        }
        entry.boots.push([...samples]);
      }
    }
  }
  const metrics: MetricRun[] = [...byName.values()].map((m) => {
    const perBoot = m.boots.map((b) => (m.clock === 'instructions' ? countedValue(b, m.better, m.counted) : median(b)));
    return { ...m, samples: perBoot, stats: summarize(perBoot) };
  });
  return { version: 1, ...meta, boots: boots.length, metrics, problems: [...problems.values()] };
}
