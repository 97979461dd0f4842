import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageForGce, unpackGcePackage, type CloudPackage } from '../../kernel/images/gce-package.js';
import { SGDISK } from '../../kernel/images/requirements.js';
import { UsageError } from '../../src/core/errors.js';
import { createProgress } from '../../src/core/progress.js';

/**
 * Compute Engine's image import format, checked on a small GPT disk: disk.raw alone in an old-GNU
 * sparse tar.gz, grown to a whole GiB with the backup GPT at the new end, the same bytes every time.
 */

const GiB = 1024 ** 3;
const MiB = 1024 * 1024;
const quiet = createProgress(process.stderr, true);
const temps: string[] = [];
/** A fresh folder, removed after the file's tests: each package and unpacked disk is a sparse GiB. */
const temp = (what: string) => {
  const dir = mkdtempSync(join(tmpdir(), `tsuite-gce-${what}-`));
  temps.push(dir);
  return dir;
};
const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const sh = (cmd: string, args: string[], cwd?: string) => execFileSync(cmd, args, { cwd, encoding: 'utf8' });

/** 10 MiB: a GPT with one ESP-typed partition from 1 MiB, and 1 MiB of pattern in it; the rest holes. */
function smallDisk(dir: string): string {
  const disk = join(dir, 'small.raw');
  sh('truncate', ['-s', '10M', disk]);
  sh(SGDISK, ['--new=1:2048:+8M', '--typecode=1:ef00', '--disk-guid=11111111-2222-4333-8444-555555555555',
    '--partition-guid=1:66666666-7777-4888-8999-aaaaaaaaaaaa', disk]);
  const pattern = Buffer.alloc(MiB);
  for (let i = 0; i < pattern.length; i++) pattern[i] = (i * 2654435761) >>> 24;
  const fd = openSync(disk, 'r+');
  writeSync(fd, pattern, 0, pattern.length, 2 * MiB);
  closeSync(fd);
  return disk;
}

function readAt(file: string, offset: number, length: number): Buffer {
  const bytes = Buffer.alloc(length);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, bytes, 0, length, offset);
  } finally {
    closeSync(fd);
  }
  return bytes;
}

/** A gzip-compressed tar of the named files in `dir`, made without tsuite. */
function tarGz(dir: string, out: string, ...names: string[]): string {
  sh('tar', ['--format=oldgnu', '-Sczf', out, ...names], dir);
  return out;
}

let work: string;
let disk: string;
let root: string;
let pkg: CloudPackage;

beforeAll(async () => {
  work = temp('work');
  disk = smallDisk(work);
  root = temp('cache');
  pkg = await packageForGce(disk, quiet, root);
});

afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

