import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { InfraError } from '../../src/core/errors.js';
import { cacheDir } from '../../src/core/paths.js';
import type { Progress } from '../../src/core/progress.js';
import { aptFix, downloadAndUnpack, packageVersion, type AptOptions } from './debian-package.js';

const PACKAGE = 'busybox-static';

/**
 * Debian's static busybox for the arch `apt` selects (a foreign one: the host's own is installed as
 * a package), unpacked to `<cache>/busybox/busybox-static_<version>_<debArch>/busybox`. Keyed by
 * version; the directory appears, by rename, only once complete, so a second call is a lookup.
 */
export async function fetchDebianBusybox(apt: AptOptions, debArch: string, progress: Progress, root = cacheDir()): Promise<string> {
  const version = await packageVersion(PACKAGE, apt);
  // Epochs (`1:1.35.0-4`) hold a colon; apt itself writes it as %3a in file names.
  const dir = join(root, 'busybox', `${PACKAGE}_${version.replace(/:/g, '%3a')}_${debArch}`);
  const binary = join(dir, 'busybox');
  if (existsSync(binary)) return binary;

  await mkdir(join(root, 'busybox'), { recursive: true });
  const tmp = await mkdtemp(join(root, 'busybox', '.fetch-'));
  try {
    const unpacked = await downloadAndUnpack(PACKAGE, version, apt, tmp, progress);
    const found = ['bin/busybox', 'usr/bin/busybox'].map((p) => join(unpacked, p)).find((p) => existsSync(p));
    if (!found) throw new InfraError(`${PACKAGE} ${version} (${debArch}) holds no busybox binary`, aptFix(apt));
    const stage = join(tmp, 'out');
    await mkdir(stage);
    await copyFile(found, join(stage, 'busybox'));
    await chmod(join(stage, 'busybox'), 0o755);
    await rm(dir, { recursive: true, force: true });
    await rename(stage, dir);
    return binary;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
