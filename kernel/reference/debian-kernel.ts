import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InfraError } from '../../src/core/errors.js';
import { execOk } from '../../src/core/exec.js';
import { cacheDir } from '../../src/core/paths.js';
import type { Progress } from '../../src/core/progress.js';
import { aptFix, downloadAndUnpack, packageVersion, type AptOptions } from './debian-package.js';
import { pinnedResolution } from './resolution-cache.js';

export type { AptOptions } from './debian-package.js';

/** A Debian kernel package unpacked in the cache: the reference kernel every suite is judged on. */
export interface DebianKernel {
  package: string;
  version: string;
  /** `uname -r` of the kernel, e.g. `6.1.0-56-cloud-amd64`. */
  release: string;
  vmlinuz: string;
  /** `lib/modules/<release>` of the unpacked package. */
  modulesDir: string;
}

/** `linux-image-cloud-amd64` → the concrete package it depends on today, and that package's version. */
export async function resolveKernelPackage(meta: string, apt: AptOptions = []): Promise<{ name: string; version: string }> {
  const metaInfo = await execOk('apt-cache', [...apt, 'show', '--no-all-versions', meta], { fix: aptFix(apt) }).catch(() => '');
  // Debian's metapackage pins the exact version (`Depends: linux-image-X (= V)`): one lookup suffices.
  const dep = /^Depends:.*?\b(linux-image-[^\s,(]+)(?:\s*\(=\s*([^)\s]+)\))?/m.exec(metaInfo);
  const name = dep?.[1];
  if (!name) throw new InfraError(`apt knows no package behind ${meta}`, aptFix(apt));
  return { name, version: dep[2] ?? (await packageVersion(name, apt)) };
}

/** The kernels already unpacked in the cache, newest download first. */
export async function cachedDebianKernels(root = cacheDir()): Promise<DebianKernel[]> {
  const dir = join(root, 'kernels');
  const entries = existsSync(dir) ? (await readdir(dir)).filter((d) => !d.startsWith('.')) : [];
  const kernels: DebianKernel[] = [];
  for (const entry of entries.sort().reverse()) {
    const manifest = await readFile(join(dir, entry, 'kernel.json'), 'utf8').catch(() => undefined);
    if (manifest) kernels.push(JSON.parse(manifest) as DebianKernel);
  }
  return kernels;
}

/**
 * The kernel `meta` names, as `tsuite setup` (or the first run after it) resolved it: no apt lookup
 * while that kernel is still unpacked in the cache (see resolution-cache.ts); otherwise
 * {@link fetchDebianKernel}, whose answer is then kept.
 */
export async function pinnedDebianKernel(meta: string, progress: Progress, apt: AptOptions = [], root = cacheDir()): Promise<DebianKernel> {
  return pinnedResolution(
    ['kernel', ...apt, meta].join(' '),
    async (folder) => JSON.parse(await readFile(join(root, folder, 'kernel.json'), 'utf8')) as DebianKernel,
    async () => {
      const kernel = await fetchDebianKernel(meta, progress, apt, root);
      return { value: kernel, folder: join('kernels', `${kernel.package}_${kernel.version}`) };
    },
    root,
  );
}

/**
 * Fetches the kernel package with `apt-get download` (apt's own mirrors, nothing hard-coded) and
 * unpacks it into `<cache>/kernels/<package>_<version>/`. A second call with the same version is a
 * no-op: the directory only appears, by rename, once it is complete.
 */
export async function fetchDebianKernel(
  meta: string,
  progress: Progress,
  apt: AptOptions = [],
  root = cacheDir(),
): Promise<DebianKernel> {
  const pkg = await resolveKernelPackage(meta, apt);
  const dir = join(root, 'kernels', `${pkg.name}_${pkg.version}`);
  const manifest = join(dir, 'kernel.json');
  if (existsSync(manifest)) return JSON.parse(await readFile(manifest, 'utf8')) as DebianKernel;

  await mkdir(join(root, 'kernels'), { recursive: true });
  const tmp = await mkdtemp(join(root, 'kernels', '.fetch-'));
  try {
    const unpacked = await downloadAndUnpack(pkg.name, pkg.version, apt, tmp, progress);
    const release = (await readdir(join(unpacked, 'lib', 'modules')).catch(() => []))[0];
    const image = (await readdir(join(unpacked, 'boot')).catch(() => [])).find((f) => f.startsWith('vmlinuz-'));
    if (!release || !image) throw new InfraError(`${pkg.name} holds no vmlinuz or modules: is ${meta} a kernel package?`);
    const kernel: DebianKernel = {
      package: pkg.name,
      version: pkg.version,
      release,
      vmlinuz: join(dir, 'root', 'boot', image),
      modulesDir: join(dir, 'root', 'lib', 'modules', release),
    };
    await writeFile(join(tmp, 'kernel.json'), JSON.stringify(kernel, null, 2) + '\n');
    await rm(dir, { recursive: true, force: true });
    await rename(tmp, dir);
    return kernel;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
