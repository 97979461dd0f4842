import type Dockerode from 'dockerode';
import { ensureTestImages, type TestImages } from '../../oci-images/index.js';
import type { DockerChannel } from '../../src/index.js';
import type { TestContext } from '../../src/index.js';

/** The label every object the suite creates carries: its value is the run id. */
export const RUN_LABEL = 'tsuite.run';
/** Which test created an object (when the test said), for whoever finds a leftover. */
export const TEST_LABEL = 'tsuite.test';
/** One per scope (one test's objects), so its cleanup finds what a cut-off create made. */
export const SCOPE_LABEL = 'tsuite.scope';

/** What the containers suite shares across one session: the engine and the test images loaded into it. */
export interface Fixture {
  docker: DockerChannel;
  images: TestImages;
  /** What the sweep of earlier runs' leftovers removed, and what it could not (never a test failure). */
  swept: { removed: string[]; failed: string[] };
}

const fixtures = new WeakMap<DockerChannel, Promise<Fixture>>();

/**
 * The session's Docker channel. The `docker` requirement skips a test on a target without one; a
 * target that promised one whose engine never answered fails the test with the reason.
 */
export function dockerChannel(ctx: TestContext): DockerChannel {
  const docker = ctx.session.docker;
  if (!docker) throw new Error(ctx.session.dockerProblem ? `no Docker channel: ${ctx.session.dockerProblem}` : 'the session has no Docker channel');
  return docker;
}

/**
 * Once per session (per channel): sweep leftovers of earlier runs, then build and load the test
 * images. Later tests share the same promise, so a slow first image build is paid once; each test
 * only waits as long as its own signal allows, while the build goes on for the next one.
 */
export async function containerFixture(ctx: TestContext): Promise<Fixture> {
  const docker = dockerChannel(ctx);
  let pending = fixtures.get(docker);
  if (!pending) {
    pending = (async () => {
      const swept = await sweepLeftovers(docker.api, ctx.runId);
      const images = await ensureTestImages(docker, ctx.target.arch, ctx.target.containerImages);
      return { docker, images, swept };
    })();
    fixtures.set(docker, pending);
    // A failure is not remembered: the next test tries again (finished builds are cached on disk).
    pending.catch(() => fixtures.delete(docker));
  }
  return abortable(pending, ctx.signal);
}

/** A shared setup's promise, given up by one test when its own signal aborts (the setup goes on for the next). */
export function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** A stopped object of another run is a leftover once it is this old (a concurrent run may be between create and start). */
const STOPPED_GRACE_S = 10 * 60;
/** Anything of another run older than this is a leftover, running or not. */
const ANY_GRACE_S = 60 * 60;

/**
 * Removes what other runs left behind (labelled `tsuite.run` with another run's id): containers
 * that are not running (after a grace period) or are older than an hour, then networks, volumes and
 * images that nothing uses. An object still in use is left (409); nothing here fails a test.
 */
export async function sweepLeftovers(api: Dockerode, runId: string, nowS = Date.now() / 1000): Promise<Fixture['swept']> {
  const removed: string[] = [];
  const failed: string[] = [];
  const other = (labels: Record<string, string> | null | undefined) => !!labels && RUN_LABEL in labels && labels[RUN_LABEL] !== runId;
  const attempt = async (what: string, remove: () => Promise<unknown>) => {
    try {
      await remove();
      removed.push(what);
    } catch (err) {
      const code = (err as { statusCode?: number }).statusCode;
      if (code !== 404 && code !== 409) failed.push(`${what}: ${(err as Error).message}`);
    }
  };
  const filters = { label: [RUN_LABEL] };

  for (const c of await api.listContainers({ all: true, filters })) {
    if (!other(c.Labels)) continue;
    const age = nowS - c.Created;
    const running = c.State === 'running' || c.State === 'paused' || c.State === 'restarting';
    if (age > ANY_GRACE_S || (!running && age > STOPPED_GRACE_S)) await attempt(`container ${c.Id.slice(0, 12)}`, () => api.getContainer(c.Id).remove({ force: true, v: true }));
  }
  for (const n of await api.listNetworks({ filters })) {
    if (!other(n.Labels) || nowS - Date.parse(n.Created) / 1000 < STOPPED_GRACE_S) continue;
    const detail = await api.getNetwork(n.Id).inspect().catch(() => undefined);
    if (detail && Object.keys(detail.Containers ?? {}).length === 0) await attempt(`network ${n.Name}`, () => api.getNetwork(n.Id).remove());
  }
  const { Volumes } = await api.listVolumes({ filters });
  for (const v of Volumes ?? []) {
    const created = (v as { CreatedAt?: string }).CreatedAt;
    if (!other(v.Labels) || (created && nowS - Date.parse(created) / 1000 < STOPPED_GRACE_S)) continue;
    await attempt(`volume ${v.Name}`, () => api.getVolume(v.Name).remove());
  }
  for (const i of await api.listImages({ filters })) {
    if (!other(i.Labels) || nowS - i.Created < STOPPED_GRACE_S) continue;
    await attempt(`image ${i.Id.slice(7, 19)}`, () => api.getImage(i.Id).remove({ force: false }));
  }
  return { removed, failed };
}
