import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rm, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../../src/core/errors.js';
import { execChecked, execOk } from '../../src/core/exec.js';
import { fileDigest } from '../../src/core/file-digest.js';
import { fileRequirement } from '../../src/core/host-requirement.js';
import { cacheDir } from '../../src/core/paths.js';
import type { Progress } from '../../src/core/progress.js';
import { requireRawGpt } from './cloud-disk.js';
import type { CloudPackage } from './gce-package.js';
import { buildOnce } from './image-cache.js';
import { requireTools, SGDISK } from './requirements.js';
import { fixedVhdFooter, MiB, readVhdFooter, VHD_FOOTER_BYTES } from './vhd.js';

/** Bump when the package's layout changes, so cached packages are rebuilt. */
const LAYOUT = 'azure-vhd-1';

/**
 * Packages a raw GPT disk as Azure imports one: a fixed VHD (vhd.ts), the disk grown to a whole
 * MiB with its backup GPT moved to the new end, then the footer. The footer's time is the format's
 * epoch and its unique id comes from the disk's content, so the same disk always makes the same
 * bytes. Cached by content; the copy is sparse, so the package costs only the disk's data. The
 * input is only read.
 */
export async function packageForAzure(rawDisk: string, progress: Progress, root = cacheDir()): Promise<CloudPackage> {
  await requireRawGpt(rawDisk);
  const size = (await stat(rawDisk)).size;
  const diskBytes = Math.ceil(size / MiB) * MiB;
  if (diskBytes !== size) await requireTools('growing the disk to a whole MiB for Azure', [fileRequirement('GPT partitioner', SGDISK, 'gdisk')]);
  const id = await contentHash(rawDisk, LAYOUT);
  const path = join(root, 'images', `azure-${id.slice(0, 16)}.vhd`);

  await buildOnce(path, (tmpOut) =>
    progress.step('Packaging the disk for Azure (fixed VHD)', async () => {
      // Holes stay holes whatever the input's: the package costs only the disk's data.
      await execChecked('cp', ['--sparse=always', rawDisk, tmpOut]);
      if (diskBytes !== size) {
        await truncate(tmpOut, diskBytes); // the new tail is a hole
        await execChecked(SGDISK, ['-e', tmpOut], { fix: 'check that the disk has a valid GPT: sgdisk -v <disk>' });
        const report = await execOk(SGDISK, ['--verify', tmpOut]);
        if (!report.includes('No problems found')) {
          throw new UsageError(`the GPT of ${rawDisk} has problems once grown to a whole MiB:\n${report.trim()}`,
            `check it with \`sgdisk --verify ${rawDisk}\` and repair a copy`);
        }
      }
      const file = await open(tmpOut, 'r+');
      try {
        await file.write(fixedVhdFooter(diskBytes, uniqueId(id)), 0, VHD_FOOTER_BYTES, diskBytes);
      } finally {
        await file.close();
      }
      await readVhdFooter(tmpOut);
    }),
  );
  const { sha256, bytes } = await fileDigest(path);
  return { path, sha256, bytes, diskBytes, format: 'vhd' };
}

/**
 * The raw disk inside a fixed VHD, for the local proof: the footer is verified as Azure would
 * check it (readVhdFooter), then the data before it, the very bytes uploaded, is copied out sparse.
 */
export async function unpackAzurePackage(pkg: string, intoDir: string): Promise<string> {
  const footer = await readVhdFooter(pkg);
  await mkdir(intoDir, { recursive: true });
  const disk = join(intoDir, 'disk.raw');
  try {
    await execChecked('cp', ['--sparse=always', pkg, disk]);
    await truncate(disk, footer.currentSize);
  } catch (err) {
    await rm(disk, { force: true });
    throw err;
  }
  return disk;
}

/** The package's 16-byte id, from the content key: an RFC 9562 version-8 (custom) UUID. */
function uniqueId(hexKey: string): Buffer {
  const bytes = createHash('sha256').update(`vhd-unique-id\0${hexKey}`).digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x80;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  return Buffer.from(bytes);
}

/** The disk's content and the package layout, as hex SHA-256. */
async function contentHash(file: string, layout: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: MiB })) hash.update(chunk as Buffer);
  return hash.update('\0').update(layout).digest('hex');
}
