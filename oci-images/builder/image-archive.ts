import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { pack } from 'tar-stream';
import type { RuntimeConfig } from './definition.js';
import { FIXED_MTIME } from './layer-tar.js';

/** OCI image-spec media types (image-spec v1.1 `media-types.md`). */
export const MEDIA_TYPES = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  /** Uncompressed: the layer's digest is its diff_id, and no compressor's version can change the bytes. */
  layer: 'application/vnd.oci.image.layer.v1.tar',
} as const;

/** The `created` of the config and its history: fixed, so the config digest (the image id) never depends on when it was built. */
export const FIXED_CREATED = FIXED_MTIME.toISOString().replace('.000Z', 'Z');

export const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A content-addressed blob: its bytes and their descriptor. */
export interface Blob {
  digest: string;
  size: number;
  data: Buffer;
}

const blob = (data: Buffer): Blob => ({ digest: sha256(data), size: data.length, data });
const json = (v: unknown) => Buffer.from(JSON.stringify(v));
/** `sha256:abc…` → `blobs/sha256/abc…`, the path the OCI layout and the docker-archive manifest share. */
export const blobPath = (digest: string) => `blobs/${digest.replace(':', '/')}`;

/** Every file of one image, ready to write as an OCI layout and a docker-archive at once. */
export interface ImageFiles {
  config: Blob;
  manifest: Blob;
  layers: Blob[];
  /** `index.json`, `oci-layout`, `manifest.json` (the docker-archive's), as file name → bytes. */
  top: Record<'index.json' | 'oci-layout' | 'manifest.json', Buffer>;
}

export interface AssembleRequest {
  name: string;
  /** OCI architecture: amd64, arm64. */
  arch: string;
  layers: readonly { name: string; tar: Buffer }[];
  config: RuntimeConfig;
  /** The repository the tag goes in (`tsuite/<name>`); the tag is the id's first 12 hex. */
  repository: string;
}

/** The image config per the OCI image-spec `config.md`; keys in a fixed order so the bytes are stable. */
export function imageConfig(req: AssembleRequest, diffIds: readonly string[]): Buffer {
  const c = req.config;
  const config: Record<string, unknown> = {};
  if (c.User !== undefined) config.User = c.User;
  if (c.ExposedPorts?.length) config.ExposedPorts = Object.fromEntries(c.ExposedPorts.map((p) => [p, {}]));
  config.Env = c.Env ?? ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'];
  if (c.Entrypoint !== undefined) config.Entrypoint = c.Entrypoint;
  if (c.Cmd !== undefined) config.Cmd = c.Cmd;
  if (c.WorkingDir !== undefined) config.WorkingDir = c.WorkingDir;
  config.Labels = { 'org.opencontainers.image.title': `tsuite/${req.name}`, ...c.Labels };
  if (c.StopSignal !== undefined) config.StopSignal = c.StopSignal;
  return json({
    created: FIXED_CREATED,
    architecture: req.arch,
    ...(req.arch === 'arm64' && { variant: 'v8' }),
    os: 'linux',
    config,
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: req.layers.map((l) => ({ created: FIXED_CREATED, created_by: `tsuite oci-images: ${req.name} ${l.name}` })),
  });
}

/** Builds the blobs and top-level files of one image; the image id is the config's digest. */
export function assembleImage(req: AssembleRequest): ImageFiles & { id: string; ref: string } {
  const layers = req.layers.map((l) => blob(l.tar));
  const config = blob(imageConfig(req, layers.map((l) => l.digest)));
  const ref = `${req.repository}:${config.digest.slice('sha256:'.length, 'sha256:'.length + 12)}`;
  const platform = { architecture: req.arch, os: 'linux', ...(req.arch === 'arm64' && { variant: 'v8' }) };
  const manifest = blob(
    json({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.manifest,
      config: { mediaType: MEDIA_TYPES.config, digest: config.digest, size: config.size },
      layers: layers.map((l) => ({ mediaType: MEDIA_TYPES.layer, digest: l.digest, size: l.size })),
    }),
  );
  const index = json({
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.index,
    manifests: [
      {
        mediaType: MEDIA_TYPES.manifest,
        digest: manifest.digest,
        size: manifest.size,
        platform,
        // containerd's and the image-spec's names for the same thing: the full ref and the tag.
        annotations: { 'io.containerd.image.name': `docker.io/${ref}`, 'org.opencontainers.image.ref.name': ref.split(':')[1] },
      },
    ],
  });
  // docker-archive (what `docker load` reads on engines before 25): paths into the same blobs.
  const dockerManifest = json([{ Config: blobPath(config.digest), RepoTags: [ref], Layers: layers.map((l) => blobPath(l.digest)) }]);
  return {
    id: config.digest,
    ref,
    config,
    manifest,
    layers,
    top: { 'oci-layout': json({ imageLayoutVersion: '1.0.0' }), 'index.json': index, 'manifest.json': dockerManifest },
  };
}

/** Path → bytes of every file of the layout/archive, each blob once (layers shared within an image appear once). */
function files(img: ImageFiles): Map<string, Buffer> {
  const out = new Map<string, Buffer>(Object.entries(img.top));
  for (const b of [img.config, img.manifest, ...img.layers]) out.set(blobPath(b.digest), b.data);
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** The OCI image layout as a folder (image-spec `image-layout.md`). */
export async function writeImageLayout(img: ImageFiles, dir: string): Promise<void> {
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  for (const [path, data] of files(img)) await writeFile(join(dir, path), data);
}

/** One tar that is both an OCI image layout and a docker-archive (manifest.json), deterministic like the layers. */
export async function writeImageArchive(img: ImageFiles, file: string): Promise<void> {
  const tar = pack();
  const written = pipeline(tar, createWriteStream(file));
  const common = { mtime: FIXED_MTIME, uid: 0, gid: 0, uname: '', gname: '' };
  tar.entry({ ...common, name: 'blobs/', type: 'directory', mode: 0o755 });
  tar.entry({ ...common, name: 'blobs/sha256/', type: 'directory', mode: 0o755 });
  for (const [path, data] of files(img)) tar.entry({ ...common, name: path, type: 'file', mode: 0o644, size: data.length }, data);
  tar.finalize();
  await written;
}
