import { open } from 'node:fs/promises';
import { resolve } from 'node:path';
import { UsageError } from '../../src/core/errors.js';
import type { Progress } from '../../src/core/progress.js';
import type { TargetDef } from '../../src/core/target.js';
import type { ResolvedBoot } from '../resolve-boot.js';
import { buildDisk } from './build-disk.js';
import { detectImageKind } from './image-kind.js';

export interface CloudDisk {
  /** A raw GPT disk with an EFI system partition: what a cloud instance boots under UEFI. */
  path: string;
  /** The kernel command line its bootloader passes ('' when a user's disk does not state it). */
  cmdline: string;
  /** `built` around the target's kernel by buildDisk; `user` for the target's own image, used as it is. */
  source: 'built' | 'user';
}

/** A GPT's primary header is at LBA 1; clouds present 512-byte logical sectors. */
const GPT_HEADER_AT = 512;
const GPT_SIGNATURE = 'EFI PART';

/**
 * The raw disk a cloud target boots. The target's own image (`image`) is used as it is, once it is
 * known to be a raw GPT disk: clouds import disks, not ISOs, and boot them under UEFI, which needs a
 * GPT. It is only ever read (packaging copies it). Otherwise the target's resolved kernel and
 * initramfs go on a disk buildDisk makes, with the target's `append`; tsuite's fixture kernel, a
 * multiboot ELF, goes through GRUB's `multiboot`.
 */
export async function cloudDisk(def: TargetDef, resolved: ResolvedBoot, progress: Progress): Promise<CloudDisk> {
  if (def.image) {
    const path = resolved.boot.image ?? resolve(def.image);
    await requireRawGpt(path);
    return { path, cmdline: def.imageCmdline ?? '', source: 'user' };
  }
  const { boot } = resolved;
  if (!boot.kernel) {
    throw new UsageError('a cloud instance boots one disk, and this target boots from its machine drives',
      'give the target a kernel (and initrd) to put on a disk, or an image: a raw GPT disk with an EFI system partition');
  }
  if (boot.rootfs) {
    throw new UsageError('a cloud disk holds a kernel and an initramfs only, and this target boots a separate root filesystem',
      'boot it with an initramfs (initrd: tsuite), or give the target an image: a raw GPT disk holding your root filesystem');
  }
  if (def.arch !== 'x86_64') {
    throw new UsageError(`tsuite builds cloud disks for x86_64 only (GRUB x86_64-efi), and this target is ${def.arch}`,
      'give the target an image: a raw GPT disk with an EFI system partition for its arch');
  }
  const loader = def.kernel === 'fixture' && !def.kernelSrc ? 'multiboot' : 'linux';
  const built = await buildDisk({ kernel: boot.kernel, initrd: boot.initrd, append: def.append, loader }, progress);
  return { path: built.path, cmdline: built.cmdline, source: 'built' };
}

/** Refuses anything but a raw disk whose first sector after the MBR is a GPT header. */
export async function requireRawGpt(path: string): Promise<void> {
  const kind = await detectImageKind(path); // refuses qcow2, VMDK, VHDX with the conversion to run
  if (kind === 'iso') {
    throw new UsageError(`${path} is an ISO; cloud providers import disks, not installer media`,
      'install it onto a raw GPT disk with an EFI system partition and give that as image, or drop image to let tsuite build the disk');
  }
  const header = Buffer.alloc(GPT_SIGNATURE.length);
  const file = await open(path, 'r');
  try {
    await file.read(header, 0, header.length, GPT_HEADER_AT);
  } finally {
    await file.close();
  }
  if (header.toString('latin1') !== GPT_SIGNATURE) {
    throw new UsageError(`${path} has no GPT (no '${GPT_SIGNATURE}' header at LBA 1): an MBR disk boots only under BIOS, and cloud instances boot UEFI`,
      `convert a copy to GPT with an EFI system partition (\`sgdisk --mbrtogpt\`, then add an ESP with a UEFI bootloader), or drop image to let tsuite build the disk`);
  }
}
