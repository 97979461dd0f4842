import type Dockerode from 'dockerode';
import { InfraError } from '../../src/core/errors.js';
import type { Progress } from '../../src/core/progress.js';
import { CUSTOM_IMAGES, IMAGE_NAMES, type ImageName } from '../images.js';
import { buildTestImages, type BuiltImage } from './build-images.js';
import { engineError, isNotFound, readJsonLines } from './engine-messages.js';

/**
 * What loading images needs of the docker channel: its API client and, for messages, its
 * endpoint. `DockerChannel` (src/channels/docker.ts) is one.
 */
export interface ImageEngine {
  readonly api: Dockerode;
  readonly endpoint: { readonly url: string };
}

/** Image refs by name, as `docker run` takes them; `alpine` only with upstream images. */
export type TestImages = Record<ImageName, string> & { alpine?: string };

/** Upstream images by reference, for `--container-images upstream` (nightly runs with a registry). */
export const UPSTREAM_IMAGES = { busybox: 'busybox:1.36', nginx: 'nginx:1.27-alpine', alpine: 'alpine:3.20' } as const;

const ensured = new WeakMap<ImageEngine, Map<string, Promise<unknown>>>();
const quiet: Progress = { step: (_label, work) => work() };

/** The engine's image with this id or ref, or undefined when it has none. */
async function inspect(engine: ImageEngine, idOrRef: string): Promise<Dockerode.ImageInspectInfo | undefined> {
  try {
    return await engine.api.getImage(idOrRef).inspect();
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw engineError(engine, `inspecting image ${idOrRef}`, err);
  }
}

/**
 * Makes sure the engine has `img` under its ref: nothing to do when it already has the id and
 * the tag, a tag when it has the id only, else `POST /images/load` of the archive. Then the
 * engine's id for the ref must be the id tsuite computed: anything else means the engine
 * rewrote the image, and tests would run something other than what was built.
 */
export async function loadImage(engine: ImageEngine, img: BuiltImage, signal?: AbortSignal): Promise<void> {
  const have = await inspect(engine, img.id);
  if (!have) {
    let messages: Record<string, unknown>[];
    try {
      messages = await readJsonLines(await engine.api.loadImage(img.archive, { quiet: true, abortSignal: signal }));
    } catch (err) {
      throw engineError(engine, `loading ${img.archive}`, err);
    }
    const failed = messages.find((m) => m.error !== undefined || m.errorDetail !== undefined);
    if (failed) throw engineError(engine, `loading ${img.archive}`, new Error(String(failed.error ?? JSON.stringify(failed.errorDetail))));
  } else if (!have.RepoTags?.includes(img.ref)) {
    const [repo = img.ref, tag] = img.ref.split(':');
    await engine.api.getImage(img.id).tag({ repo, tag, abortSignal: signal }).catch((err: unknown) => {
      throw engineError(engine, `tagging ${img.id} as ${img.ref}`, err);
    });
  }
  const got = await inspect(engine, img.ref);
  if (got?.Id !== img.id) {
    throw new InfraError(
      `engine at ${engine.endpoint.url} reports ${img.ref} as ${got?.Id ?? 'missing'} after loading, but tsuite built it as ${img.id}`,
      'an engine must keep a loaded image\'s config byte for byte (its id is the config digest); check its image store',
    );
  }
}

/** Pulls `ref` unless the engine has it, with an error that says the registry is the problem. */
export async function pullImage(engine: ImageEngine, ref: string, signal?: AbortSignal): Promise<void> {
  if (await inspect(engine, ref)) return;
  const fix = 'give the engine access to its registry (or a mirror: registry-mirrors in daemon.json), or use the images tsuite builds: --container-images local';
  let messages: Record<string, unknown>[];
  try {
    messages = await readJsonLines(await engine.api.createImage({ fromImage: ref, abortSignal: signal }));
  } catch (err) {
    throw new InfraError(`engine at ${engine.endpoint.url} cannot pull ${ref}: ${(err as Error).message}`, fix);
  }
  const failed = messages.find((m) => m.error !== undefined || m.errorDetail !== undefined);
  if (failed || !(await inspect(engine, ref))) {
    throw new InfraError(`engine at ${engine.endpoint.url} cannot pull ${ref}: ${String(failed?.error ?? 'the pull ended without the image')}`, fix);
  }
}

async function ensure(engine: ImageEngine, arch: string, source: 'local' | 'upstream', signal?: AbortSignal): Promise<TestImages> {
  const names = source === 'local' ? IMAGE_NAMES : CUSTOM_IMAGES;
  const built = await buildTestImages(arch, quiet, { only: names });
  const refs = {} as TestImages;
  // One at a time: an engine under TCG loads slowly, and parallel loads only contend.
  for (const name of names) {
    signal?.throwIfAborted();
    await loadImage(engine, built[name], signal);
    refs[name] = built[name].ref;
  }
  if (source === 'upstream') {
    for (const [name, ref] of Object.entries(UPSTREAM_IMAGES)) {
      await pullImage(engine, ref, signal);
      (refs as Record<string, string>)[name] = ref;
    }
  }
  return refs;
}

/** Work done once per engine and key; a failure (or an abort) is not remembered, so the next caller tries again. */
function once<T>(engine: ImageEngine, key: string, work: () => Promise<T>): Promise<T> {
  let byKey = ensured.get(engine);
  if (!byKey) ensured.set(engine, (byKey = new Map()));
  let pending = byKey.get(key) as Promise<T> | undefined;
  if (!pending) {
    pending = work();
    byKey.set(key, pending);
    pending.catch(() => byKey.delete(key));
  }
  return pending;
}

/**
 * tsuite's test images on the engine behind `channel`, built for `arch` if needed and loaded
 * when the engine lacks them (by id). With `upstream`, busybox and nginx are the registry's
 * (`busybox:1.36`, `nginx:1.27-alpine`) plus `alpine:3.20`, pulled by reference; the custom
 * images stay tsuite's own. Once per channel, arch and source: later calls share the first.
 */
export function ensureTestImages(channel: ImageEngine, arch: string, source: 'local' | 'upstream', signal?: AbortSignal): Promise<TestImages> {
  return once(channel, `${arch}/${source}`, () => ensure(channel, arch, source, signal));
}

/** One of tsuite's images on the engine (e.g. the probes, for the syscall suite), without building the others. */
export function ensureTestImage(channel: ImageEngine, arch: string, name: ImageName, signal?: AbortSignal): Promise<string> {
  return once(channel, `${arch}/image/${name}`, async () => {
    const built = await buildTestImages(arch, quiet, { only: [name] });
    await loadImage(channel, built[name], signal);
    return built[name].ref;
  });
}
