/**
 * Pulls through the Engine API (POST /images/create, what `docker pull` sends) for the registry
 * tests, and what each outcome must look like: a pull that works, one the registry refuses
 * promptly, and no secret in anything either shows.
 */
import type { TrustedRegistry } from './registry-trust.js';
import { statusOf, type Scope } from './scope.js';

/** A pull from a registry on this host: generous under TCG, but a hang still ends. */
const PULL_MS = 120_000;
/** A pull the registry refuses must end at its first answer, not after retries. */
const REFUSED_MS = 60_000;

/** One line of POST /images/create's progress stream. */
export interface PullEvent {
  status?: string;
  id?: string;
  error?: string;
  errorDetail?: { message?: string };
}

export type PullResult =
  | { ok: true; events: PullEvent[]; ms: number }
  | { ok: false; message: string; status?: number; events: PullEvent[]; ms: number; timedOut: boolean };

/** What a registry test gets: its scope, the trusted registries, and the secrets no output may carry. */
export interface RegistryRun {
  s: Scope;
  t: TrustedRegistry;
  /** The registry password, and any wrong one the test made up: redacted from every message. */
  secrets: string[];
}

/** `text` with every secret replaced by ***. */
export function hideSecrets(text: string, secrets: readonly string[]): string {
  return secrets.filter(Boolean).reduce((t, secret) => t.split(secret).join('***'), text);
}

/** Fails the test when `text` (named `where`) carries a secret, showing (redacted) where. */
export function mustNotCarry(run: RegistryRun, where: string, text: string): void {
  const at = Math.min(...run.secrets.filter(Boolean).map((secret) => text.indexOf(secret)).filter((i) => i >= 0));
  if (!Number.isFinite(at)) return;
  // Redacted first, then cut: a cut through a secret would show part of it.
  const shown = hideSecrets(text, run.secrets);
  const pos = hideSecrets(text.slice(0, at), run.secrets).length;
  throw new Error(`${where} carries the registry password: …${shown.slice(Math.max(0, pos - 200), pos + 200)}…`);
}

/**
 * POST /images/create for `ref` (dockerode's pull, credentials in X-Registry-Auth), followed to its
 * end. The ref is removed when the test ends, whether the pull was meant to work or not.
 */
export async function pull(s: Scope, ref: string, authconfig?: { username: string; password: string; serveraddress: string }, limitMs = PULL_MS): Promise<PullResult> {
  s.adoptImage(ref);
  const limit = AbortSignal.timeout(limitMs);
  const signal = AbortSignal.any([s.signal, limit]);
  const t0 = Date.now();
  let events: PullEvent[] = [];
  try {
    const stream = await s.api.pull(ref, { ...(authconfig && { authconfig }), abortSignal: signal });
    events = await new Promise<PullEvent[]>((resolve, reject) =>
      s.api.modem.followProgress(stream, (err: Error | null, out: PullEvent[]) => (err ? reject(err) : resolve(out))),
    );
  } catch (err) {
    s.signal.throwIfAborted();
    return { ok: false, message: (err as Error).message, status: statusOf(err), events, ms: Date.now() - t0, timedOut: limit.aborted };
  }
  s.signal.throwIfAborted();
  const ms = Date.now() - t0;
  // A stream cut short by the limit ends like a finished one.
  if (limit.aborted) return { ok: false, message: `no answer within ${limitMs / 1000} s`, events, ms, timedOut: true };
  const failed = events.find((e) => e.error !== undefined || e.errorDetail !== undefined);
  if (failed) return { ok: false, message: failed.error ?? failed.errorDetail?.message ?? JSON.stringify(failed), events, ms, timedOut: false };
  return { ok: true, events, ms };
}

/** A pull that must work; returns its progress events. */
export async function mustPull(run: RegistryRun, ref: string, authconfig?: Parameters<typeof pull>[2]): Promise<PullEvent[]> {
  const r = await pull(run.s, ref, authconfig);
  if (!r.ok) throw new Error(`pulling ${ref} failed${r.status ? ` (HTTP ${r.status})` : ''} after ${(r.ms / 1000).toFixed(1)} s: ${r.message}`);
  mustNotCarry(run, `the progress of pulling ${ref}`, JSON.stringify(r.events));
  return r.events;
}

/**
 * A pull that must fail promptly (an engine that retries a 401 or 404 would hang a deploy), with an
 * error matching `says` (and the HTTP status `status`, when given), carrying no secret, and leaving
 * no image under `ref`. Returns the error.
 */
export async function mustFail(run: RegistryRun, ref: string, authconfig: Parameters<typeof pull>[2], says: RegExp, what: string, status?: number): Promise<string> {
  const r = await pull(run.s, ref, authconfig, REFUSED_MS);
  if (r.ok) throw new Error(`pulling ${ref} ${what} succeeded; it must fail`);
  mustNotCarry(run, `the error of pulling ${ref} ${what}`, `${r.message} ${JSON.stringify(r.events)}`);
  if (r.timedOut) throw new Error(`pulling ${ref} ${what} did not end within ${REFUSED_MS / 1000} s: the engine must fail with the registry's answer, not keep retrying`);
  if (!says.test(r.message)) throw new Error(`pulling ${ref} ${what} failed, but not with ${says}: ${r.message}`);
  if (status !== undefined && r.status !== status) throw new Error(`pulling ${ref} ${what} failed with HTTP ${r.status ?? '200 and an error in the stream'}, not ${status}: ${r.message}`);
  await mustLack(run.s, ref, `after the failed pull ${what}`);
  return r.message;
}

/** GET /images/{ref}/json must answer 404: the engine has nothing under `ref`. */
export async function mustLack(s: Scope, ref: string, when: string): Promise<void> {
  const found = await s.api.getImage(ref).inspect().then(
    (i) => i.Id,
    (err: unknown) => {
      if (statusOf(err) === 404) return undefined;
      throw err;
    },
  );
  if (found) throw new Error(`${when}, the engine has ${ref} (image ${found})`);
}

/** The `Digest: sha256:…` line a pull prints. */
export const digestOf = (events: readonly PullEvent[]) => events.map((e) => /^Digest: (\S+)/.exec(e.status ?? '')?.[1]).find(Boolean);
