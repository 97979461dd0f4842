import type { RunResult } from '../core/result.js';
import type { StepOutcome } from './driver.js';

/**
 * Functional mode's rule for one step's run of the chosen test: passed is good; failed, crashed
 * and timedOut are bad (the kernel's doing); anything that says nothing about the kernel
 * (infraError, skipped, noTests, parseError) is a skip, as `git bisect skip` is.
 * A test that reported nothing at all is bad only when the kernel visibly died first (another
 * test of the step crashed or timed out before it could report); otherwise a skip.
 */
export function verdictForTest(result: RunResult, id: string, dir?: string): StepOutcome {
  const where = dir ? { dir } : {};
  const t = result.tests.find((x) => x.id === id);
  if (t) {
    const message = t.error?.message ?? t.reason;
    const evidence = { status: t.status, ...(message ? { message } : {}), ...where };
    if (t.status === 'passed') return { verdict: 'good', evidence };
    if (t.status === 'failed' || t.status === 'crashed' || t.status === 'timedOut') return { verdict: 'bad', evidence };
    return { verdict: 'skip', evidence };
  }
  const died = result.tests.find((x) => x.status === 'crashed' || x.status === 'timedOut');
  if (died) {
    return { verdict: 'bad', evidence: { status: died.status, message: `${id} reported nothing: ${died.id} ${died.status}${died.error ? `: ${died.error.message}` : ''}`, ...where } };
  }
  const infra = result.tests.find((x) => x.status === 'infraError');
  const why = result.run.infraError?.message ?? infra?.error?.message;
  return {
    verdict: 'skip',
    evidence: { status: why ? 'infraError' : 'missing', message: why ? `${id} did not run: ${why}` : `${id} reported no result (tests that ran: ${result.tests.map((x) => `${x.id} ${x.status}`).join(', ') || 'none'})`, ...where },
  };
}
