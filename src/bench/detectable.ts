/**
 * The smallest change a run could have detected: what a `noisy` verdict means in numbers. "No
 * evidence of a change" from a run that could only see ±40% says little about a 10% regression;
 * the report says which it was.
 *
 * A change is reported when its estimated log ratio clears both the test's critical value
 * (t_{1-alpha/2} standard errors) and the minimum effect. The estimate scatters around the true
 * log ratio by t_df standard errors, so a true change clears both with probability POWER once it
 * is t_{POWER} standard errors beyond the larger of the two:
 *
 *   detectable log ratio = max(t_{1-alpha/2,df} * se, minimum effect) + t_{POWER,df} * se
 *
 * POWER is 95%, not the textbook 80%: the figure is quoted when a change was missed, and a stated
 * sensitivity that a real change slips under one time in five would mislead too often. With 95%,
 * a true change at least as large as the stated one is missed at most about one time in twenty.
 */

import tQuantile from '@stdlib/stats-base-dists-t-quantile';

export const DETECTION_POWER = 0.95;

/**
 * The smallest relative change (a fraction: 0.12 for ±12%) detected with DETECTION_POWER, given
 * the standard error `se` of the log ratio with `df` degrees of freedom, the two-sided
 * significance level `alpha` a single metric is held to, and the minimum effect. Either direction:
 * the larger of the increase and the decrease that just clear the bar, so ±N% holds both ways.
 * Infinity when there was no estimate of the noise.
 */
export function detectableChange(se: number, df: number, alpha: number, minEffect: number): number {
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`alpha must be in (0, 1), got ${alpha}`);
  if (!(minEffect >= 0 && minEffect < 1)) throw new RangeError(`minEffect must be in [0, 1), got ${minEffect}`);
  if (Number.isNaN(se) || se < 0) throw new RangeError(`se must be a standard error (0 or more), got ${se}`);
  // No variance: the change is known exactly, and any change past the minimum effect is reported.
  if (se === 0) return minEffect;
  if (!Number.isFinite(se) || !(df > 0)) return Infinity;
  const critical = tQuantile(1 - alpha / 2, df) * se;
  const margin = tQuantile(DETECTION_POWER, df) * se;
  const up = Math.exp(Math.max(critical, Math.log1p(minEffect)) + margin) - 1;
  const down = 1 - Math.exp(-(Math.max(critical, -Math.log1p(-minEffect)) + margin));
  return Math.max(up, down);
}

/**
 * Past ±1000% (a factor of 11) the figure only says "nothing realistic": two boots of a noisy
 * metric can give ±10^40%, which reads as a bug. Such runs say they could see nothing below it.
 */
export const DETECTABLE_SHOWN_UP_TO = 10;

/** `±12.3%`: three significant digits; `±>1000%` past DETECTABLE_SHOWN_UP_TO, `±∞` when nothing could be seen. */
export function formatDetectable(detectable: number): string {
  if (!Number.isFinite(detectable)) return '±∞';
  if (detectable > DETECTABLE_SHOWN_UP_TO) return `±>${DETECTABLE_SHOWN_UP_TO * 100}%`;
  return `±${Number((detectable * 100).toPrecision(3))}%`;
}

/** The phrase every `noisy` verdict ends with. */
export function couldSee(detectable: number): string {
  if (!Number.isFinite(detectable)) return 'this run could not see any change (too few values to estimate the noise)';
  if (detectable > DETECTABLE_SHOWN_UP_TO) {
    return `this run could see changes above ±${DETECTABLE_SHOWN_UP_TO * 100}% at best (too few boots for this noise to see any realistic change)`;
  }
  return `this run could see changes above ${formatDetectable(detectable)}`;
}
