import type { BenchClock } from '../bench/clock.js';
import { benchRunFromBoots } from '../bench/aggregate.js';
import { hostFingerprint, kernelIdentity } from '../bench/fingerprint.js';
import type { BenchRun } from '../bench/model.js';
import { ExitCode, InfraError } from '../core/errors.js';
import type { RunResult } from '../core/result.js';
import { exitCodeFor } from './exit-code.js';
import type { PreparedTarget } from './suite-run.js';

/** Measures a prepared target N times and folds the boots into a BenchRun (for `bench`, `compare` and `bisect`). */
export async function benchTarget(
  prepared: PreparedTarget,
  boots: readonly RunResult[],
  meta: { runId: string; commit?: string; ref?: string },
): Promise<BenchRun> {
  const first = boots[0]!;
  const accel = boots.find((b) => b.run.accel !== 'none')?.run.accel ?? 'none';
  const clock = runClock(boots);
  return benchRunFromBoots(boots, {
    ...meta,
    target: prepared.target.name,
    date: first.run.startedAt,
    kernel: await kernelIdentity(first.run.kernel),
    fingerprint: hostFingerprint(accel, prepared.qemuVersion ?? 'unknown', clock, prepared.target.def.runner),
    clock,
  });
}

/**
 * The clock the boots' benchmark sessions ran: one for all of them. Boots that differ (KVM failed
 * on one, so it fell back to TCG and counted instructions) cannot be folded into one figure.
 */
export function runClock(boots: readonly RunResult[]): BenchClock {
  const clocks = new Set(boots.flatMap((b) => b.sessions.map((s) => s.clock).filter((c) => c !== undefined)));
  if (clocks.size > 1) {
    throw new InfraError('the boots of one measurement ran on different benchmark clocks (instruction counts on some, real time on others)', 'give --clock instructions or --clock time (and --accel) so every boot runs the same way');
  }
  return [...clocks][0] ?? 'time';
}

/** 130 interrupted, 1 a benchmark failed on the kernel, 3 the harness failed, else 0. */
export function benchExitCode(boots: readonly RunResult[]): number {
  const codes = new Set<number>(boots.map(exitCodeFor));
  return [ExitCode.interrupted, ExitCode.testFailed, ExitCode.infra].find((c) => codes.has(c)) ?? ExitCode.ok;
}
