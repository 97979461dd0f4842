import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../../src/core/errors.js';
import { execChecked } from '../../src/core/exec.js';
import { fileRequirement } from '../../src/core/host-requirement.js';
import { fileDigest } from '../../src/core/file-digest.js';
import { cacheDir } from '../../src/core/paths.js';
import type { Progress } from '../../src/core/progress.js';
import { requireRawGpt } from './cloud-disk.js';
import { contentHash, growToWholeGiB, type CloudPackage } from './gce-package.js';
import { buildOnce } from './image-cache.js';
import { requireTools, SGDISK } from './requirements.js';

/** Bump when the package's layout changes, so cached packages are rebuilt. */
const LAYOUT = 'ec2-raw-1';
const GiB = 1024 ** 3;

/**
 * Packages a raw GPT disk for EC2's ImportSnapshot (format RAW): the disk itself, grown to a whole
 * number of GiB (an EBS volume's size is whole GiB; the backup GPT moves to the new end) so the
 * snapshot holds exactly these bytes and nothing is padded by the import. Cached by the disk's
 * content under `<cache>/images/`, renamed into place only when complete; the input is only read.
 */
export async function packageForEc2(rawDisk: string, progress: Progress, root = cacheDir()): Promise<CloudPackage> {
  await requireRawGpt(rawDisk);
  await requireTools('packaging a disk for Amazon EC2', [fileRequirement('GPT partitioner', SGDISK, 'gdisk')]);
  const id = await contentHash(rawDisk, [LAYOUT]);
  const path = join(root, 'images', `ec2-${id}.raw`);
  await buildOnce(path, (tmpOut) =>
    progress.step('Packaging the disk for Amazon EC2 (raw, a whole number of GiB)', async () => {
      await growToWholeGiB(rawDisk, tmpOut);
    }),
  );
  const { sha256, bytes } = await fileDigest(path);
  return { path, sha256, bytes, diskBytes: bytes, format: 'raw' };
}

/**
 * The disk in an EC2 package: a sparse copy of its exact bytes in `intoDir` (what the local proof
 * boots: a machine writes to its disk, and the cached package must stay as uploaded). A file that
 * is not a whole number of GiB is refused, as an EBS volume could not hold it exactly.
 */
export async function unpackEc2Package(pkg: string, intoDir: string): Promise<string> {
  const bytes = (await stat(pkg)).size;
  if (bytes === 0 || bytes % GiB !== 0) {
    throw new UsageError(`${pkg} is not an EC2 raw package: it is ${bytes} bytes, not a whole number of GiB`, 'make it with packageForEc2 (a raw GPT disk grown to a whole GiB)');
  }
  await mkdir(intoDir, { recursive: true });
  const disk = join(intoDir, 'disk.raw');
  await execChecked('cp', ['--sparse=always', pkg, disk]);
  return disk;
}
