import { describe, expect, it, vi } from 'vitest';

vi.mock('../../oci-images/index.js', () => ({
  ensureTestImages: vi.fn(async () => ({ busybox: 'tsuite/busybox:test' })),
}));

const { sweepLeftovers } = await import('../../suites/containers/fixture.js');
const { withScope } = await import('../../suites/containers/scope.js');

const httpError = (statusCode: number, message = `HTTP ${statusCode}`) => Object.assign(new Error(message), { statusCode });

/** A fake engine: records what was created and removed, in order; `failRemove` makes a removal answer an error. */
function fakeEngine(failRemove: Record<string, Error> = {}) {
  const log: string[] = [];
  const created: { kind: string; labels: Record<string, string> }[] = [];
  let n = 0;
  const remover = (what: string) => async () => {
    log.push(`remove ${what}`);
    if (failRemove[what]) throw failRemove[what];
  };
  const api = {
    listContainers: async () => [],
    listNetworks: async () => [],
    listVolumes: async () => ({ Volumes: [] }),
    listImages: async () => [],
    createContainer: async (o: { Labels: Record<string, string> }) => {
      const id = `c${++n}`;
      created.push({ kind: 'container', labels: o.Labels });
      return { id };
    },
    getContainer: (id: string) => ({ remove: remover(`container ${id}`) }),
    createNetwork: async (o: { Labels: Record<string, string> }) => {
      created.push({ kind: 'network', labels: o.Labels });
      return { id: `n${++n}` };
    },
    getNetwork: (id: string) => ({ remove: remover(`network ${id}`) }),
    createVolume: async (o: { Labels: Record<string, string> }) => {
      created.push({ kind: 'volume', labels: o.Labels });
    },
    getVolume: (name: string) => ({ name, remove: remover('volume') }),
    getImage: (ref: string) => ({ tag: async () => {}, remove: remover(`image ${ref}`) }),
  };
  const session = { docker: { api }, channels: new Set(['docker']) };
  const ctx = { session, runId: 'run-1', target: { name: 't', arch: 'x86_64', ktap: false, containerImages: 'local' }, signal: new AbortController().signal };
  return { api, ctx: ctx as never, log, created };
}

describe('withScope', () => {
  it('labels what it creates with the run and the test, and removes containers before networks, volumes and images', async () => {
    const e = fakeEngine();
    await withScope(
      e.ctx,
      async (s) => {
        await s.network();
        await s.createContainer({ Image: 'x', Labels: { mine: 'yes' } });
        await s.volume();
        await s.tag('x', 'repo', 'v1');
      },
      { test: 'demo' },
    );
    const scope = expect.stringMatching(/^run-1-\d+$/);
    expect(e.created.map((c) => c.labels)).toEqual([
      { 'tsuite.run': 'run-1', 'tsuite.scope': scope, 'tsuite.test': 'demo' },
      { mine: 'yes', 'tsuite.run': 'run-1', 'tsuite.scope': scope, 'tsuite.test': 'demo' },
      { 'tsuite.run': 'run-1', 'tsuite.scope': scope, 'tsuite.test': 'demo' },
    ]);
    expect(e.log).toEqual(['remove container c2', 'remove network n1', 'remove volume', 'remove image repo:v1']);
  });

  it('removes a container whose create was cut off (the engine made it, the answer never came), found by the scope label', async () => {
    const e = fakeEngine();
    let scopeLabel = '';
    e.api.createContainer = async (o: { Labels: Record<string, string> }) => {
      scopeLabel = o.Labels['tsuite.scope']!;
      throw new Error('The operation was aborted');
    };
    e.api.listContainers = (async (q: { filters: { label: string[] } }) =>
      (q.filters.label.includes(`tsuite.scope=${scopeLabel}`) ? [{ Id: 'orphan1' }] : [])) as never;
    await expect(withScope(e.ctx, async (s) => void (await s.createContainer({ Image: 'x' })))).rejects.toThrow(/aborted/);
    expect(e.log).toEqual(['remove container orphan1']);
  });

  it('cleans up when the test throws, and adds a cleanup failure to its error; "already gone" is no failure', async () => {
    const e = fakeEngine({ 'container c1': httpError(404), 'network n2': httpError(500, 'network busy') });
    const run = withScope(e.ctx, async (s) => {
      await s.createContainer({ Image: 'x' });
      await s.network();
      throw new Error('assertion failed');
    });
    await expect(run).rejects.toThrow(/assertion failed\n\(cleanup also failed: remove network n2: network busy\)/);
    expect(e.log).toEqual(['remove container c1', 'remove network n2']);
  });

  it('fails a passing test whose cleanup failed', async () => {
    const e = fakeEngine({ 'container c1': httpError(500, 'device busy') });
    await expect(withScope(e.ctx, async (s) => void (await s.createContainer({ Image: 'x' })))).rejects.toThrow(/passed but its cleanup failed: remove container c1: device busy/);
  });
});

describe('sweepLeftovers', () => {
  it("removes other runs' stopped or old objects, and keeps this run's, young running ones and unlabelled ones", async () => {
    const now = 1_000_000;
    const removed: string[] = [];
    const c = (Id: string, run: string | undefined, State: string, ageS: number) => ({ Id, State, Created: now - ageS, Labels: run ? { 'tsuite.run': run } : {} });
    const api = {
      listContainers: async () => [
        c('mine-stopped', 'run-1', 'exited', 7200),
        c('other-stopped-old', 'run-0', 'exited', 700),
        c('other-stopped-young', 'run-0', 'exited', 60),
        c('other-running-young', 'run-0', 'running', 700),
        c('other-running-old', 'run-0', 'running', 3700),
        c('unlabelled', undefined, 'exited', 7200),
      ],
      getContainer: (id: string) => ({ remove: async () => void removed.push(id) }),
      listNetworks: async () => [
        { Id: 'net-empty', Name: 'net-empty', Created: new Date((now - 900) * 1000).toISOString(), Labels: { 'tsuite.run': 'run-0' } },
        { Id: 'net-used', Name: 'net-used', Created: new Date((now - 900) * 1000).toISOString(), Labels: { 'tsuite.run': 'run-0' } },
      ],
      getNetwork: (id: string) => ({
        inspect: async () => ({ Containers: id === 'net-used' ? { x: {} } : {} }),
        remove: async () => void removed.push(id),
      }),
      listVolumes: async () => ({ Volumes: [{ Name: 'vol-in-use', Labels: { 'tsuite.run': 'run-0' } }] }),
      getVolume: () => ({ remove: async () => Promise.reject(httpError(409)) }),
      listImages: async () => [{ Id: 'sha256:0123456789abcdef0123', Created: 0, Labels: { 'tsuite.run': 'run-0' } }],
      getImage: (id: string) => ({ remove: async () => Promise.reject(httpError(500, `cannot remove ${id}`)) }),
    };
    const swept = await sweepLeftovers(api as never, 'run-1', now);
    expect(removed).toEqual(['other-stopped-old', 'other-running-old', 'net-empty']);
    expect(swept.removed).toEqual(['container other-stoppe', 'container other-runnin', 'network net-empty']);
    expect(swept.failed).toEqual(['image 0123456789ab: cannot remove sha256:0123456789abcdef0123']);
  });
});
