import { ICOUNT_OPTIONS, INSTRUCTION_MODE_CPUS, resolveClock, type BenchClock } from '../../src/bench/clock.js';
import type { ProvisionRequest } from '../../src/core/runner.js';

/** The benchmark clock of a benchmark session (undefined for any other session), once the accelerator is known. */
export function sessionClock(req: Pick<ProvisionRequest, 'clock'>, accel: 'kvm' | 'tcg'): BenchClock | undefined {
  return req.clock ? resolveClock(req.clock, accel) : undefined;
}

/** QEMU's instruction counter drives the guest clocks (src/bench/clock.ts says why these options). */
export function icountArgs(clock: BenchClock | undefined): string[] {
  return clock === 'instructions' ? ['-icount', ICOUNT_OPTIONS] : [];
}

/** Instruction mode runs one vCPU (see INSTRUCTION_MODE_CPUS); otherwise the target's count. */
export function vcpusFor(req: Pick<ProvisionRequest, 'cpus'>, clock: BenchClock | undefined): number {
  return clock === 'instructions' ? INSTRUCTION_MODE_CPUS : req.cpus;
}
