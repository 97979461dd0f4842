import { cp, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { InfraError } from '../../src/core/errors.js';
import type { Progress } from '../../src/core/progress.js';
import { aptFix, downloadAndUnpack, showPackage, type AptOptions } from './debian-package.js';
import { libraryClosure, type LibraryClosure } from './shared-libraries.js';

/** Library packages are unpacked along Depends at most this deep before giving up. */
const MAX_DEPTH = 4;

/**
 * Debian names shared-library packages after the library's soname (`libssl3`, `zlib1g`); only
 * those are followed, which keeps configuration packages, init-system-helpers and Perl out.
 */
export const isLibraryPackage = (name: string): boolean => name.startsWith('lib') || /^zlib\d/.test(name);

/** What {@link unpackWithLibraries} unpacked: `pkg`'s version, and each binary's closure (in `binaries` order). */
export interface PackageClosure {
  version: string;
  closures: LibraryClosure[];
}

/**
 * Unpacks Debian's `pkg` into `stage/root`, then the library packages it depends on, one layer of
 * Depends at a time, until every one of `binaries` (guest paths) has its loader and libraries
 * there, transitively. Without `apt-file` or a foreign dpkg database there is no lib→package map,
 * so only the dependency graph is walked; the ELF files are read, not run, so foreign arches work.
 */
export async function unpackWithLibraries(pkg: string, binaries: readonly string[], apt: AptOptions, stage: string, progress: Progress): Promise<PackageClosure> {
  const root = join(stage, 'root');
  const seen = new Set([pkg]);
  let layer = [pkg];
  let version = '';
  const closures = () => Promise.all(binaries.map((b) => libraryClosure(root, b)));
  for (let depth = 0; depth <= MAX_DEPTH && layer.length > 0; depth++) {
    const next: string[] = [];
    for (const name of layer) {
      const record = await showPackage(name, apt);
      if (!record) {
        if (name === pkg) throw new InfraError(`apt knows no package ${name}`, aptFix(apt));
        continue;
      }
      if (name === pkg) version = record.version;
      // Each package unpacks on its own, then merges, so a failure names the package.
      const dir = join(stage, 'pkgs', name);
      await mkdir(dir, { recursive: true });
      await cp(await downloadAndUnpack(name, record.version, apt, dir, progress), root, { recursive: true, verbatimSymlinks: true, force: true });
      await rm(dir, { recursive: true, force: true });
      for (const dep of record.depends) {
        if (seen.has(dep) || !isLibraryPackage(dep)) continue;
        seen.add(dep);
        next.push(dep);
      }
    }
    const all = await closures();
    if (all.every((c) => c.missing.length === 0)) return { version, closures: all };
    layer = next;
  }
  const missing = [...new Set((await closures()).flatMap((c) => c.missing))];
  throw new InfraError(`${pkg} ${version} needs ${missing.join(', ')}, found in none of the packages it depends on (${[...seen].join(', ')})`, aptFix(apt));
}
