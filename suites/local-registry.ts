import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  buildTestImages, fillRegistries, imageRefs, startLocalRegistries, REGISTRY_KINDS,
  type ImageName, type LocalRegistries, type PushedImage, type RegistryKind,
} from '../oci-images/index.js';
import type { Session, TestContext } from '../src/index.js';

/**
 * The local registries of one session (plain, TLS, TLS + basic auth), filled with tsuite's test
 * images: started by the first test that needs them, stopped after the session's last test. Every
 * ref is written as the engine under test reaches the registry (a QEMU guest: 10.0.2.2:PORT).
 */
export interface SessionRegistry {
  registries: LocalRegistries;
  /** `HOST:PORT` of each registry as the engine dials it. */
  hosts: Record<RegistryKind, string>;
  /** Per registry, per image: repo, tag, manifest digest, and refs by tag and by digest at `hosts[kind]`. */
  images: Record<RegistryKind, Record<string, PushedImage>>;
}

export interface RegistryPlacement {
  /** Where the registries listen on this host (127.0.0.1 for a QEMU user-mode guest). */
  listen: string;
  /** The address at which the engine under test reaches this host (10.0.2.2 from a QEMU guest). */
  engineAddress: string;
}

/** The images every registry holds: what the suites pull. */
export const REGISTRY_IMAGES: readonly ImageName[] = ['busybox', 'net', 'memstress', 'procs'];

const quiet = { step: <T>(_label: string, work: () => Promise<T>) => work() };
const bySession = new WeakMap<Session, Map<string, Promise<SessionRegistry>>>();

/** The session's registries for this placement, started (and their stop registered) on first use. */
export function sessionRegistry(ctx: TestContext, placement: RegistryPlacement): Promise<SessionRegistry> {
  let known = bySession.get(ctx.session);
  if (!known) bySession.set(ctx.session, (known = new Map()));
  const key = `${placement.listen}>${placement.engineAddress}`;
  let pending = known.get(key);
  if (!pending) {
    pending = start(ctx, placement);
    known.set(key, pending);
    // A failed start is not remembered: the next test tries again.
    pending.catch(() => known!.delete(key));
  }
  return pending;
}

async function start(ctx: TestContext, placement: RegistryPlacement): Promise<SessionRegistry> {
  const built = await buildTestImages(ctx.target.arch, quiet, { only: REGISTRY_IMAGES });
  // Logs beside the session's console log: evidence for a pull that failed.
  const logDir = join(ctx.session.dir, 'registry');
  await mkdir(logDir, { recursive: true });
  const advertise = placement.engineAddress === placement.listen ? [] : [placement.engineAddress];
  const registries = await startLocalRegistries({ listen: placement.listen, advertise, logDir });
  ctx.atSessionEnd('stopping the local registries', () => registries.stop());
  const pushed = await fillRegistries(registries.registries, Object.values(built));
  const hosts = {} as Record<RegistryKind, string>;
  const images = {} as Record<RegistryKind, Record<string, PushedImage>>;
  const dial = placement.engineAddress.includes(':') ? `[${placement.engineAddress}]` : placement.engineAddress;
  for (const kind of REGISTRY_KINDS) {
    hosts[kind] = `${dial}:${registries.registries[kind].port}`;
    images[kind] = Object.fromEntries(Object.entries(pushed[kind]).map(([name, p]) => [name, { ...p, ...imageRefs(hosts[kind], p.repo, p.tag, p.digest) }]));
  }
  return { registries, hosts, images };
}
