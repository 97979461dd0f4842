import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, copyFileSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageForAzure, unpackAzurePackage } from '../../kernel/images/azure-package.js';
import type { CloudPackage } from '../../kernel/images/gce-package.js';
import { SGDISK } from '../../kernel/images/requirements.js';
import { fixedVhdFooter, parseFixedVhdFooter, readVhdFooter, vhdChecksum, vhdGeometry } from '../../kernel/images/vhd.js';
import { UsageError } from '../../src/core/errors.js';
import { createProgress } from '../../src/core/progress.js';

/**
 * The fixed VHD Azure imports, checked against the format specification's field layout and
 * against QEMU's independent implementation (qemu-img, Debian's qemu-utils).
 */

const MiB = 1024 * 1024;
const quiet = createProgress(process.stderr, true);
const temps: string[] = [];
const temp = (what: string) => {
  const dir = mkdtempSync(join(tmpdir(), `tsuite-vhd-${what}-`));
  temps.push(dir);
  return dir;
};
const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8' });
const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const tail512 = (file: string) => {
  const size = statSync(file).size;
  const buf = Buffer.alloc(512);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, buf, 0, 512, size - 512);
  } finally {
    closeSync(fd);
  }
  return buf;
};
const virtualSize = (args: string[]) => (JSON.parse(sh('qemu-img', ['info', '--output=json', ...args])) as { 'virtual-size': number })['virtual-size'];

