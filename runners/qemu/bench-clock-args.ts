/**
 * How QEMU runs a benchmark session, per benchmark clock (src/bench/clock.ts). What each setting
 * does to the figures was measured on a shared 2-core host: fixtures/bench/SETTINGS.md.
 */
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

/**
 * The -accel value. A time-mode benchmark session under TCG runs every vCPU in one host thread
 * (`thread=single`): on a shared host the vCPU threads otherwise compete with each other and with
 * everything else for the cores, and boots ran faster and steadier without that (guest-to-init
 * 1980 against 2560 ms over 11 interleaved rounds, with the autogroup priority below). The bench
 * programs pin their processes to one vCPU, so nothing they measure needs two threads. Instruction
 * mode is single-threaded by nature (icount).
 */
export function accelOption(accel: 'kvm' | 'tcg', clock: BenchClock | undefined): string {
  return accel === 'tcg' && clock === 'time' ? 'tcg,thread=single' : accel;
}
