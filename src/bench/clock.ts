/**
 * The clock a benchmark is measured with.
 *
 * - `instructions`: QEMU's instruction counter (icount) drives the guest's clocks, one virtual
 *   nanosecond per guest instruction. A guest timing a loop with `clock_gettime` then reads how
 *   many instructions the loop took: the same on every run and every boot, whatever else the host
 *   is doing. It sees longer code paths, not caches, TLBs or contention.
 * - `time`: real time. The only honest measure of speed on real hardware, and noisy on a shared host.
 *
 * Figures of the two modes are never compared with each other.
 */

export type BenchClock = 'instructions' | 'time';
/** What a user may ask for: `auto` is instructions under TCG, time under KVM and on clouds. */
export type BenchClockChoice = BenchClock | 'auto';

export const BENCH_CLOCKS: readonly BenchClockChoice[] = ['auto', 'instructions', 'time'];

/**
 * QEMU's options for instruction mode. `shift=0`: the virtual clock advances 2^0 = 1 ns per
 * instruction. `sleep=off`: when every vCPU idles, the virtual clock jumps to the next timer
 * instead of waiting in real time, so an idle guest costs no virtual time and host delays never
 * show up as guest time. `align=off`: the virtual clock is not slowed to stay near real time.
 */
export const ICOUNT_OPTIONS = 'shift=0,sleep=off,align=off';

/**
 * Instruction mode boots one vCPU. With icount, QEMU runs every vCPU in one thread, round robin,
 * so a second vCPU adds no parallelism; and QEMU 7.2 with icount hung the 6.1 kernel at SMP
 * bring-up ("Booting SMP configuration") with two (fixtures/bench/SETTINGS.md).
 */
export const INSTRUCTION_MODE_CPUS = 1;

/** The clock `auto` means for a machine: instruction counts where the guest runs under TCG. */
export function resolveClock(choice: BenchClockChoice, accel: 'kvm' | 'tcg' | 'none', runner = 'qemu'): BenchClock {
  if (choice !== 'auto') return choice;
  return runner === 'qemu' && accel === 'tcg' ? 'instructions' : 'time';
}

/** How a unit reads in a report: instruction-mode figures are instruction counts, never time. */
export function displayUnit(unit: string, clock: BenchClock | undefined): string {
  if (clock !== 'instructions') return unit;
  // ns, us, ms, s: one virtual ns is one guest instruction.
  if (/^(ns|us|µs|ms|s)$/.test(unit)) return `virtual ${unit}`;
  // A rate per second (MB/s): per virtual second.
  const rate = /^(.*)\/s$/.exec(unit);
  if (rate) return `${rate[1]}/virtual s`;
  return `${unit} (instruction count)`;
}

/** One line for reports: what the figures of a run in this mode are. */
export function describeClock(clock: BenchClock): string {
  return clock === 'instructions'
    ? 'instruction mode: guest figures are instruction counts (QEMU icount, 1 virtual ns = 1 guest instruction), not time; host-side metrics stay in real time'
    : 'time mode: real time, as noisy as the host';
}
