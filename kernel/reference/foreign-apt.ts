import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InfraError, UsageError } from '../../src/core/errors.js';
import { execOk } from '../../src/core/exec.js';
import { hostArch } from '../../src/core/host-info.js';
import { cacheDir } from '../../src/core/paths.js';
import type { Progress } from '../../src/core/progress.js';
import { aptFix, type AptOptions } from './debian-package.js';

/** `uname -m` → Debian's architecture name. */
const DEBIAN_ARCH: Readonly<Record<string, string>> = Object.freeze({ x86_64: 'amd64', aarch64: 'arm64' });

/** How old foreign package lists may be before `tsuite setup` refreshes them. */
export const FOREIGN_LISTS_MAX_AGE_MS = 24 * 60 * 60 * 1000;

/** Written after a successful `apt-get update`: holds when the lists were last refreshed. */
const STAMP = 'updated';

export function debianArch(arch: string): string {
  const deb = DEBIAN_ARCH[arch];
  if (!deb) throw new UsageError(`no Debian architecture known for '${arch}'`, `use one of: ${Object.keys(DEBIAN_ARCH).join(', ')}`);
  return deb;
}

export { hostArch };

/** Whether packages for `arch` need apt options of their own (the host's apt serves only its own arch). */
export function isForeignArch(arch: string, host: string = hostArch()): boolean {
  return arch !== host;
}

/** Where the package lists and downloads for one foreign Debian arch live: `<cache>/apt-<debArch>/`. */
export function foreignAptDir(debArch: string, root = cacheDir()): string {
  return join(root, `apt-${debArch}`);
}

/**
 * apt options that make apt-get and apt-cache see only `debArch`'s packages, with lists and cache
 * of their own and an empty dpkg status: the host's dpkg architectures and lists stay untouched,
 * and no root is needed. The host's sources.list is used as it is.
 */
export function foreignAptOptions(debArch: string, dir: string): AptOptions {
  return [
    '-o', `APT::Architecture=${debArch}`,
    // The `::=` form replaces the list instead of appending to the host's.
    '-o', `APT::Architectures::=${debArch}`,
    '-o', `Dir::State::Lists=${join(dir, 'lists')}`,
    '-o', `Dir::Cache=${join(dir, 'cache')}`,
    '-o', 'Dir::State::status=/dev/null',
  ];
}

/** When the lists were last refreshed, or undefined if they never were. */
export async function foreignListsAge(dir: string, now = Date.now()): Promise<number | undefined> {
  const updated = Date.parse((await readFile(join(dir, STAMP), 'utf8').catch(() => '')).trim());
  if (Number.isNaN(updated)) return undefined;
  const lists = existsSync(join(dir, 'lists')) ? await readdir(join(dir, 'lists')) : [];
  if (!lists.some((f) => f.includes('_Packages'))) return undefined;
  return now - updated;
}

export interface ForeignAptRequest {
  /** Refresh when the lists are older than this; `Infinity`: only when there are none yet. */
  maxAgeMs?: number;
  root?: string;
  now?: number;
}

/**
 * The apt options for `debArch`, after making sure its package lists exist and are no older than
 * `maxAgeMs`. Idempotent: fresh lists mean no network at all.
 */
export async function foreignApt(debArch: string, progress: Progress, req: ForeignAptRequest = {}): Promise<AptOptions> {
  const dir = foreignAptDir(debArch, req.root);
  const apt = foreignAptOptions(debArch, dir);
  const age = await foreignListsAge(dir, req.now);
  if (age !== undefined && age <= (req.maxAgeMs ?? Infinity)) return apt;

  // `apt-get update` refuses to run without lists/partial; it creates no directories itself.
  await mkdir(join(dir, 'lists', 'partial'), { recursive: true });
  await mkdir(join(dir, 'cache', 'archives', 'partial'), { recursive: true });
  await progress.step(`Fetching Debian ${debArch} package lists`, () =>
    execOk('apt-get', [...apt, '-qq', 'update'], { fix: aptFix(apt) }),
  );
  const lists = await readdir(join(dir, 'lists'));
  if (!lists.some((f) => f.includes(`binary-${debArch}_Packages`))) {
    throw new InfraError(`apt-get update fetched no ${debArch} package lists into ${join(dir, 'lists')}`, aptFix(apt));
  }
  await writeFile(join(dir, STAMP), `${new Date(req.now ?? Date.now()).toISOString()}\n`);
  return apt;
}