afterAll(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

describe('the footer', () => {
  const id = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
  const f = fixedVhdFooter(10 * MiB, id);

  it('has each field at the offset the specification gives', () => {
    expect(f.length).toBe(512);
    expect(f.toString('latin1', 0, 8)).toBe('conectix');
    expect(f.readUInt32BE(8)).toBe(0x00000002); // features: reserved bit
    expect(f.readUInt32BE(12)).toBe(0x00010000); // file format version
    expect(f.readBigUInt64BE(16)).toBe(0xffffffffffffffffn); // data offset: none for a fixed disk
    expect(f.readUInt32BE(24)).toBe(0); // timestamp: fixed, so packages are reproducible
    expect(f.toString('latin1', 28, 32)).toBe('tsui');
    expect(f.readUInt32BE(36)).toBe(0x5769326b); // 'Wi2k'
    expect(f.readBigUInt64BE(40)).toBe(BigInt(10 * MiB)); // original size
    expect(f.readBigUInt64BE(48)).toBe(BigInt(10 * MiB)); // current size
    expect([f.readUInt16BE(56), f.readUInt8(58), f.readUInt8(59)]).toEqual([301, 4, 17]);
    expect(f.readUInt32BE(60)).toBe(2); // fixed
    expect(f.subarray(68, 84).equals(id)).toBe(true);
    expect(f.readUInt8(84)).toBe(0); // saved state
    expect(f.subarray(85).every((b) => b === 0)).toBe(true);
  });

  it("carries the one's complement of its byte sum, the checksum field counted as zero", () => {
    const zeroed = Buffer.from(f);
    zeroed.writeUInt32BE(0, 64);
    let sum = 0;
    for (const b of zeroed) sum += b;
    expect(f.readUInt32BE(64)).toBe(~sum >>> 0);
    expect(vhdChecksum(f)).toBe(f.readUInt32BE(64));
  });

  it('refuses a size that is not a whole MiB', () => {
    expect(() => fixedVhdFooter(10 * MiB + 512, id)).toThrow(/whole number of MiB/);
  });

  it('computes the geometry QEMU computes, for small, CHS-exact and past-CHS sizes', () => {
    const dir = temp('geometry');
    // qemu-img rounds a fixed disk up to its geometry (without force_size): the footer's size and
    // geometry it writes must be what the specification's algorithm gives for that size.
    for (const size of ['10M', '64M', '1G', '2G', '32640M', '200G']) {
      const file = join(dir, `${size}.vhd`);
      sh('qemu-img', ['create', '-q', '-f', 'vpc', '-o', 'subformat=fixed', file, size]);
      const q = tail512(file);
      const current = Number(q.readBigUInt64BE(48));
      expect(vhdGeometry(current), size).toEqual({ cylinders: q.readUInt16BE(56), heads: q.readUInt8(58), sectorsPerTrack: q.readUInt8(59) });
      rmSync(file);
    }
    // The specification's maximum, for a disk CHS cannot describe.
    expect(vhdGeometry(200 * 1024 * MiB)).toEqual({ cylinders: 65535, heads: 16, sectorsPerTrack: 255 });
  });

  it("matches qemu-img's fixed VHD of the same disk in every field that does not name its maker or moment", () => {
    const dir = temp('qemu');
    const raw = join(dir, 'r.raw');
    writeFileSync(raw, '');
    truncateSync(raw, 12 * MiB);
    const vhd = join(dir, 'q.vhd');
    sh('qemu-img', ['convert', '-f', 'raw', '-O', 'vpc', '-o', 'subformat=fixed,force_size=on', raw, vhd]);
    const q = tail512(vhd);
    const ours = fixedVhdFooter(12 * MiB, Buffer.alloc(16));
    expect(statSync(vhd).size).toBe(12 * MiB + 512);
    for (const [from, to] of [[0, 24], [36, 56], [60, 64], [84, 512]] as const) {
      expect(ours.subarray(from, to).toString('hex'), `bytes ${from}-${to}`).toBe(q.subarray(from, to).toString('hex'));
    }
    // force_size makes qemu write the maximum geometry (its marker for "trust the size field");
    // ours is the specification's for the size, which Hyper-V checks.
    expect([q.readUInt16BE(56), q.readUInt8(58), q.readUInt8(59)]).toEqual([65535, 16, 255]);
  });
});

describe('reading a footer back', () => {
  const size = 4 * MiB;
  const good = () => fixedVhdFooter(size, Buffer.alloc(16, 7));
  const resum = (f: Buffer) => {
    f.writeUInt32BE(vhdChecksum(f), 64);
    return f;
  };

  it('accepts a good one and returns its fields', () => {
    const parsed = parseFixedVhdFooter(good(), size + 512);
    expect(parsed).toMatchObject({ currentSize: size, originalSize: size, diskType: 2, creatorApp: 'tsui', creatorHostOs: 'Wi2k', uniqueId: '07'.repeat(16) });
  });

  const cases: [string, (f: Buffer) => Buffer, number, RegExp][] = [
    ['a wrong cookie', (f) => resum((f.write('conectiy', 0, 'latin1'), f)), size + 512, /cookie 'conectix'/],
    ['a wrong checksum', (f) => (f.writeUInt32BE((f.readUInt32BE(64) ^ 1) >>> 0, 64), f), size + 512, /checksum/],
    ['a changed byte under a good checksum field', (f) => (f.writeUInt8(1, 100), f), size + 512, /checksum/],
    ['a dynamic disk', (f) => resum((f.writeUInt32BE(3, 60), f)), size + 512, /disk type is 3 \(dynamic\)/],
    ['a size that is not the data before the footer', (f) => f, size + 512 + MiB, /footer says the disk is 4194304 bytes, and the data before the footer is 5242880/],
    ['a size that is not a whole MiB', (f) => resum((f.writeBigUInt64BE(BigInt(size + 512), 48), f)), size + 1024, /not a whole number of MiB/],
    ['a geometry other than the specification computes', (f) => resum((f.writeUInt16BE(1, 56), f)), size + 512, /geometry is C\/H\/S 1\/4\/17/],
    ['a data offset', (f) => resum((f.writeBigUInt64BE(512n, 16), f)), size + 512, /data offset/],
    ['a file too short', (f) => f, 512, /too short/],
  ];
  for (const [what, spoil, fileBytes, message] of cases) {
    it(`refuses ${what}`, () => {
      let err: unknown;
      try {
        parseFixedVhdFooter(spoil(good()), fileBytes, 'x.vhd');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(UsageError);
      expect((err as Error).message).toMatch(/^x\.vhd is not a fixed VHD Azure can import: /);
      expect((err as Error).message).toMatch(message);
    });
  }
});

describe('the Azure package', () => {
  let dir: string;
  let raw: string;
  let pkg: CloudPackage;

  /** A GPT disk of 10 MiB and 3.5 KiB (not a whole MiB), with 1 MiB of pattern in an ESP-typed partition. */
  beforeAll(async () => {
    dir = temp('pkg');
    raw = join(dir, 'small.raw');
    writeFileSync(raw, '');
    truncateSync(raw, 10 * MiB + 3584);
    sh(SGDISK, ['--new=1:2048:+8M', '--typecode=1:ef00', '--disk-guid=11111111-2222-4333-8444-555555555555',
      '--partition-guid=1:66666666-7777-4888-8999-aaaaaaaaaaaa', raw]);
    const pattern = Buffer.alloc(MiB);
    for (let i = 0; i < pattern.length; i++) pattern[i] = (i * 2654435761) >>> 24;
    const fd = openSync(raw, 'r+');
    writeSync(fd, pattern, 0, pattern.length, 2 * MiB);
    closeSync(fd);
    pkg = await packageForAzure(raw, quiet, join(dir, 'cache'));
  });

  it('is the disk grown to a whole MiB, then a footer that reads back', async () => {
    expect(pkg).toMatchObject({ format: 'vhd', diskBytes: 11 * MiB, bytes: 11 * MiB + 512 });
    expect(statSync(pkg.path).size).toBe(11 * MiB + 512);
    expect(sha256(pkg.path)).toBe(pkg.sha256);
    const footer = await readVhdFooter(pkg.path);
    expect(footer).toMatchObject({ currentSize: 11 * MiB, diskType: 2, timestamp: 0 });
    // The backup GPT moved to the new end: the grown disk verifies.
    const unpacked = await unpackAzurePackage(pkg.path, join(dir, 'unpacked'));
    expect(statSync(unpacked).size).toBe(11 * MiB);
    expect(sh(SGDISK, ['--verify', unpacked])).toContain('No problems found');
    expect(readFileSync(unpacked).subarray(2 * MiB, 3 * MiB).equals(readFileSync(raw).subarray(2 * MiB, 3 * MiB))).toBe(true);
  });

  it('reads as a VHD of the right size in QEMU (Hyper-V size semantics), its data the unpacked disk', async () => {
    expect(virtualSize(['--image-opts', `driver=vpc,force_size_calc=current_size,file.filename=${pkg.path}`])).toBe(11 * MiB);
    // QEMU trusts the size field only for creators it knows (and the maximum geometry); for others it
    // takes the geometry's smaller size, as Virtual PC did.
    expect(virtualSize(['-f', 'vpc', pkg.path])).toBe(vhdGeometry(11 * MiB).cylinders * 4 * 17 * 512);
    const unpacked = await unpackAzurePackage(pkg.path, join(dir, 'unpacked2'));
    sh('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', unpacked, join(dir, 'unpacked', 'disk.raw')]);
    expect(() => sh('qemu-img', ['compare', '--image-opts', `driver=raw,file.filename=${unpacked}`,
      `driver=vpc,force_size_calc=current_size,file.filename=${pkg.path}`])).not.toThrow();
  });

  it('is the same bytes every time, and stays sparse', async () => {
    const again = await packageForAzure(raw, quiet, join(dir, 'cache2'));
    expect(again.sha256).toBe(pkg.sha256);
    // Only the GPT, the pattern and the footer hold data: far less than the 11 MiB.
    expect(statSync(pkg.path).blocks * 512).toBeLessThan(4 * MiB);
  });

  it('refuses to unpack a file whose footer is broken', async () => {
    const bad = join(dir, 'bad.vhd');
    copyFileSync(pkg.path, bad);
    const fd = openSync(bad, 'r+');
    writeSync(fd, Buffer.from('XXXX'), 0, 4, statSync(bad).size - 512);
    closeSync(fd);
    await expect(unpackAzurePackage(bad, join(dir, 'bad'))).rejects.toThrow(/cookie 'conectix'/);
  });
});
