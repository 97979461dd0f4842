import type { Metric, TestContext } from '../../src/index.js';

/**
 * Reports a figure the host timed: always real time, whatever clock the guest runs on. (A figure
 * the guest measured goes through ctx.metric, which gives it the benchmark session's clock.)
 */
export function hostMetric(ctx: TestContext, metric: Omit<Metric, 'clock'>): void {
  ctx.metric({ ...metric, clock: 'time' });
}
