import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { cacheDir } from '../../src/core/paths.js';
import type { Progress } from '../../src/core/progress.js';
import { IMAGE_DEFINITIONS, IMAGE_NAMES, type ImageName } from '../images.js';
import { imageArch } from './arch.js';
import type { ImageDefinition, LayerDef } from './definition.js';
import { assembleImage, writeImageArchive, writeImageLayout } from './image-archive.js';
import { layerTar } from './layer-tar.js';
import { resolveLayer, type ResolveContext } from './resolve-layer.js';

export interface BuiltImage {
  name: string;
  /** `tsuite/<name>:<first 12 hex of id>`. */
  ref: string;
  /** `sha256:<config digest>`: the image ID an engine reports once it has loaded the image. */
  id: string;
  manifestDigest: string;
  /** A tar that is both a docker-archive (manifest.json) and an OCI image layout (oci-layout, index.json, blobs/). */
  archive: string;
  /** The OCI image layout as a folder. */
  layout: string;
  /** OCI architecture (amd64, arm64). */
  arch: string;
}

export type BuiltImages = Record<ImageName, BuiltImage>;

export interface BuildOptions<N extends ImageName = ImageName> {
  /** The cache root; `cacheDir()` by default. */
  root?: string;
  /** Only these images (all by default). */
  only?: readonly N[];
}

/** Layers resolve once per build, shared by every image that lists the same layer object. */
type LayerCache = Map<LayerDef, Promise<Buffer>>;

/**
 * Builds one image into `<root>/oci-images/<ociArch>/<name>-<12 hex of id>/` (image.tar and
 * layout/). The folder is named by the content, so a build whose inputs did not change finds it
 * and writes nothing; it appears by rename only when complete, and older builds of the image go.
 */
export async function buildImage(def: ImageDefinition, arch: string, progress: Progress, opts: { root?: string; layers?: LayerCache } = {}): Promise<BuiltImage> {
  const { arch: guestArch, oci } = imageArch(arch);
  const root = opts.root ?? cacheDir();
  const ctx: ResolveContext = { arch: guestArch, progress, root };
  const cache: LayerCache = opts.layers ?? new Map();
  const tars = await Promise.all(
    def.layers.map((l) => {
      let tar = cache.get(l);
      if (!tar) cache.set(l, (tar = resolveLayer(ctx, l).then(layerTar)));
      return tar.then((t) => ({ name: l.name, tar: t }));
    }),
  );
  const img = assembleImage({ name: def.name, arch: oci, layers: tars, config: def.config, repository: `tsuite/${def.name}` });
  const base = join(root, 'oci-images', oci);
  const dir = join(base, `${def.name}-${img.ref.split(':')[1]}`);
  const built: BuiltImage = { name: def.name, ref: img.ref, id: img.id, manifestDigest: img.manifest.digest, archive: join(dir, 'image.tar'), layout: join(dir, 'layout'), arch: oci };
  if (existsSync(built.archive) && existsSync(join(built.layout, 'index.json'))) return built;

  await mkdir(base, { recursive: true });
  const stage = await mkdtemp(join(base, `.stage-${def.name}-`));
  try {
    await progress.step(`Writing image ${img.ref} (${oci})`, async () => {
      await writeImageArchive(img, join(stage, 'image.tar'));
      await writeImageLayout(img, join(stage, 'layout'));
    });
    await rm(dir, { recursive: true, force: true });
    await rename(stage, dir);
    for (const d of await readdir(base)) {
      if (d !== `${def.name}-${img.ref.split(':')[1]}` && new RegExp(`^${def.name}-[0-9a-f]{12}$`).test(d)) await rm(join(base, d), { recursive: true, force: true });
    }
    return built;
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

/**
 * Builds tsuite's test images for `arch` (x86_64/amd64, aarch64/arm64) from their definitions
 * under oci-images/: no registry, deterministic (same inputs, same digests), cached by content.
 */
export async function buildTestImages<N extends ImageName = ImageName>(arch: string, progress: Progress, opts: BuildOptions<N> = {}): Promise<Record<N, BuiltImage>> {
  const layers: LayerCache = new Map();
  const names = opts.only ?? (IMAGE_NAMES as N[]);
  const out = {} as Record<N, BuiltImage>;
  // One at a time: the layers they share resolve once, and a small host is not swamped by gcc and apt at once.
  for (const name of names) out[name] = await buildImage(IMAGE_DEFINITIONS[name], arch, progress, { root: opts.root, layers });
  return out;
}
