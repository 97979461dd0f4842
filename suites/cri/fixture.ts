import type { Cri, CriChannel, TestContext } from '../../src/index.js';
import { isUnimplemented } from '../../src/index.js';
import { abortable } from '../containers/fixture.js';
import { sessionRegistry, type SessionRegistry } from '../local-registry.js';
import { RUN_LABEL } from './labels.js';
import { nodeFiles, type NodeFiles } from './node-files.js';
import { writeRegistryHosts } from './registry-hosts.js';

/** Test images the runtime pulled from the local registry, by name: refs as the runtime knows them. */
export type CriImages = Record<'busybox' | 'net' | 'memstress' | 'procs', string>;

/** What the cri suite shares across one session. */
export interface CriFixture {
  cri: CriChannel;
  /** The runtime's node files (logs, registry settings), or why tsuite cannot reach them. */
  files: NodeFiles | { missing: string };
  /** The local registries and the hosts.toml written for them, or why the runtime cannot pull from them. */
  registry: { ready: SessionRegistry } | { missing: string };
  /** The test images, pulled once; or why not. */
  images: CriImages | { missing: string };
  /** Where pods' log_directory goes on the node: one folder per run. */
  logRoot: string;
  /** What the sweep of earlier runs' leftovers removed, and what it could not (never a test failure). */
  swept: { removed: string[]; failed: string[] };
}

const fixtures = new WeakMap<CriChannel, Promise<CriFixture>>();

/** The session's CRI channel; a target that promised one whose runtime never answered fails the test with the reason. */
export function criChannel(ctx: TestContext): CriChannel {
  const cri = ctx.session.cri;
  if (!cri) throw new Error(ctx.session.criProblem ? `no CRI channel: ${ctx.session.criProblem}` : 'the session has no CRI channel');
  return cri;
}

/** Once per session: sweep what killed runs left, start the registries, point the runtime at them, pull the test images. */
export function criFixture(ctx: TestContext): Promise<CriFixture> {
  const cri = criChannel(ctx);
  let pending = fixtures.get(cri);
  if (!pending) {
    pending = setUp(ctx, cri);
    fixtures.set(cri, pending);
    pending.catch(() => fixtures.delete(cri));
  }
  return abortable(pending, ctx.signal);
}

async function setUp(ctx: TestContext, cri: CriChannel): Promise<CriFixture> {
  const swept = await sweepLeftovers(cri, ctx.runId);
  const files = nodeFiles(ctx);
  const logRoot = `/var/log/tsuite-pods/${ctx.runId}`;
  if (!('missing' in files)) ctx.atSessionEnd('removing the pod logs on the node', () => files.remove(logRoot));
  const registry = await prepareRegistry(ctx, cri, files);
  if (!('missing' in registry)) swept.removed.push(...(await sweepStaleImages(cri, registry.ready)));
  const images = 'missing' in registry ? { missing: registry.missing } : await pullTestImages(cri, registry.ready, ctx.signal);
  return { cri, files, registry, images, logRoot, swept };
}

/** The registries, and hosts.toml for each where the runtime reads them: without both, nothing can be pulled. */
async function prepareRegistry(ctx: TestContext, cri: CriChannel, files: CriFixture['files']): Promise<CriFixture['registry']> {
  const dir = cri.node.registryConfigDir;
  if (!dir) return { missing: "where the runtime reads per-registry settings (cri.registryConfigDir in the target's config: containerd's config_path)" };
  if ('missing' in files) return { missing: files.missing };
  const ready = await sessionRegistry(ctx, { listen: cri.node.hostListen ?? cri.node.hostAddress, engineAddress: cri.node.hostAddress });
  const written = await writeRegistryHosts(files, dir, ready);
  ctx.atSessionEnd('removing the registry settings on the node', async () => {
    for (const path of written) await files.remove(path);
  });
  return { ready };
}

async function pullTestImages(cri: CriChannel, registry: SessionRegistry, signal: AbortSignal): Promise<CriImages> {
  const out = {} as CriImages;
  for (const name of ['busybox', 'net', 'memstress', 'procs'] as const) {
    const ref = registry.images.plain[name]!.byTag;
    await cri.image('PullImage', { image: { image: ref } }, { timeoutMs: 180_000, signal });
    out[name] = ref;
  }
  return out;
}

/** A stopped pod of another run is a leftover once it is this old (a concurrent run may be between create and start). */
const GRACE_NS = 10 * 60 * 1e9;

/**
 * Removes pods that other runs left (labelled `tsuite.run` with another run's id, older than the
 * grace period; removing a pod removes its containers). Images are swept once the session's
 * registries are known (sweepStaleImages).
 */
export async function sweepLeftovers(cri: CriChannel, runId: string, nowNs = Date.now() * 1e6): Promise<CriFixture['swept']> {
  const removed: string[] = [];
  const failed: string[] = [];
  const attempt = async (what: string, work: () => Promise<unknown>) => {
    try {
      await work();
      removed.push(what);
    } catch (err) {
      if (isUnimplemented(err)) return;
      failed.push(`${what}: ${(err as Error).message}`);
    }
  };
  const pods = await cri.runtime<{ items: Cri.PodSandbox[] }>('ListPodSandbox', {}).catch(() => ({ items: [] }));
  for (const pod of pods.items) {
    const run = pod.labels[RUN_LABEL];
    if (run === undefined || run === runId || nowNs - pod.created_at < GRACE_NS) continue;
    await attempt(`pod ${pod.metadata?.name ?? pod.id.slice(0, 12)}`, async () => {
      await cri.runtime('StopPodSandbox', { pod_sandbox_id: pod.id });
      await cri.runtime('RemovePodSandbox', { pod_sandbox_id: pod.id });
    });
  }
  return { removed, failed };
}

/**
 * Images earlier runs pulled from their own registries (refs at this node's view of this host, on
 * ports this session's registries do not use): each run's registries are new, so nothing will use them again.
 */
async function sweepStaleImages(cri: CriChannel, registry: SessionRegistry): Promise<string[]> {
  const current = new Set(Object.values(registry.hosts));
  const host = Object.values(registry.hosts)[0]!.replace(/:\d+$/, '');
  const ours = new RegExp(`^${host.replace(/[.[\]]/g, '\\$&')}:\\d+/tsuite/`);
  const removed: string[] = [];
  const { images } = await cri.image<{ images: Cri.Image[] }>('ListImages', {}).catch(() => ({ images: [] as Cri.Image[] }));
  for (const image of images) {
    const refs = [...image.repo_tags, ...image.repo_digests];
    if (refs.length === 0 || !refs.every((r) => ours.test(r) && !current.has(r.slice(0, r.indexOf('/'))))) continue;
    try {
      await cri.image('RemoveImage', { image: { image: image.id } });
      removed.push(`image ${refs[0]}`);
    } catch {
      // In use by a pod of a run still going: left for a later sweep.
    }
  }
  return removed;
}
