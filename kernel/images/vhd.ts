import { open, stat } from 'node:fs/promises';
import { UsageError } from '../../src/core/errors.js';

/**
 * The fixed-size Virtual Hard Disk format, as Microsoft's "Virtual Hard Disk Image Format
 * Specification" lays it out: the disk's bytes as they are, then one 512-byte footer. Azure imports
 * only this variant, and only with a size that is a whole number of MiB.
 */

export const VHD_FOOTER_BYTES = 512;
export const MiB = 1024 * 1024;

/** Field offsets inside the footer (all integers big-endian). */
const AT = {
  cookie: 0, features: 8, version: 12, dataOffset: 16, timestamp: 24, creatorApp: 28, creatorVersion: 32,
  creatorHostOs: 36, originalSize: 40, currentSize: 48, cylinders: 56, heads: 58, sectorsPerTrack: 59,
  diskType: 60, checksum: 64, uniqueId: 68, savedState: 84,
} as const;

const COOKIE = 'conectix';
/** The "reserved" feature bit, which the specification says is always set. */
const FEATURES = 0x00000002;
const FORMAT_VERSION = 0x00010000;
/** A fixed disk has no dynamic header: its data offset is all ones. */
const FIXED_DATA_OFFSET = 0xffffffffffffffffn;
export const DISK_TYPE_FIXED = 2;
/** Who made the file: four characters of our own, version 1.0, and the specification's Windows host code `Wi2k`. */
const CREATOR_APP = 'tsui';
const CREATOR_VERSION = 0x00010000;
const CREATOR_HOST_OS = 'Wi2k';
const SECTOR = 512;

export interface VhdGeometry {
  cylinders: number;
  heads: number;
  sectorsPerTrack: number;
}

export interface VhdFooter {
  features: number;
  version: number;
  /** Seconds since 2000-01-01 00:00 UTC. */
  timestamp: number;
  creatorApp: string;
  creatorVersion: number;
  creatorHostOs: string;
  originalSize: number;
  currentSize: number;
  geometry: VhdGeometry;
  diskType: number;
  checksum: number;
  /** 16 bytes, as hex. */
  uniqueId: string;
  savedState: number;
}

/**
 * The CHS geometry the specification's appendix computes for a disk of `bytes`: legacy firmware
 * reads it, and Hyper-V checks it matches the size. Sizes past what CHS can say get its maximum.
 */
export function vhdGeometry(bytes: number): VhdGeometry {
  const totalSectors = Math.min(Math.floor(bytes / SECTOR), 65535 * 16 * 255);
  let sectorsPerTrack: number;
  let heads: number;
  let cylinderTimesHeads: number;
  if (totalSectors >= 65535 * 16 * 63) {
    sectorsPerTrack = 255;
    heads = 16;
    cylinderTimesHeads = Math.floor(totalSectors / sectorsPerTrack);
  } else {
    sectorsPerTrack = 17;
    cylinderTimesHeads = Math.floor(totalSectors / sectorsPerTrack);
    heads = Math.max(4, Math.floor((cylinderTimesHeads + 1023) / 1024));
    if (cylinderTimesHeads >= heads * 1024 || heads > 16) {
      sectorsPerTrack = 31;
      heads = 16;
      cylinderTimesHeads = Math.floor(totalSectors / sectorsPerTrack);
    }
    if (cylinderTimesHeads >= heads * 1024) {
      sectorsPerTrack = 63;
      heads = 16;
      cylinderTimesHeads = Math.floor(totalSectors / sectorsPerTrack);
    }
  }
  return { cylinders: Math.floor(cylinderTimesHeads / heads), heads, sectorsPerTrack };
}

/** The one's complement of the byte sum of the footer, its checksum field counted as zero. */
export function vhdChecksum(footer: Buffer): number {
  let sum = 0;
  for (let i = 0; i < VHD_FOOTER_BYTES; i++) {
    if (i >= AT.checksum && i < AT.checksum + 4) continue;
    sum = (sum + footer[i]!) >>> 0;
  }
  return ~sum >>> 0;
}

/**
 * The footer of a fixed VHD whose data part is `diskBytes` long. Timestamp and unique id are
 * given, not taken from the clock or a random source, so the same disk always makes the same file.
 */
export function fixedVhdFooter(diskBytes: number, uniqueId: Buffer, timestamp = 0): Buffer {
  if (diskBytes <= 0 || diskBytes % MiB !== 0) throw new RangeError(`a VHD for Azure holds a whole number of MiB, not ${diskBytes} bytes`);
  if (uniqueId.length !== 16) throw new RangeError('a VHD unique id is 16 bytes');
  const f = Buffer.alloc(VHD_FOOTER_BYTES);
  f.write(COOKIE, AT.cookie, 'latin1');
  f.writeUInt32BE(FEATURES, AT.features);
  f.writeUInt32BE(FORMAT_VERSION, AT.version);
  f.writeBigUInt64BE(FIXED_DATA_OFFSET, AT.dataOffset);
  f.writeUInt32BE(timestamp, AT.timestamp);
  f.write(CREATOR_APP, AT.creatorApp, 'latin1');
  f.writeUInt32BE(CREATOR_VERSION, AT.creatorVersion);
  f.write(CREATOR_HOST_OS, AT.creatorHostOs, 'latin1');
  f.writeBigUInt64BE(BigInt(diskBytes), AT.originalSize);
  f.writeBigUInt64BE(BigInt(diskBytes), AT.currentSize);
  const g = vhdGeometry(diskBytes);
  f.writeUInt16BE(g.cylinders, AT.cylinders);
  f.writeUInt8(g.heads, AT.heads);
  f.writeUInt8(g.sectorsPerTrack, AT.sectorsPerTrack);
  f.writeUInt32BE(DISK_TYPE_FIXED, AT.diskType);
  uniqueId.copy(f, AT.uniqueId);
  f.writeUInt8(0, AT.savedState);
  f.writeUInt32BE(vhdChecksum(f), AT.checksum);
  return f;
}

