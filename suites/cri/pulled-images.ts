import type { Cri, CriChannel, TestContext } from '../../src/index.js';
import { isUnimplemented } from '../../src/index.js';
import type { SessionRegistry } from '../local-registry.js';
import type { CriFixture } from './fixture.js';

/** A PullImage request's credentials (CRI AuthConfig). */
export interface PullAuth {
  username: string;
  password: string;
}

export interface ListImagesResponse {
  images: Cri.Image[];
}

/** Pulls and status calls go to a registry on this host: generous, but a hang still ends. */
export const PULL_MS = 120_000;

/** The session's registries, or a skip naming why the runtime cannot pull from them. */
export function readyRegistry(ctx: TestContext, fx: CriFixture): SessionRegistry {
  if ('missing' in fx.registry) ctx.skip(`no local registry the runtime can pull from: ${fx.registry.missing}`);
  return fx.registry.ready;
}

/** ImageStatus of `ref`: the image, or null when the runtime has none by that ref. */
export async function imageStatus(cri: CriChannel, ref: string, verbose = false): Promise<Cri.ImageStatusResponse> {
  return cri.image<Cri.ImageStatusResponse>('ImageStatus', { image: { image: ref }, verbose });
}

/**
 * The images one test pulls, removed by id when it ends. The runtime keeps what it pulls (the scope
 * removes pods, not images), and a test's leftovers would change what the next test lists. The
 * fixture's images are never removed: a test that pulled one of them by another ref only added a ref.
 */
export class PulledImages {
  private readonly ids = new Set<string>();

  constructor(readonly cri: CriChannel, private readonly fx: CriFixture) {}

  /** PullImage; the id it answered is removed at the end. */
  async pull(ref: string, auth?: PullAuth, timeoutMs = PULL_MS): Promise<string> {
    const { image_ref } = await this.cri.image<{ image_ref: string }>('PullImage', { image: { image: ref }, ...(auth && { auth }) }, { timeoutMs });
    if (!image_ref) throw new Error(`PullImage ${ref} answered with an empty image_ref`);
    this.ids.add(image_ref);
    return image_ref;
  }

  /** Also remove the image `ref` names now, if any (a pull that should have failed but did not). */
  async track(ref: string): Promise<void> {
    const { image } = await imageStatus(this.cri, ref).catch(() => ({ image: null }));
    if (image) this.ids.add(image.id);
  }

  /** RemoveImage of each pulled id that is not a fixture image; problems are thrown together. */
  async removeAll(): Promise<void> {
    const keep = new Set<string>();
    if (!('missing' in this.fx.images)) {
      for (const ref of Object.values(this.fx.images)) {
        const { image } = await imageStatus(this.cri, ref).catch(() => ({ image: null }));
        if (image) keep.add(image.id);
      }
    }
    const problems: string[] = [];
    for (const id of this.ids) {
      if (keep.has(id)) continue;
      try {
        await this.cri.image('RemoveImage', { image: { image: id } }, { timeoutMs: PULL_MS });
      } catch (err) {
        if (!isUnimplemented(err)) problems.push(`RemoveImage ${id}: ${(err as Error).message}`);
      }
    }
    this.ids.clear();
    if (problems.length > 0) throw new Error(`removing the images the test pulled failed: ${problems.join('; ')}`);
  }
}

/** Runs `body` with a tracker, removing what it pulled afterwards; a body's failure wins over a cleanup's. */
export async function withPulls(cri: CriChannel, fx: CriFixture, body: (pulled: PulledImages) => Promise<void>): Promise<void> {
  const pulled = new PulledImages(cri, fx);
  let failure: unknown;
  try {
    await body(pulled);
  } catch (err) {
    failure = err;
  }
  try {
    await pulled.removeAll();
  } catch (err) {
    failure ??= err;
  }
  if (failure !== undefined) throw failure;
}
