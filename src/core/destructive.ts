import type { Session } from './session.js';
import type { TestContext } from './suite.js';

/**
 * The agent works on a host the session does not own (the local or an ssh target): what a test changes
 * there outlives the run. A guest tsuite booted is discarded after its session.
 */
export const sharesHost = (session: Session): boolean => session.agent?.scratchRoot !== undefined;

/** Why a test may not do `what` (e.g. "bind 0000:01:00.0 away from its driver"); undefined when it may. */
export function destructiveRefusal(session: Session, allowDestructive: boolean | undefined, what: string): string | undefined {
  if (!sharesHost(session) || allowDestructive) return undefined;
  // The same rule for a machine reached over SSH: it is someone else's, like the host itself.
  const where = session.ssh !== undefined ? 'the ssh target (a machine tsuite did not boot)' : 'the local target';
  return `refused on ${where} without --allow-destructive (it would ${what})`;
}

/**
 * For a test about to change the machine beyond the session (rebind a device, load a module):
 * skips it on the local target unless the user passed --allow-destructive (or set the target's
 * allowDestructive); returns on any machine tsuite booted.
 */
export function requireDestructive(ctx: Pick<TestContext, 'session' | 'target' | 'skip'>, what: string): void {
  const why = destructiveRefusal(ctx.session, ctx.target.allowDestructive, what);
  if (why) ctx.skip(why);
}
