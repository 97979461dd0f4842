import { InfraError } from '../../src/core/errors.js';
import { cacheDir } from '../../src/core/paths.js';
import type { Progress } from '../../src/core/progress.js';
import type { ArchProfile } from '../../runners/qemu/arch-profile.js';
import { fetchDebianBusybox } from './debian-busybox.js';
import { pinnedDebianKernel, type DebianKernel } from './debian-kernel.js';
import { debianArch, FOREIGN_LISTS_MAX_AGE_MS, foreignApt, foreignAptDir, foreignListsAge, hostArch, isForeignArch } from './foreign-apt.js';

/** What the reference guest of one arch is made of: Debian's kernel and a static busybox, both on disk. */
export interface ReferenceGuest {
  kernel: DebianKernel;
  /** Static busybox for the guest's arch. */
  busybox: string;
}

export type GuestProfile = Pick<ArchProfile, 'arch' | 'referenceKernelPackage' | 'busybox'>;

export interface ReferenceGuestOptions {
  root?: string;
  /** The host's `uname -m`; the running machine's by default. */
  host?: string;
}

/**
 * Fetches the reference kernel and busybox for `profile.arch` into the cache. For the host's own
 * arch that is the host's apt and its installed busybox-static (`profile.busybox`); for another
 * arch (aarch64 on an x86 host) Debian's packages for that arch, through package lists of its own
 * in the cache, fetched the first time they are needed. The kernel is the one `tsuite setup`
 * resolved, while it is in the cache (resolution-cache.ts): a run asks apt only without it.
 */
export async function fetchReferenceGuest(profile: GuestProfile, progress: Progress, opts: ReferenceGuestOptions = {}): Promise<ReferenceGuest> {
  const root = opts.root ?? cacheDir();
  if (!isForeignArch(profile.arch, opts.host ?? hostArch())) {
    return { kernel: await pinnedDebianKernel(profile.referenceKernelPackage, progress, [], root), busybox: profile.busybox };
  }
  const deb = debianArch(profile.arch);
  const fetch = async (maxAgeMs: number) => {
    const apt = await foreignApt(deb, progress, { root, maxAgeMs });
    const kernel = await pinnedDebianKernel(profile.referenceKernelPackage, progress, apt, root);
    return { kernel, busybox: await fetchDebianBusybox(apt, deb, progress, root) };
  };
  const hadLists = (await foreignListsAge(foreignAptDir(deb, root))) !== undefined;
  try {
    return await fetch(Infinity);
  } catch (err) {
    // Old lists can name a version the mirror has since replaced: refresh once and retry.
    if (!(err instanceof InfraError) || !hadLists) throw err;
    return fetch(0);
  }
}

/** The static busybox for the guest of `profile`: the host's for its own arch, Debian's from the cache otherwise. */
export async function fetchBusybox(profile: GuestProfile, progress: Progress, opts: ReferenceGuestOptions = {}): Promise<string> {
  const root = opts.root ?? cacheDir();
  if (!isForeignArch(profile.arch, opts.host ?? hostArch())) return profile.busybox;
  const deb = debianArch(profile.arch);
  return fetchDebianBusybox(await foreignApt(deb, progress, { root }), deb, progress, root);
}

/**
 * `tsuite setup`'s share: refreshes a foreign arch's package lists when older than a day, so the
 * next run resolves today's kernel. A no-op for the host's own arch, whose lists are the admin's.
 */
export async function refreshReferenceLists(profile: Pick<ArchProfile, 'arch'>, progress: Progress, opts: ReferenceGuestOptions & { maxAgeMs?: number } = {}): Promise<void> {
  if (!isForeignArch(profile.arch, opts.host ?? hostArch())) return;
  await foreignApt(debianArch(profile.arch), progress, { root: opts.root, maxAgeMs: opts.maxAgeMs ?? FOREIGN_LISTS_MAX_AGE_MS });
}
