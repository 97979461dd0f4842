import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { InfraError } from '../../src/core/errors.js';
import { cacheDir } from '../../src/core/paths.js';
import type { Progress } from '../../src/core/progress.js';
import { aptFix, showPackage, type AptOptions } from '../../kernel/reference/debian-package.js';
import { debianArch, foreignApt, hostArch, isForeignArch } from '../../kernel/reference/foreign-apt.js';
import { unpackWithLibraries } from '../../kernel/reference/package-closure.js';

/** Files of a Debian package for an image: `from` in the cache, `to` in the image. */
export interface DebianFiles {
  version: string;
  files: { from: string; to: string }[];
}

interface Manifest {
  version: string;
  files: string[];
}

async function fetchFor(pkg: string, binaries: readonly string[], apt: AptOptions, debArch: string, progress: Progress, root: string): Promise<DebianFiles> {
  const record = await showPackage(pkg, apt);
  if (!record) throw new InfraError(`apt knows no package ${pkg} for ${debArch}`, aptFix(apt));
  // Keyed by version and by which binaries: another set of binaries needs other libraries.
  const which = createHash('sha256').update(binaries.join('\n')).digest('hex').slice(0, 8);
  const dir = join(root, 'oci-images', 'debian', `${pkg}_${record.version.replace(/:/g, '%3a')}_${debArch}-${which}`);
  const withSources = (m: Manifest): DebianFiles => ({ version: m.version, files: m.files.map((to) => ({ from: join(dir, 'files', to), to })) });
  const manifest = join(dir, 'manifest.json');
  if (existsSync(manifest)) return withSources(JSON.parse(await readFile(manifest, 'utf8')) as Manifest);

  await mkdir(dirname(dir), { recursive: true });
  const stage = await mkdtemp(join(dirname(dir), '.fetch-'));
  const quiet: Progress = { step: (_label, work) => work() };
  try {
    const { version, closures } = await progress.step(`Fetching ${pkg} ${record.version} (${debArch}) and its libraries`, () =>
      unpackWithLibraries(pkg, binaries, apt, stage, quiet),
    );
    const out = join(stage, 'out');
    const files = new Map(closures.flatMap((c) => c.files).map((f) => [f.to, f.from]));
    for (const [to, from] of files) {
      const copy = join(out, 'files', to);
      await mkdir(dirname(copy), { recursive: true });
      await copyFile(from, copy);
      await chmod(copy, 0o755);
    }
    const result: Manifest = { version, files: [...files.keys()].sort() };
    await writeFile(join(out, 'manifest.json'), JSON.stringify(result, null, 2) + '\n');
    await rm(dir, { recursive: true, force: true });
    await rename(out, dir);
    return withSources(result);
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

/**
 * `binaries` of Debian's `pkg` for `arch`, with the dynamic loader and every shared library they
 * need, from Debian's packages of that arch (the host's apt for its own arch, tsuite's own lists
 * otherwise). Cached under `<cache>/oci-images/debian/<pkg>_<version>_<debArch>/`.
 */
export async function fetchDebianFiles(arch: string, pkg: string, binaries: readonly string[], progress: Progress, root = cacheDir()): Promise<DebianFiles> {
  const deb = debianArch(arch);
  const apt = isForeignArch(arch, hostArch()) ? await foreignApt(deb, progress, { root }) : [];
  return fetchFor(pkg, binaries, apt, deb, progress, root);
}
