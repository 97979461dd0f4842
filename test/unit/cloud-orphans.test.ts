import { describe, expect, it } from 'vitest';
import { hostId, LABEL_CREATED, LABEL_OWNER, LABEL_RUN, resourceNames, runLabels } from '../../runners/cloud/cloud-labels.js';
import type { CloudResource } from '../../runners/cloud/cloud-provider.js';
import { findOrphans } from '../../runners/cloud/orphans.js';

const now = new Date('2026-12-04T12:00:00Z');
const minutesAgo = (m: number) => new Date(now.getTime() - m * 60_000);
const res = (name: string, labels: Record<string, string>, created?: Date, kind: CloudResource['kind'] = 'instance'): CloudResource => ({ kind, name, labels, createdAt: created, location: 'zone z' });
const GRACE = 120 * 60_000;

describe('which cloud resources are orphans', () => {
  it('a labelled run past the grace period is swept; a younger one of a live owner is not', () => {
    const old = res('tsuite-a-vm', { [LABEL_RUN]: 'a', [LABEL_OWNER]: 'ffffffffff-1' }, minutesAgo(121));
    const young = res('tsuite-b-vm', { [LABEL_RUN]: 'b', [LABEL_OWNER]: 'ffffffffff-1' }, minutesAgo(5));
    const orphans = findOrphans([old, young], { now, graceMs: GRACE, pidAlive: () => true });
    expect(orphans.map((o) => o.resource.name)).toEqual(['tsuite-a-vm']);
    expect(orphans[0]!.why).toMatch(/past the 120 min grace/);
  });

  it("a young resource of a run on this host whose process is gone is swept at once (a SIGKILLed tsuite)", () => {
    const r = res('tsuite-c-img', { [LABEL_RUN]: 'c', [LABEL_OWNER]: `${hostId()}-424242` }, minutesAgo(1), 'image');
    expect(findOrphans([r], { now, graceMs: GRACE, pidAlive: (pid) => pid !== 424242 }).map((o) => o.why)).toEqual([expect.stringContaining('process 424242 is gone')]);
    expect(findOrphans([r], { now, graceMs: GRACE, pidAlive: () => true })).toEqual([]);
  });

  it('the sweeping run never touches its own resources, whatever their age', () => {
    const r = res('tsuite-d-vm', { [LABEL_RUN]: 'd' }, minutesAgo(1000));
    expect(findOrphans([r], { now, graceMs: GRACE, currentRun: 'd' })).toEqual([]);
  });

  it('a half-created resource (tsuite name, no run label) is swept past the grace; foreign names never', () => {
    const half = res('tsuite-e-img', {}, minutesAgo(200), 'image');
    const halfYoung = res('tsuite-f-img', {}, minutesAgo(2), 'image');
    const foreign = res('prod-db', { [LABEL_RUN]: 'x' }, minutesAgo(5000));
    const foreignUnlabelled = res('prod-web', {}, minutesAgo(5000));
    const names = findOrphans([half, halfYoung, foreign, foreignUnlabelled], { now, graceMs: GRACE }).map((o) => o.resource.name);
    // A foreign name with tsuite's label is still tsuite's (the label says so); an unlabelled foreign one never is.
    expect(names).toEqual(['tsuite-e-img', 'prod-db']);
  });

  it('a tsuite-named resource with neither labels nor a creation time (an untagged Azure group) is swept at once', () => {
    const untagged = res('tsuite-h-rg', {}, undefined, 'group');
    const foreign = res('prod-rg', {}, undefined, 'group');
    const orphans = findOrphans([untagged, foreign], { now, graceMs: GRACE });
    expect(orphans.map((o) => o.resource.name)).toEqual(['tsuite-h-rg']);
    expect(orphans[0]!.why).toMatch(/without any label or creation time/);
  });

  it('an object with no provider time is aged by the tsuite-created label', () => {
    const obj = res('tsuite-g-pkg.tar.gz', { [LABEL_RUN]: 'g', [LABEL_CREATED]: String(Math.floor(minutesAgo(300).getTime() / 1000)) }, undefined, 'object');
    expect(findOrphans([obj], { now, graceMs: GRACE })).toHaveLength(1);
    expect(findOrphans([obj], { now, graceMs: 400 * 60_000 })).toHaveLength(0);
  });
});

describe('names and labels', () => {
  it('are valid GCE names and label values, and carry the run', () => {
    const n = resourceNames('20261204-171200-3fa9', 's1-boot');
    for (const v of [n.image, n.instance]) expect(v).toMatch(/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/);
    expect(n.object).toMatch(/^tsuite-20261204-171200-3fa9-s1-boot-[0-9a-f]{6}-pkg\.tar\.gz$/);
    // A run id long enough to be cut still gives each session its own names.
    const long = 'a'.repeat(80);
    expect(resourceNames(long, 's1').instance).not.toBe(resourceNames(long, 's2').instance);
    expect(resourceNames(long, 's1').instance.length).toBeLessThanOrEqual(63);
    const labels = runLabels('20261204-171200-3FA9', 'gcp-Nightly_1', now);
    for (const v of Object.values(labels)) expect(v).toMatch(/^[a-z0-9_-]{1,63}$/);
    expect(labels[LABEL_RUN]).toBe('20261204-171200-3fa9');
    expect(labels[LABEL_OWNER]).toBe(`${hostId()}-${process.pid}`);
  });
});
