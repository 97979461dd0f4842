import { LABEL_RUN, labelValue } from './cloud-labels.js';
import type { CloudProvider } from './cloud-provider.js';
import { findOrphans, type Orphan } from './orphans.js';
import type { TeardownRecord } from './teardown.js';
import { Teardown } from './teardown.js';

/** How old another run's resources must be to be orphans, unless the target or `--older-than` says. */
export const DEFAULT_GRACE_MINUTES = 120;

export interface SweepOptions {
  graceMs: number;
  /** The run doing the sweep (its label value): its own resources are never touched. */
  currentRun?: string;
  /** Sweep this run's resources whatever their age (a CI job cleaning up after its own killed run). */
  run?: string;
  /** List what would go without deleting it. */
  dryRun?: boolean;
  quiet?: boolean;
}

export interface SweepResult {
  orphans: Orphan[];
  records: TeardownRecord[];
}

/**
 * The kinds in the order they are deleted: an instance holds its image's disk, an image holds its
 * snapshot, an image came from the object; a group goes after what may still be in it.
 */
const ORDER = { instance: 0, image: 1, snapshot: 2, object: 3, group: 4 } as const;

/**
 * Deletes tsuite's orphans of every kind (instances, images, snapshots, staged objects, groups) with the same
 * retried deletion as a session's teardown, instances first. Idempotent: what is already gone
 * counts as deleted. A resource that could not be deleted is in the records with its command.
 */
export async function sweepOrphans(provider: CloudProvider, opts: SweepOptions): Promise<SweepResult> {
  const resources = await provider.list();
  const orphans = opts.run !== undefined
    ? resources.filter((r) => r.labels[LABEL_RUN] === labelValue(opts.run!)).map((resource) => ({ resource, why: `run ${opts.run} was named to be swept` }))
    : findOrphans(resources, { now: new Date(), graceMs: opts.graceMs, currentRun: opts.currentRun });
  orphans.sort((a, b) => ORDER[a.resource.kind] - ORDER[b.resource.kind]);
  if (opts.dryRun || orphans.length === 0) return { orphans, records: [] };
  const teardown = new Teardown(provider);
  // Teardown deletes newest-registered first: register in reverse of the wanted order.
  for (const o of [...orphans].reverse()) teardown.register(o.resource);
  const records = await teardown.run();
  if (!opts.quiet) {
    for (const o of orphans) {
      const rec = records.find((r) => r.kind === o.resource.kind && r.name === o.resource.name);
      process.stderr.write(`tsuite: ${provider.place.provider}: orphan ${o.resource.kind} ${o.resource.name} (${o.why}): ${rec?.result === 'failed' ? `NOT deleted: ${rec.error}; delete it with: ${rec.deleteCommand}` : 'deleted'}\n`);
    }
  }
  return { orphans, records };
}
