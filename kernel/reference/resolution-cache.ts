import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cacheDir } from '../../src/core/paths.js';

/**
 * What apt resolved for the reference guest (which kernel package the metapackage names today,
 * which qemu-guest-agent version), kept so a run does not ask `apt-cache` again: each lookup costs
 * about half a second, on every run. `tsuite setup` clears the file and resolves afresh, so a new
 * Debian kernel is picked up when setup runs again. The file only saves lookups: a missing,
 * unreadable or stale entry (its folder gone from the cache) means asking apt, never an error.
 */
export const RESOLUTION_FILE = 'reference-resolution.json';

/** Entry key → folder in the cache, relative to the cache root (the cache folder can move). */
type Entries = Record<string, string>;

async function readEntries(root: string): Promise<Entries> {
  try {
    const parsed: unknown = JSON.parse(await readFile(join(root, RESOLUTION_FILE), 'utf8'));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return {};
    return Object.fromEntries(Object.entries(parsed).filter((e): e is [string, string] => typeof e[1] === 'string'));
  } catch {
    return {};
  }
}

/**
 * The cached resolution for `key`: `load(folder)` of the folder it names, when that still loads;
 * otherwise `lookup()` (the apt lookup and fetch), whose folder is then recorded. `lookup` returns
 * the value and the folder it lives in, relative to `root`.
 */
export async function pinnedResolution<T>(
  key: string,
  load: (folder: string) => Promise<T | undefined>,
  lookup: () => Promise<{ value: T; folder: string }>,
  root = cacheDir(),
): Promise<T> {
  const folder = (await readEntries(root))[key];
  const cached = folder === undefined ? undefined : await load(folder).catch(() => undefined);
  if (cached !== undefined) return cached;
  const found = await lookup();
  await record(root, key, found.folder).catch(() => undefined);
  return found.value;
}

/** Adds one entry; written whole by rename, so a reader never sees half a file (a racing writer may drop an entry: it is looked up again). */
async function record(root: string, key: string, folder: string): Promise<void> {
  const entries = { ...(await readEntries(root)), [key]: folder };
  await mkdir(root, { recursive: true });
  const tmp = join(root, `.${RESOLUTION_FILE}.${process.pid}`);
  await writeFile(tmp, JSON.stringify(entries, null, 2) + '\n');
  await rename(tmp, join(root, RESOLUTION_FILE));
}

/** `tsuite setup`'s share: forget every resolution, so the lookups that follow ask apt. */
export async function clearResolutions(root = cacheDir()): Promise<void> {
  await rm(join(root, RESOLUTION_FILE), { force: true });
}