/**
 * Reads a footer and checks everything Azure's import relies on, for a file of `fileBytes`: the
 * cookie, a fixed disk, the checksum, a size that is the file less its footer and a whole number of
 * MiB, the geometry the specification computes for that size. Each problem is named.
 */
export function parseFixedVhdFooter(footer: Buffer, fileBytes: number, what = 'the file'): VhdFooter {
  const refuse = (why: string) => new UsageError(`${what} is not a fixed VHD Azure can import: ${why}`,
    'package the raw disk with packageForAzure, or `qemu-img convert -f raw -O vpc -o subformat=fixed,force_size=on disk.raw disk.vhd` after growing it to a whole MiB');
  if (fileBytes < VHD_FOOTER_BYTES + MiB || footer.length !== VHD_FOOTER_BYTES) throw refuse(`it is ${fileBytes} bytes, too short for a disk and a footer`);
  const cookie = footer.toString('latin1', AT.cookie, AT.cookie + 8);
  if (cookie !== COOKIE) throw refuse(`its last 512 bytes do not start with the cookie '${COOKIE}' (found ${JSON.stringify(cookie)})`);
  const checksum = footer.readUInt32BE(AT.checksum);
  const expected = vhdChecksum(footer);
  if (checksum !== expected) throw refuse(`its footer checksum is 0x${hex32(checksum)}, the footer's bytes sum to 0x${hex32(expected)}`);
  const version = footer.readUInt32BE(AT.version);
  if (version !== FORMAT_VERSION) throw refuse(`its file format version is 0x${hex32(version)}, not 0x${hex32(FORMAT_VERSION)}`);
  const diskType = footer.readUInt32BE(AT.diskType);
  if (diskType !== DISK_TYPE_FIXED) throw refuse(`its disk type is ${diskType} (${diskType === 3 ? 'dynamic' : diskType === 4 ? 'differencing' : 'unknown'}), not ${DISK_TYPE_FIXED} (fixed)`);
  const dataOffset = footer.readBigUInt64BE(AT.dataOffset);
  if (dataOffset !== FIXED_DATA_OFFSET) throw refuse(`its data offset is 0x${dataOffset.toString(16)}, a fixed disk's is all ones`);
  const currentSize = Number(footer.readBigUInt64BE(AT.currentSize));
  if (currentSize !== fileBytes - VHD_FOOTER_BYTES) throw refuse(`its footer says the disk is ${currentSize} bytes, and the data before the footer is ${fileBytes - VHD_FOOTER_BYTES}`);
  if (currentSize % MiB !== 0) throw refuse(`its size, ${currentSize} bytes, is not a whole number of MiB`);
  const geometry = { cylinders: footer.readUInt16BE(AT.cylinders), heads: footer.readUInt8(AT.heads), sectorsPerTrack: footer.readUInt8(AT.sectorsPerTrack) };
  const want = vhdGeometry(currentSize);
  if (geometry.cylinders !== want.cylinders || geometry.heads !== want.heads || geometry.sectorsPerTrack !== want.sectorsPerTrack) {
    throw refuse(`its geometry is ${chs(geometry)}, and the specification's for ${currentSize} bytes is ${chs(want)}`);
  }
  return {
    features: footer.readUInt32BE(AT.features),
    version,
    timestamp: footer.readUInt32BE(AT.timestamp),
    creatorApp: footer.toString('latin1', AT.creatorApp, AT.creatorApp + 4),
    creatorVersion: footer.readUInt32BE(AT.creatorVersion),
    creatorHostOs: footer.toString('latin1', AT.creatorHostOs, AT.creatorHostOs + 4),
    originalSize: Number(footer.readBigUInt64BE(AT.originalSize)),
    currentSize,
    geometry,
    diskType,
    checksum,
    uniqueId: footer.toString('hex', AT.uniqueId, AT.uniqueId + 16),
    savedState: footer.readUInt8(AT.savedState),
  };
}

/** The footer of the fixed VHD at `path`, verified (see parseFixedVhdFooter). */
export async function readVhdFooter(path: string): Promise<VhdFooter> {
  const { size } = await stat(path);
  const footer = Buffer.alloc(VHD_FOOTER_BYTES);
  const file = await open(path, 'r');
  try {
    if (size >= VHD_FOOTER_BYTES) await file.read(footer, 0, VHD_FOOTER_BYTES, size - VHD_FOOTER_BYTES);
  } finally {
    await file.close();
  }
  return parseFixedVhdFooter(footer, size, path);
}

const hex32 = (n: number) => n.toString(16).padStart(8, '0');
const chs = (g: VhdGeometry) => `C/H/S ${g.cylinders}/${g.heads}/${g.sectorsPerTrack}`;
