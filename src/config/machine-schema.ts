import { z } from 'zod';
import { DRIVE_FORMATS, DRIVE_INTERFACES, DRIVE_MEDIA, IOMMU_KINDS, NIC_MODELS } from '../core/machine.js';

/**
 * The strict shape of a target's `machine` (src/core/machine.ts). What depends on the arch (machine
 * type, which interfaces it has, intel-iommu on q35 only) is checked by machineProblems, called
 * from validateConfig with the target's arch.
 */

const oneOf = <T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: `must be one of: ${values.map((v) => `'${v}'`).join(', ')}` });
const bool = z.boolean({ error: 'must be true or false' });
const text = (what: string) => z.string({ error: `must be ${what}` }).min(1, { error: 'must not be empty' });
const port = z.number({ error: 'must be a port number from 1 to 65535' }).int({ error: 'must be a port number from 1 to 65535' })
  .min(1, { error: 'must be a port number from 1 to 65535' }).max(65_535, { error: 'must be a port number from 1 to 65535' });

export const driveSchema = z.strictObject({
  file: text('a path to a disk image file'),
  interface: oneOf(DRIVE_INTERFACES),
  format: oneOf(DRIVE_FORMATS).optional(),
  media: oneOf(DRIVE_MEDIA).optional(),
  readOnly: bool.optional(),
  writable: bool.optional(),
  bootIndex: z.number({ error: 'must be a whole number from 0 to 99' }).int({ error: 'must be a whole number from 0 to 99' })
    .min(0, { error: 'must be a whole number from 0 to 99' }).max(99, { error: 'must be a whole number from 0 to 99' }).optional(),
});

export const forwardSchema = z.strictObject({
  guest: port,
  host: port.optional(),
  protocol: z.enum(['tcp', 'udp'], { error: "must be 'tcp' or 'udp'" }).optional(),
});

export const nicSchema = z.strictObject({
  model: oneOf(NIC_MODELS),
  forwards: z.array(forwardSchema, { error: 'must be an array of { guest, host?, protocol? }' }).optional(),
});

export const shareSchema = z.strictObject({
  path: text('a path to a host folder'),
  tag: text('a 9p mount tag').max(31, { error: 'must be at most 31 characters (a 9p mount tag)' }),
  readOnly: bool.optional(),
});

export const machineSchema = z.strictObject({
  type: text("a machine type, e.g. 'q35'").optional(),
  drives: z.array(driveSchema, { error: 'must be an array of drives' }).optional(),
  nics: z.array(nicSchema, { error: 'must be an array of NICs' }).optional(),
  shares: z.array(shareSchema, { error: 'must be an array of shares' }).optional(),
  iommu: oneOf(IOMMU_KINDS).optional(),
  devices: z.array(text('a QEMU -device value'), { error: 'must be an array of QEMU -device values' }).optional(),
  hostDevices: z.array(text("a host PCI address, e.g. '0000:01:00.0'"), { error: "must be an array of host PCI addresses, e.g. ['0000:01:00.0']" }).optional(),
  qemuArgs: z.array(z.string({ error: 'must be a string' }), { error: 'must be an array of strings, one QEMU argument each' }).optional(),
});

/** Valid keys per nested object, for "unknown key" fixes: keyed by the field holding the object. */
export const MACHINE_KEYS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  machine: Object.keys(machineSchema.shape),
  drives: Object.keys(driveSchema.shape),
  nics: Object.keys(nicSchema.shape),
  forwards: Object.keys(forwardSchema.shape),
  shares: Object.keys(shareSchema.shape),
});

/** How to fix each machine field (merged into FIELD_FIXES). */
export const MACHINE_FIELD_FIXES: Readonly<Record<string, string>> = Object.freeze({
  machine: "machine: { type: 'q35', drives: [{ file: './disk.img', interface: 'ahci' }], nics: [{ model: 'e1000' }] }",
  type: "machine type per arch: 'pc', 'q35' or 'microvm' on x86_64, 'virt' on aarch64",
  drives: "drives: [{ file: './disk.img', interface: 'ide' }] (interface: ide, ahci, virtio, nvme, scsi, usb, floppy, sd)",
  file: "a disk image path, relative to the config file, e.g. file: './disk.img'",
  interface: "interface: 'ide', 'ahci', 'virtio', 'nvme', 'scsi', 'usb', 'floppy' or 'sd'",
  format: "format: 'raw' (default), 'qcow2', 'vmdk', 'vdi', 'vpc' or 'vhdx'",
  media: "media: 'disk' (default) or 'cdrom'",
  readOnly: 'readOnly: true for a read-only device (drive) or a read-only 9p share',
  writable: "writable: true only to let the guest write your file (default: a throwaway overlay, snapshot=on)",
  bootIndex: 'bootIndex: a whole number, lower boots first, e.g. bootIndex: 0',
  nics: "nics: [{ model: 'e1000', forwards: [{ guest: 22 }] }], or [{ model: 'none' }] for no network",
  model: "model: 'virtio-net', 'e1000', 'e1000e', 'rtl8139', 'ne2k_pci', 'pcnet', 'i82559er', 'vmxnet3' or 'none'",
  forwards: 'forwards: [{ guest: 22 }] (a free host port) or [{ guest: 80, host: 8080, protocol: \'tcp\' }]',
  guest: 'guest: the guest port, e.g. guest: 22',
  protocol: "protocol: 'tcp' (default) or 'udp'",
  shares: "shares: [{ path: './share', tag: 'host0' }] (9p; mount -t 9p -o trans=virtio host0 /mnt in the guest)",
  path: "a host folder, relative to the config file, e.g. path: './share'",
  tag: "a 9p mount tag of at most 31 characters, e.g. tag: 'host0'",
  iommu: "iommu: 'intel-iommu' (q35 only) or 'virtio-iommu'",
  devices: "devices: ['pci-testdev'] (QEMU -device values, verbatim)",
  hostDevices: "hostDevices: ['0000:01:00.0'] (host PCI functions bound to vfio-pci, passed through; `tsuite doctor` shows which are ready)",
  qemuArgs: "qemuArgs: ['-rtc', 'base=utc'] (not the console, monitor, QMP, exit device or what tsuite sets itself)",
});
