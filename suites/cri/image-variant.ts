import { createHash, randomBytes } from 'node:crypto';
import { imageRefs, RegistryClient, type RegistryKind, type RegistryResponse } from '../../oci-images/index.js';
import type { SessionRegistry } from '../local-registry.js';

/**
 * An image of a test's own, pushed to the session's registries: the busybox manifest with a config
 * that differs (a label naming the variant, maybe a User), so it has its own image id. Every
 * registry holds the same fixture images, so pulling busybox from the TLS registry would only add a
 * ref to the fixture's busybox, and removing that ref (containerd removes an image with all its
 * refs) would take the fixture's image from every later test. A variant is the test's alone.
 */
export interface ImageVariant {
  /** The config's digest: what the runtime should report as the image id. */
  configDigest: string;
  /** The manifest's digest (the same in every registry: the bytes are the same). */
  digest: string;
  repo: string;
  tag: string;
  /** Refs as the runtime dials each registry it was pushed to. */
  refs: Partial<Record<RegistryKind, { byTag: string; byDigest: string }>>;
}

export interface VariantRequest {
  /** Names the variant in its label and tag. */
  name: string;
  /** The registries to push it to. */
  kinds: readonly RegistryKind[];
  /** The image config's User, e.g. '1000' or 'nobody'. */
  user?: string;
}

const MANIFEST_TYPES = ['application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v2+json'];
const header = (r: RegistryResponse, name: string) => [r.headers[name]].flat()[0];
const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Pushes a fresh variant of busybox (new config, same layers) under a fresh tag of `tsuite/busybox`. */
export async function pushVariant(registry: SessionRegistry, req: VariantRequest): Promise<ImageVariant> {
  const unique = randomBytes(4).toString('hex');
  const tag = `variant-${req.name}-${unique}`.slice(0, 128);
  const out: Partial<ImageVariant> & { refs: ImageVariant['refs'] } = { refs: {}, tag };
  for (const kind of req.kinds) {
    const base = registry.images[kind]!.busybox!;
    const client = new RegistryClient(registry.registries.registries[kind]);
    try {
      const got = await client.expect('GET', `/v2/${base.repo}/manifests/${base.digest}`, [200], `GET manifest ${base.digest}`, { repo: base.repo, headers: { accept: MANIFEST_TYPES.join(', ') } });
      const mediaType = header(got, 'content-type') ?? MANIFEST_TYPES[0]!;
      const manifest = JSON.parse(got.body.toString('utf8')) as { config: { digest: string; size: number } };
      const baseConfig = await client.expect('GET', `/v2/${base.repo}/blobs/${manifest.config.digest}`, [200], 'GET config blob', { repo: base.repo });
      const config = JSON.parse(baseConfig.body.toString('utf8')) as { config?: Record<string, unknown> & { Labels?: Record<string, string> } };
      config.config = { ...config.config, Labels: { ...config.config?.Labels, 'tsuite.variant': `${req.name}-${unique}` }, ...(req.user !== undefined && { User: req.user }) };
      const configBytes = Buffer.from(JSON.stringify(config));
      const configDigest = sha256(configBytes);
      await uploadBlob(client, base.repo, configBytes, configDigest);
      const manifestBytes = Buffer.from(JSON.stringify({ ...manifest, config: { ...manifest.config, digest: configDigest, size: configBytes.length } }));
      await client.expect('PUT', `/v2/${base.repo}/manifests/${tag}`, [201], `PUT manifest ${tag}`, { repo: base.repo, headers: { 'content-type': mediaType }, body: manifestBytes });
      Object.assign(out, { configDigest, digest: sha256(manifestBytes), repo: base.repo });
      out.refs[kind] = imageRefs(registry.hosts[kind], base.repo, tag, out.digest!);
    } finally {
      await client.close();
    }
  }
  return out as ImageVariant;
}

/** A monolithic upload: POST, then PUT to the Location with the digest. */
async function uploadBlob(client: RegistryClient, repo: string, bytes: Buffer, digest: string): Promise<void> {
  const start = await client.expect('POST', `/v2/${repo}/blobs/uploads/`, [202], 'start a blob upload', { repo });
  const location = header(start, 'location');
  if (!location) throw new Error(`registry ${client.base} answered a blob upload without a Location`);
  const url = new URL(location, client.base);
  url.searchParams.set('digest', digest);
  await client.expect('PUT', url.href, [201], `PUT blob ${digest}`, { repo, headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) }, body: bytes });
}
