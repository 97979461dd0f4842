import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rm, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../../src/core/errors.js';
import { exec, execChecked, execOk } from '../../src/core/exec.js';
import { fileDigest } from '../../src/core/file-digest.js';
import { cacheDir } from '../../src/core/paths.js';
import type { Progress } from '../../src/core/progress.js';
import { requireRawGpt } from './cloud-disk.js';
import { buildOnce } from './image-cache.js';
import { gcePackageRequirements, requireTools, SGDISK } from './requirements.js';

export interface CloudPackage {
  /** The package, cached by content under `<cache>/images/`. */
  path: string;
  /** Hex SHA-256 of the package file. */
  sha256: string;
  /** Size of the package file. */
  bytes: number;
  /** Size of the disk inside: the raw disk's size rounded up as the provider requires (GCE: a whole GiB; Azure: a whole MiB). */
  diskBytes: number;
  format: 'gce-tar-gz' | 'vhd' | 'raw';
}

/** Bump when the package's layout changes, so cached packages are rebuilt. */
const LAYOUT = 'gce-1';
const GiB = 1024 ** 3;
/** The one member GCE's image import reads. */
const MEMBER = 'disk.raw';
const FIX_FORMAT = `GCE imports a gzip-compressed tar holding only ${MEMBER}, a whole number of GiB: make it with packageForGce, or \`tar --format=oldgnu -Sczf image.tar.gz ${MEMBER}\``;

/**
 * GNU tar and gzip read options from these: a host setting must not change the bytes we make or
 * what we accept.
 */
function toolEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, LC_ALL: 'C', TZ: 'UTC' };
  delete env.TAR_OPTIONS;
  delete env.GZIP;
  return env;
}

/**
 * Packages a raw GPT disk as Compute Engine's image import documents it: the disk, named exactly
 * disk.raw and grown to a whole number of GiB (the backup GPT moved to the new end), in a sparse
 * old-GNU tar, gzip-compressed. The same disk bytes always make the same package bytes: the tar
 * finds holes by reading for zero blocks (`--hole-detection=raw`) rather than asking the filesystem,
 * whose allocation differs between copies, and carries no time, owner or mode of this host; gzip
 * stores no name or time. Cached by the disk's content, renamed into place only when complete. The
 * input is only read: a copy is grown.
 */
export async function packageForGce(rawDisk: string, progress: Progress, root = cacheDir()): Promise<CloudPackage> {
  await requireRawGpt(rawDisk);
  await requireTools('packaging a disk for Google Compute Engine', gcePackageRequirements());
  const size = (await stat(rawDisk)).size;
  const diskBytes = Math.ceil(size / GiB) * GiB;
  const env = toolEnv();
  // The tools' versions are in the key: another tar or gzip may lay out the same disk differently.
  const tools = await Promise.all(['tar', 'gzip'].map(async (t) => (await execOk(t, ['--version'], { env })).split('\n')[0]!));
  const id = await contentHash(rawDisk, [LAYOUT, ...tools]);
  const path = join(root, 'images', `gce-${id}.tar.gz`);

  await buildOnce(path, (tmpOut, stage) =>
    progress.step('Packaging the disk for Google Compute Engine (disk.raw in a sparse tar.gz)', async () => {
      const disk = join(stage, MEMBER);
      await growToWholeGiB(rawDisk, disk);
      await execChecked('tar', ['--create', `--file=${tmpOut}`, '--format=oldgnu', '--sparse', '--hole-detection=raw',
        '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '--mode=0644', '--use-compress-program=gzip -n',
        `--directory=${stage}`, MEMBER], { env });
    }),
  );
  const { sha256, bytes } = await fileDigest(path);
  return { path, sha256, bytes, diskBytes, format: 'gce-tar-gz' };
}

