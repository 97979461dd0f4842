import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { packageForEc2, unpackEc2Package } from '../../kernel/images/ec2-package.js';
import { SGDISK } from '../../kernel/images/requirements.js';
import { UsageError } from '../../src/core/errors.js';
import { createProgress } from '../../src/core/progress.js';

/**
 * EC2's ImportSnapshot takes the raw disk: checked on a small GPT disk that the package is that disk
 * grown to a whole GiB (EBS sizes are whole GiB) with its data intact and a valid GPT, cached by
 * content, and that the same bytes always make the same package.
 */

const GiB = 1024 ** 3;
const MiB = 1024 * 1024;
const quiet = createProgress(process.stderr, true);
const temps: string[] = [];
const temp = (what: string) => {
  const dir = mkdtempSync(join(tmpdir(), `tsuite-ec2-${what}-`));
  temps.push(dir);
  return dir;
};
afterAll(() => temps.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** 10 MiB: a GPT with one ESP-typed partition and 1 MiB of pattern at 2 MiB; the rest holes. */
function smallDisk(dir: string): string {
  const disk = join(dir, 'small.raw');
  execFileSync('truncate', ['-s', '10M', disk]);
  execFileSync(SGDISK, ['--new=1:2048:+8M', '--typecode=1:ef00', '--disk-guid=11111111-2222-4333-8444-555555555555',
    '--partition-guid=1:66666666-7777-4888-8999-aaaaaaaaaaaa', disk]);
  const fd = openSync(disk, 'r+');
  writeSync(fd, pattern(), 0, MiB, 2 * MiB);
  closeSync(fd);
  return disk;
}

function pattern(): Buffer {
  const b = Buffer.alloc(MiB);
  for (let i = 0; i < b.length; i++) b[i] = (i * 2654435761) >>> 24;
  return b;
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

/** SHA-256 of a sparse GiB without holding it in memory. */
function sha256(file: string): string {
  return execFileSync('sha256sum', [file], { encoding: 'utf8' }).split(' ')[0]!;
}

describe('the EC2 raw package', () => {
  it('is the raw disk grown to a whole GiB, data and GPT intact, cached by content; unpacking gives those very bytes', async () => {
    const dir = temp('pkg');
    const cache = temp('cache');
    const disk = smallDisk(dir);
    const before = sha256(disk);
    const pkg = await packageForEc2(disk, quiet, cache);
    expect(pkg.format).toBe('raw');
    expect(pkg.bytes).toBe(GiB);
    expect(pkg.diskBytes).toBe(GiB);
    expect(statSync(pkg.path).size).toBe(GiB);
    expect(pkg.path.startsWith(join(cache, 'images'))).toBe(true);
    expect(pkg.sha256).toBe(sha256(pkg.path));
    // The input is only read; the data is where it was; the GPT is valid at the new size.
    expect(sha256(disk)).toBe(before);
    expect(readAt(pkg.path, 2 * MiB, MiB).equals(pattern())).toBe(true);
    expect(execFileSync(SGDISK, ['--verify', pkg.path], { encoding: 'utf8' })).toContain('No problems found');
    expect(execFileSync(SGDISK, ['--info=1', pkg.path], { encoding: 'utf8' })).toContain('66666666-7777-4888-8999-AAAAAAAAAAAA');

    // Cached: the same disk gives the same file, not rebuilt.
    const mtime = statSync(pkg.path).mtimeMs;
    const again = await packageForEc2(disk, quiet, cache);
    expect(again).toEqual(pkg);
    expect(statSync(again.path).mtimeMs).toBe(mtime);

    // Identical bytes elsewhere, a fresh cache: the same sha.
    const copyDir = temp('copy');
    const copy = join(copyDir, 'other-name.raw');
    execFileSync('cp', ['--sparse=always', disk, copy]);
    const other = await packageForEc2(copy, quiet, temp('cache2'));
    expect(other.sha256).toBe(pkg.sha256);

    // What the local proof boots: a copy of the exact bytes, the package left as it was.
    const unpacked = await unpackEc2Package(pkg.path, temp('unpack'));
    expect(unpacked).not.toBe(pkg.path);
    expect(sha256(unpacked)).toBe(pkg.sha256);
  });

  it('refuses to unpack a file that is not a whole number of GiB', async () => {
    const dir = temp('bad');
    const bad = join(dir, 'bad.raw');
    execFileSync('truncate', ['-s', '10M', bad]);
    await expect(unpackEc2Package(bad, join(dir, 'out'))).rejects.toBeInstanceOf(UsageError);
  });

  it('a different disk makes a different package', async () => {
    const dir = temp('diff');
    const cache = temp('cache3');
    const a = smallDisk(dir);
    const b = join(dir, 'b.raw');
    execFileSync('cp', ['--sparse=always', a, b]);
    const fd = openSync(b, 'r+');
    writeSync(fd, Buffer.from('changed'), 0, 7, 3 * MiB);
    closeSync(fd);
    const pa = await packageForEc2(a, quiet, cache);
    const pb = await packageForEc2(b, quiet, cache);
    expect(pa.path).not.toBe(pb.path);
    expect(pa.sha256).not.toBe(pb.sha256);
  });
});