describe('packageForGce', () => {
  it('makes <cache>/images/gce-<hash>.tar.gz holding only disk.raw, in an old-GNU tar, gzip without name or time', () => {
    expect(pkg.path).toMatch(new RegExp(`^${root}/images/gce-[0-9a-f]{16}\\.tar\\.gz$`));
    expect(pkg).toMatchObject({ format: 'gce-tar-gz', bytes: statSync(pkg.path).size, sha256: sha256(pkg.path), diskBytes: GiB });
    expect(sh('tar', ['-tzf', pkg.path])).toBe('disk.raw\n');
    const gz = readFileSync(pkg.path);
    expect(gz[3]! & 0x08).toBe(0); // no FNAME
    expect(gz.readUInt32LE(4)).toBe(0); // no MTIME
    const tar = gunzipSync(gz);
    expect(tar.toString('latin1', 257, 265)).toBe('ustar  \0'); // old GNU magic
    expect(tar[156]).toBe('S'.charCodeAt(0)); // a GNU sparse member
    expect(tar.toString('latin1', 0, 9)).toBe('disk.raw\0');
    // Sparse: the archive holds the data, not the GiB of zeros.
    expect(tar.length).toBeLessThan(4 * MiB);
    // Nothing left behind in the cache but the package.
    expect(readdirSync(join(root, 'images'))).toEqual([pkg.path.split('/').pop()]);
  });

  it('unpacks to a sparse whole-GiB disk.raw whose GPT sgdisk finds clean, backup header at the end, data intact', async () => {
    const into = temp('unpack');
    const raw = await unpackGcePackage(pkg.path, into);
    expect(raw).toBe(join(into, 'disk.raw'));
    const st = statSync(raw);
    expect(st.size).toBe(GiB);
    expect(st.blocks * 512).toBeLessThan(16 * MiB);
    const verify = sh(SGDISK, ['--verify', raw]);
    expect(verify).toContain('No problems found');
    // The backup header's own LBA is the disk's last sector.
    const backup = readAt(raw, GiB - 512, 512);
    expect(backup.toString('latin1', 0, 8)).toBe('EFI PART');
    expect(backup.readBigUInt64LE(24)).toBe(BigInt(GiB / 512 - 1));
    // The partition's bytes are the input's.
    expect(readAt(raw, MiB, 8 * MiB).equals(readAt(disk, MiB, 8 * MiB))).toBe(true);
  });

  it('makes byte-identical packages from the same disk bytes, however its holes lie', async () => {
    // A fresh cache, a copy with every zero written out, another umask: rebuilt, to the same bytes.
    const dense = join(work, 'dense.raw');
    sh('cp', ['--sparse=never', disk, dense]);
    expect(statSync(dense).blocks).toBeGreaterThan(statSync(disk).blocks);
    const umask = process.umask(0o077);
    try {
      const fromDense = await packageForGce(dense, quiet, temp('cache3'));
      expect(fromDense.sha256).toBe(pkg.sha256);
    } finally {
      process.umask(umask);
    }
  });

  it('is a lookup the second time, and never changes its input', async () => {
    const before = sha256(disk);
    const mtime = statSync(pkg.path).mtimeMs;
    const second = await packageForGce(disk, quiet, root);
    expect(second).toEqual(pkg);
    expect(statSync(second.path).mtimeMs).toBe(mtime);
    expect(sha256(disk)).toBe(before);
    expect(statSync(disk).size).toBe(10 * MiB);
  });

  it('refuses a disk with no GPT, and leaves nothing in the cache', async () => {
    const mbr = join(work, 'mbr.raw');
    const bytes = Buffer.alloc(MiB);
    bytes[510] = 0x55;
    bytes[511] = 0xaa;
    writeFileSync(mbr, bytes);
    const cache = temp('cache-mbr');
    await expect(packageForGce(mbr, quiet, cache)).rejects.toThrow(/has no GPT/);
    expect(existsSync(join(cache, 'images'))).toBe(false);
  });
});

describe('unpackGcePackage refuses what GCE would', () => {
  const refused = async (pkgFile: string, why: RegExp) => {
    const into = temp('refused');
    const err = await unpackGcePackage(pkgFile, into).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).message).toMatch(why);
    expect((err as UsageError).fix).toContain('--format=oldgnu');
    expect(existsSync(join(into, 'disk.raw'))).toBe(false);
  };

  it('a file that is not a gzip-compressed tar', async () => {
    const corrupt = join(work, 'corrupt.tar.gz');
    const gz = readFileSync(pkg.path);
    writeFileSync(corrupt, Buffer.concat([gz.subarray(0, 10), Buffer.alloc(64, 0x5a), gz.subarray(74)]));
    await refused(corrupt, /cannot read it as a gzip-compressed tar/);
    const plain = join(work, 'plain.tar.gz');
    writeFileSync(plain, 'not an archive at all\n');
    await refused(plain, /cannot read it as a gzip-compressed tar/);
  });

  it('a tar of something else, or of disk.raw and more', async () => {
    const dir = temp('foreign');
    writeFileSync(join(dir, 'other.txt'), 'hello\n');
    await refused(tarGz(dir, join(dir, 'foreign.tar.gz'), 'other.txt'), /holds other\.txt, not disk\.raw alone/);
    sh('truncate', ['-s', '1G', join(dir, 'disk.raw')]);
    await refused(tarGz(dir, join(dir, 'extra.tar.gz'), 'disk.raw', 'other.txt'), /holds disk\.raw, other\.txt/);
    mkdirSync(join(dir, 'sub'));
    sh('cp', ['--sparse=always', join(dir, 'disk.raw'), join(dir, 'sub', 'disk.raw')]);
    await refused(tarGz(dir, join(dir, 'nested.tar.gz'), 'sub/disk.raw'), /holds sub\/disk\.raw/);
  });

  it('a disk.raw that is not a regular file, or not a whole number of GiB', async () => {
    const dir = temp('shape');
    symlinkSync('/dev/null', join(dir, 'disk.raw'));
    await refused(tarGz(dir, join(dir, 'link.tar.gz'), 'disk.raw'), /not a regular file/);
    const odd = temp('odd');
    sh('cp', ['--sparse=always', disk, join(odd, 'disk.raw')]);
    await refused(tarGz(odd, join(odd, 'odd.tar.gz'), 'disk.raw'), /is 10485760 bytes, not a whole number of GiB/);
  });
});
