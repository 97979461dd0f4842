import { createHash } from 'node:crypto';
import { hostname } from 'node:os';

/**
 * What tsuite writes on everything it creates in a cloud account, so that a sweep can tell its
 * leftovers from everything else and from a run still going. Label values follow GCE's rules (the
 * strictest of the providers): lower-case letters, digits, '-' and '_', at most 63 characters.
 */
export const LABEL_RUN = 'tsuite-run';
export const LABEL_TARGET = 'tsuite-target';
/** `<host id>-<pid>`: a run on this host whose process is gone is an orphan at once, whatever its age. */
export const LABEL_OWNER = 'tsuite-owner';
/** Seconds since the epoch: a provider that keeps no creation time (object metadata) still has an age. */
export const LABEL_CREATED = 'tsuite-created';

/** Every name tsuite gives starts with this: a resource named so without labels is half-created. */
export const NAME_PREFIX = 'tsuite-';

export function labelValue(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9_-]+/g, '-').slice(0, 63);
}

/** This host, as a short stable id: the host name itself stays out of the provider's account. */
export function hostId(): string {
  return createHash('sha256').update(hostname()).digest('hex').slice(0, 10);
}

export function runLabels(runId: string, target: string, now = new Date()): Record<string, string> {
  return {
    [LABEL_RUN]: labelValue(runId),
    [LABEL_TARGET]: labelValue(target),
    [LABEL_OWNER]: `${hostId()}-${process.pid}`,
    [LABEL_CREATED]: String(Math.floor(now.getTime() / 1000)),
  };
}

/**
 * The names of one session's resources: `tsuite-<run>-<session>-<hash>-<kind>`, valid as a GCE resource
 * name (a letter first, then [-a-z0-9], at most 63) and as an object name.
 */
export function resourceNames(runId: string, sessionId: string, packageExtension = 'tar.gz'): { group: string; object: string; image: string; instance: string } {
  // Cut to fit, with a hash of the whole so two sessions of a long run id never share a name.
  const whole = `${runId}/${sessionId}`;
  const hash = createHash('sha256').update(whole).digest('hex').slice(0, 6);
  const readable = labelValue(`${runId}-${sessionId}`).replace(/_/g, '-').slice(0, 45).replace(/-+$/, '');
  const base = `${NAME_PREFIX}${readable}-${hash}`;
  return { group: `${base}-rg`, object: `${base}-pkg.${packageExtension}`, image: `${base}-img`, instance: `${base}-vm` };
}
