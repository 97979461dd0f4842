/**
 * Pushes one image from an OCI image layout folder (image-spec `image-layout.md`: index.json,
 * blobs/<alg>/<hex>) to a registry over the distribution API: each blob once (HEAD first, a
 * cross-repository mount when the registry already holds it under another repository, else a
 * monolithic POST + PUT ?digest=), then the manifest, byte for byte, under the tag. The bytes are
 * the layout's, so the registry's digests are the ones tsuite computed when it built the image.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { InfraError } from '../../src/core/errors.js';
import { header, RegistryClient, RegistryError, type RegistryAccess } from './registry-client.js';

interface Descriptor {
  mediaType?: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  urls?: string[];
}

export interface PushImageRequest {
  /** The OCI layout folder (`BuiltImage.layout`). */
  layout: string;
  /** The repository, e.g. `tsuite/busybox`. */
  repo: string;
  tag: string;
  /** Which manifest of index.json to push; needed only when it lists more than one (else the tag is matched against `org.opencontainers.image.ref.name`). */
  manifestDigest?: string;
}

export interface PushedManifest {
  digest: string;
  mediaType: string;
  size: number;
}

/**
 * Blobs this pusher knows a registry holds, by digest, with a repository holding each: pushing the
 * next image mounts shared layers (busybox under every test image) instead of sending them again.
 */
export type KnownBlobs = Map<string, string>;

const INDEX_TYPES = new Set(['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json']);

/** Pushes the image and returns its manifest's digest (what a pull by digest names). */
export async function pushImage(registry: RegistryAccess | RegistryClient, req: PushImageRequest, known: KnownBlobs = new Map()): Promise<PushedManifest> {
  const client = registry instanceof RegistryClient ? registry : new RegistryClient(registry);
  try {
    const top = await chooseManifest(req);
    return await pushManifest(client, req, top, req.tag, known);
  } finally {
    if (client !== registry) await client.close();
  }
}

async function chooseManifest(req: PushImageRequest): Promise<Descriptor> {
  const indexFile = join(req.layout, 'index.json');
  const index = JSON.parse(await readFile(indexFile, 'utf8').catch((e: Error) => {
    throw new InfraError(`${indexFile}: ${e.message}`, 'build the image first (buildImage), or point at an OCI image layout folder');
  })) as { manifests?: Descriptor[] };
  const all = index.manifests ?? [];
  const pick = req.manifestDigest
    ? all.filter((m) => m.digest === req.manifestDigest)
    : all.length === 1 ? all : all.filter((m) => m.annotations?.['org.opencontainers.image.ref.name'] === req.tag);
  if (pick.length !== 1) {
    throw new InfraError(
      `${indexFile}: cannot tell which manifest to push as ${req.repo}:${req.tag} (${all.length} listed: ${all.map((m) => m.digest).join(', ') || 'none'})`,
      'pass manifestDigest',
    );
  }
  return pick[0]!;
}

/** A blob of the layout, checked against its descriptor: a damaged layout is named here, not by a registry's 400. */
async function readBlob(layout: string, d: Descriptor): Promise<Buffer> {
  const file = blobFile(layout, d.digest);
  const data = await readFile(file);
  const actual = `sha256:${createHash('sha256').update(data).digest('hex')}`;
  if (actual !== d.digest) throw new InfraError(`${file}: content is ${actual}, not ${d.digest}`, 'rebuild the image');
  return data;
}

function blobFile(layout: string, digest: string): string {
  const [alg, hex] = digest.split(':');
  if (alg !== 'sha256' || !hex || !/^[0-9a-f]{64}$/.test(hex)) throw new InfraError(`unsupported blob digest '${digest}' in ${layout}`);
  return join(layout, 'blobs', alg, hex);
}

/** A manifest and everything under it (an index's manifests, by digest), then the manifest itself under `reference`. */
async function pushManifest(client: RegistryClient, req: PushImageRequest, d: Descriptor, reference: string, known: KnownBlobs): Promise<PushedManifest> {
  const bytes = await readBlob(req.layout, d);
  const manifest = JSON.parse(bytes.toString('utf8')) as { mediaType?: string; config?: Descriptor; layers?: Descriptor[]; manifests?: Descriptor[] };
  const mediaType = d.mediaType ?? manifest.mediaType;
  if (!mediaType) throw new InfraError(`${blobFile(req.layout, d.digest)}: the manifest has no mediaType, and neither has its descriptor`);
  if (INDEX_TYPES.has(mediaType)) {
    for (const child of manifest.manifests ?? []) await pushManifest(client, req, child, child.digest, known);
  } else {
    // Foreign layers (with `urls`) are fetched from elsewhere by design; registries do not hold them.
    for (const blob of [...(manifest.config ? [manifest.config] : []), ...(manifest.layers ?? [])].filter((b) => !b.urls?.length)) {
      await pushBlob(client, req, blob, known);
    }
  }
  const res = await client.expect('PUT', `/v2/${req.repo}/manifests/${reference}`, [201], `PUT manifest ${reference}`, {
    repo: req.repo,
    headers: { 'content-type': mediaType },
    body: bytes,
  });
  const digest = header(res.headers, 'docker-content-digest');
  if (digest && digest !== d.digest) {
    throw new RegistryError(`registry ${client.base}, repository ${req.repo}: stored manifest ${reference} as ${digest}, not ${d.digest}`, client.base, req.repo, res.status, '');
  }
  return { digest: d.digest, mediaType, size: bytes.length };
}

async function pushBlob(client: RegistryClient, req: PushImageRequest, d: Descriptor, known: KnownBlobs): Promise<void> {
  const repo = req.repo;
  const head = await client.send('HEAD', `/v2/${repo}/blobs/${d.digest}`, { repo });
  if (head.status === 200) {
    known.set(d.digest, repo);
    return;
  }
  if (head.status !== 404) throw client.failure(head, `HEAD blob ${d.digest}`, repo);

  const from = known.get(d.digest);
  const start = from && from !== repo
    ? await client.expect('POST', `/v2/${repo}/blobs/uploads/?mount=${d.digest}&from=${from}`, [201, 202], `mount blob ${d.digest} from ${from}`, { repo })
    : await client.expect('POST', `/v2/${repo}/blobs/uploads/`, [202], `start upload of blob ${d.digest}`, { repo });
  // 201: the registry mounted the blob it already had; 202: it wants the bytes (a mount it cannot do falls back to an upload).
  if (start.status === 201) {
    known.set(d.digest, repo);
    return;
  }
  const location = header(start.headers, 'location');
  if (!location) throw new RegistryError(`registry ${client.base}, repository ${repo}: upload of ${d.digest} answered 202 without a Location`, client.base, repo, 202, '');

  const file = blobFile(req.layout, d.digest);
  const size = (await stat(file)).size;
  if (size !== d.size) throw new InfraError(`${file}: ${size} bytes, but its descriptor says ${d.size}`, 'rebuild the image');
  // The Location may carry upload state in its query (_state); the digest is added to it, not put in its place.
  const url = new URL(location, client.base);
  url.searchParams.set('digest', d.digest);
  const put = await client.expect('PUT', url.href, [201], `PUT blob ${d.digest}`, {
    repo,
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
    body: createReadStream(file),
  });
  const stored = header(put.headers, 'docker-content-digest');
  if (stored && stored !== d.digest) throw new RegistryError(`registry ${client.base}, repository ${repo}: stored blob ${d.digest} as ${stored}`, client.base, repo, put.status, '');
  known.set(d.digest, repo);
}
