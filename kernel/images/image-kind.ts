import { open } from 'node:fs/promises';
import { UsageError } from '../../src/core/errors.js';
import type { ImageKind } from '../../src/core/runner.js';

/** ISO 9660: the primary volume descriptor at sector 16 starts with type 1 then `CD001`. */
const ISO9660_MAGIC_AT = 0x8001;
/** Container formats QEMU would need told apart from raw; tsuite boots raw disks only. */
const CONTAINERS: readonly { magic: string; name: string }[] = [
  { magic: 'QFI\xfb', name: 'qcow2' },
  { magic: 'KDMV', name: 'VMDK' },
  { magic: 'vhdxfile', name: 'VHDX' },
];

/**
 * What a boot image is, by its content rather than its name: an ISO 9660 CD-ROM (hybrid ISOs
 * included, though they also carry a partition table) or a raw disk. Disk container formats are
 * refused with the conversion to run, since booting one as raw would only show firmware errors.
 */
export async function detectImageKind(path: string): Promise<ImageKind> {
  const head = Buffer.alloc(ISO9660_MAGIC_AT + 5);
  const file = await open(path, 'r');
  let bytes: number;
  try {
    bytes = (await file.read(head, 0, head.length, 0)).bytesRead;
  } finally {
    await file.close();
  }
  if (bytes < 512) throw new UsageError(`${path} is not a bootable image (${bytes} bytes)`, 'pass an ISO or a raw disk image to --image');
  if (bytes === head.length && head.toString('latin1', ISO9660_MAGIC_AT) === 'CD001') return 'iso';
  const container = CONTAINERS.find((c) => head.toString('latin1', 0, c.magic.length) === c.magic);
  if (container) {
    throw new UsageError(`${path} is a ${container.name} image; tsuite boots ISOs and raw disk images`,
      `convert it first: qemu-img convert -O raw ${path} disk.raw`);
  }
  return 'raw';
}
