import { pidAlive } from '../../src/core/pid-alive.js';
import { LABEL_CREATED, LABEL_OWNER, LABEL_RUN, hostId, NAME_PREFIX } from './cloud-labels.js';
import type { CloudResource } from './cloud-provider.js';

export interface OrphanPolicy {
  now: Date;
  /** Resources of another run created longer ago than this are orphans. */
  graceMs: number;
  /** The run doing the sweep: its own resources are never touched. */
  currentRun?: string;
  /** Whether a process on this host is alive (injectable for tests). */
  pidAlive?: (pid: number) => boolean;
}

export interface Orphan {
  resource: CloudResource;
  why: string;
}

/**
 * Which of tsuite's resources are orphans, and why. Three cases: a labelled resource whose run is
 * older than the grace period; a labelled resource of a run on this host whose process is gone (a
 * SIGKILLed tsuite: no need to wait out the grace); and a resource named like tsuite's with no run
 * label (half-created: an import or insert that died before labels were set) older than the grace,
 * or at once when it has no creation time either.
 */
export function findOrphans(resources: readonly CloudResource[], policy: OrphanPolicy): Orphan[] {
  const alive = policy.pidAlive ?? pidAlive;
  const me = hostId();
  const orphans: Orphan[] = [];
  for (const r of resources) {
    const run = r.labels[LABEL_RUN];
    if (run !== undefined && run === policy.currentRun) continue;
    const created = createdAt(r);
    const ageMs = created ? policy.now.getTime() - created.getTime() : undefined;
    const old = ageMs !== undefined && ageMs >= policy.graceMs;
    const age = ageMs !== undefined ? `${Math.round(ageMs / 60_000)} min old` : 'age unknown';
    if (run === undefined) {
      if (!r.name.startsWith(NAME_PREFIX)) continue;
      if (old) orphans.push({ resource: r, why: `named like tsuite's but without a run label (half-created), ${age}` });
      // Without labels and without a creation time from the provider (an Azure resource group with no
      // tags) there is no age to wait out; tsuite labels everything in the call that creates it, so no
      // live run owns such a thing.
      else if (ageMs === undefined) orphans.push({ resource: r, why: "named like tsuite's but without any label or creation time (a creation that failed half-way)" });
      continue;
    }
    const [host, pid] = splitOwner(r.labels[LABEL_OWNER]);
    if (host === me && pid !== undefined && !alive(pid)) {
      orphans.push({ resource: r, why: `run ${run} on this host ended without cleaning up (process ${pid} is gone)` });
    } else if (old) {
      orphans.push({ resource: r, why: `run ${run} is ${age}, past the ${Math.round(policy.graceMs / 60_000)} min grace period` });
    }
  }
  return orphans;
}

/** The provider's creation time, else the one tsuite labelled. */
export function createdAt(r: CloudResource): Date | undefined {
  if (r.createdAt && !Number.isNaN(r.createdAt.getTime())) return r.createdAt;
  const s = Number(r.labels[LABEL_CREATED]);
  return Number.isFinite(s) && s > 0 ? new Date(s * 1000) : undefined;
}

function splitOwner(owner: string | undefined): [string | undefined, number | undefined] {
  const m = owner ? /^([0-9a-f]+)-(\d+)$/.exec(owner) : null;
  return m ? [m[1], Number(m[2])] : [undefined, undefined];
}
