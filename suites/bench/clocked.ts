import type { Metric, TestContext } from '../../src/index.js';

/**
 * Reports a figure the guest measured with its own clock: an instruction count when the session's
 * clock is `instructions` (QEMU icount), real time otherwise. (What ctx.metric does anyway in a
 * benchmark session; spelled out so the two kinds read apart.)
 */
export function guestMetric(ctx: TestContext, metric: Omit<Metric, 'clock'>): void {
  ctx.metric({ ...metric, clock: ctx.session.clock ?? 'time' });
}

/** Reports a figure the host timed: always real time, whatever clock the guest runs on. */
export function hostMetric(ctx: TestContext, metric: Omit<Metric, 'clock'>): void {
  ctx.metric({ ...metric, clock: 'time' });
}