/**
 * Extracts the disk from a package as Compute Engine would take it, sparse, into `intoDir`, and
 * returns its path. Anything GCE would refuse is refused first: a file that is not a gzip-compressed
 * tar, a tar holding anything but one regular file named disk.raw, a disk that is not a whole
 * number of GiB.
 */
export async function unpackGcePackage(pkg: string, intoDir: string): Promise<string> {
  const env = toolEnv();
  const refuse = (why: string) => new UsageError(`${pkg} is not a GCE image package: ${why}`, FIX_FORMAT);
  const listing = await exec('tar', ['--list', '--verbose', '--numeric-owner', '--gzip', `--file=${pkg}`], { env });
  if (listing.code !== 0) throw refuse(`tar cannot read it as a gzip-compressed tar (${listing.stderr.trim().split('\n').pop()})`);
  const lines = listing.stdout.split('\n').filter(Boolean);
  const names = (await execOk('tar', ['--list', '--gzip', `--file=${pkg}`], { env })).split('\n').filter(Boolean);
  if (names.length !== 1 || names[0] !== MEMBER || lines.length !== 1) {
    throw refuse(`it holds ${names.length === 0 ? 'nothing' : names.slice(0, 5).join(', ') + (names.length > 5 ? ', …' : '')}, not ${MEMBER} alone`);
  }
  // `-rw-r--r-- 0/0 1073741824 1970-01-01 00:00 disk.raw`: a regular file, and its apparent size.
  const member = /^(\S)\S* \S+\s+(\d+) /.exec(lines[0]!);
  if (member?.[1] !== '-') throw refuse(`its ${MEMBER} is not a regular file (${lines[0]})`);
  const checkSize = (bytes: number) => {
    if (bytes === 0 || bytes % GiB !== 0) throw refuse(`its ${MEMBER} is ${bytes} bytes, not a whole number of GiB`);
  };
  checkSize(Number(member[2]));

  await mkdir(intoDir, { recursive: true });
  const disk = join(intoDir, MEMBER);
  await execChecked('tar', ['--extract', '--sparse', '--gzip', `--file=${pkg}`, `--directory=${intoDir}`,
    '--no-same-owner', '--no-same-permissions', MEMBER], { env });
  try {
    checkSize((await stat(disk)).size);
  } catch (err) {
    await rm(disk, { force: true });
    throw err;
  }
  return disk;
}

/**
 * A sparse copy of a raw GPT disk at `out`, grown to a whole number of GiB (the size cloud imports
 * take: GCE's image, EC2's EBS snapshot) with the backup GPT moved to the new end, and checked.
 * Returns the copy's size.
 */
export async function growToWholeGiB(rawDisk: string, out: string): Promise<number> {
  const size = (await stat(rawDisk)).size;
  const diskBytes = Math.ceil(size / GiB) * GiB;
  // Sparse whatever the input's holes: the copy costs only the disk's data.
  await execChecked('cp', ['--sparse=always', rawDisk, out]);
  if (diskBytes !== size) {
    await truncate(out, diskBytes); // the new tail is a hole
    await execChecked(SGDISK, ['-e', out], { fix: 'check that the disk has a valid GPT: sgdisk -v <disk>' });
  }
  await verifyGpt(out, rawDisk);
  return diskBytes;
}

/** A GPT that sgdisk finds no problem with, backup header at the end included. */
async function verifyGpt(disk: string, original: string): Promise<void> {
  const report = await execOk(SGDISK, ['--verify', disk]);
  if (!report.includes('No problems found')) {
    throw new UsageError(`the GPT of ${original} has problems a cloud's firmware may not get past:\n${report.trim()}`,
      `check it with \`sgdisk --verify ${original}\` and repair a copy (sgdisk's expert menu, gdisk)`);
  }
}

/** A short key for the disk's content and the settings that shape its package. */
export async function contentHash(file: string, texts: readonly string[]): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer);
  for (const t of texts) hash.update('\0').update(t);
  return hash.digest('hex').slice(0, 16);
}
