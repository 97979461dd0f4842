import { lstat, readFile, readlink, stat } from 'node:fs/promises';
import { basename, join, posix } from 'node:path';
import { multiarchTriplet, readElfDynamic } from './elf-dynamic.js';

/** A file a guest binary needs: `from` on the host (links followed), `to` its path in the guest. */
export interface GuestFile {
  from: string;
  to: string;
}

export interface LibraryClosure {
  machine: number;
  /** The binary itself, its loader at the PT_INTERP path, then every library it needs, transitively. */
  files: GuestFile[];
  /** Names of libraries (or the loader path) found nowhere under the root. */
  missing: string[];
}

const MAX_LINKS = 40;

/**
 * Resolves `guestPath` inside the directory tree `root` as if `root` were `/`: absolute symlinks
 * (Debian's `/lib64/ld-linux-x86-64.so.2 -> /lib/x86_64-linux-gnu/...`) stay inside the tree
 * instead of reaching the host's own files. Undefined if nothing is there.
 */
export async function resolveInRoot(root: string, guestPath: string): Promise<string | undefined> {
  let pending = guestPath.split('/').filter(Boolean);
  const done: string[] = [];
  for (let links = 0; pending.length > 0; ) {
    const part = pending.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      done.pop();
      continue;
    }
    const host = join(root, ...done, part);
    const st = await lstat(host).catch(() => undefined);
    if (!st) return undefined;
    if (!st.isSymbolicLink()) {
      done.push(part);
      continue;
    }
    if (++links > MAX_LINKS) return undefined;
    const target = await readlink(host);
    if (target.startsWith('/')) done.length = 0;
    pending = [...target.split('/').filter(Boolean), ...pending];
  }
  return join(root, ...done);
}

/**
 * Everything a dynamically linked `binary` (a guest path under `root`) needs to run in a guest that
 * has nothing else: the loader at the path PT_INTERP names, and each DT_NEEDED library, transitively,
 * looked up where Debian's loader looks by default (`/lib/<triplet>`, `/usr/lib/<triplet>`, `/lib`,
 * `/usr/lib`) and placed at that same guest path. Found by reading the ELF files, never by running
 * them, so it works for a foreign arch.
 */
export async function libraryClosure(root: string, binary: string): Promise<LibraryClosure> {
  const binaryHost = await resolveInRoot(root, binary);
  if (!binaryHost) return { machine: 0, files: [], missing: [binary] };
  const top = readElfDynamic(await readFile(binaryHost));
  const triplet = multiarchTriplet(top.machine);
  const searchDirs = [`/lib/${triplet}`, `/usr/lib/${triplet}`, '/lib', '/usr/lib'];
  const files: GuestFile[] = [{ from: binaryHost, to: binary }];
  const missing: string[] = [];

  if (top.interpreter) {
    const loader = await resolveInRoot(root, top.interpreter);
    if (loader) files.push({ from: loader, to: top.interpreter });
    else missing.push(top.interpreter);
  }
  // Libraries that name the loader as DT_NEEDED (libudev, libnuma) get the one already loaded.
  const seen = new Set<string>(top.interpreter ? [basename(top.interpreter)] : []);
  const queue = [...top.needed];
  while (queue.length > 0) {
    const name = queue.shift()!;
    if (seen.has(name)) continue;
    seen.add(name);
    let found: GuestFile | undefined;
    for (const dir of searchDirs) {
      const host = await resolveInRoot(root, posix.join(dir, name));
      if (host && (await stat(host)).isFile()) {
        found = { from: host, to: posix.join(dir, name) };
        break;
      }
    }
    if (!found) {
      missing.push(name);
      continue;
    }
    files.push(found);
    queue.push(...readElfDynamic(await readFile(found.from)).needed);
  }
  return { machine: top.machine, files, missing };
}
