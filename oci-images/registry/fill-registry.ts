/**
 * Fills registries with tsuite's built test images: each `BuiltImage` goes to `tsuite/<name>`
 * under the tag tsuite already uses (`BuiltImage.ref`'s), so a pull by tag names the same image an
 * engine would have loaded, and a pull by digest names the manifest tsuite computed.
 */
import type { BuiltImage } from '../builder/build-images.js';
import { pushImage, type KnownBlobs } from './push-image.js';
import { RegistryClient, type RegistryAccess } from './registry-client.js';

export interface PushedImage {
  /** `tsuite/<name>`. */
  repo: string;
  tag: string;
  /** The manifest digest, `sha256:…`. */
  digest: string;
  /** `HOST:PORT/tsuite/<name>:<tag>`, at the registry's `host`. */
  byTag: string;
  /** `HOST:PORT/tsuite/<name>@sha256:…`. */
  byDigest: string;
}

/** `tsuite/busybox:abc` → repo and tag (the tag follows the last ':' after the last '/': a registry host may carry a port). */
export function splitRef(ref: string): { repo: string; tag: string } {
  const colon = ref.lastIndexOf(':');
  if (colon <= ref.lastIndexOf('/')) throw new Error(`image ref '${ref}' has no tag`);
  return { repo: ref.slice(0, colon), tag: ref.slice(colon + 1) };
}

/** The refs of a pushed image at `host`: guests reach the same registry at another address (10.0.2.2:PORT), hence a parameter. */
export function imageRefs(host: string, repo: string, tag: string, digest: string): { byTag: string; byDigest: string } {
  return { byTag: `${host}/${repo}:${tag}`, byDigest: `${host}/${repo}@${digest}` };
}

/** Pushes `images` to one registry, one after another (later images mount the layers earlier ones sent). Keyed by image name. */
export async function fillRegistry(registry: RegistryAccess, images: readonly BuiltImage[]): Promise<Record<string, PushedImage>> {
  const client = new RegistryClient(registry);
  const known: KnownBlobs = new Map();
  const out: Record<string, PushedImage> = {};
  try {
    for (const image of images) {
      const { repo, tag } = splitRef(image.ref);
      const pushed = await pushImage(client, { layout: image.layout, repo, tag, manifestDigest: image.manifestDigest }, known);
      out[image.name] = { repo, tag, digest: pushed.digest, ...imageRefs(registry.host, repo, tag, pushed.digest) };
    }
    return out;
  } finally {
    await client.close();
  }
}

/** Pushes `images` to every registry of `registries` at once. Keyed by registry name, then image name. */
export async function fillRegistries<K extends string>(
  registries: Record<K, RegistryAccess>,
  images: readonly BuiltImage[],
): Promise<Record<K, Record<string, PushedImage>>> {
  const names = Object.keys(registries) as K[];
  const filled = await Promise.all(names.map((k) => fillRegistry(registries[k], images)));
  return Object.fromEntries(names.map((k, i) => [k, filled[i]])) as Record<K, Record<string, PushedImage>>;
}
