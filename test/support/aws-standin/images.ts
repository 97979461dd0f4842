import { ec2Fail, newId, type Tag } from './ec2-wire.js';
import type { SnapshotStore } from './snapshots.js';

export interface ImageRecord {
  id: string;
  name: string;
  description?: string;
  architecture: 'x86_64' | 'arm64' | 'i386';
  bootMode?: 'uefi' | 'legacy-bios' | 'uefi-preferred';
  enaSupport: boolean;
  rootDeviceName: string;
  virtualizationType: string;
  /** The root device's snapshot and what the mapping said about it. */
  blockDevices: { deviceName: string; snapshotId?: string; volumeSize?: number; volumeType: string; deleteOnTermination: boolean }[];
  state: 'pending' | 'available';
  creationDate: string;
  tags: Tag[];
}

/**
 * RegisterImage from an EBS snapshot (no ImageLocation: S3-backed AMIs are not modelled).
 * Checks what EC2 checks for this form: a unique name of 3-128 allowed characters, a known
 * architecture and boot mode, a root device named in the block device mappings, and each mapped
 * snapshot existing. The image is `pending` for `stepMs`, then `available`.
 */
export class ImageStore {
  readonly images = new Map<string, ImageRecord>();

  constructor(private readonly snapshots: SnapshotStore, private readonly stepMs: number) {}

  register(req: Omit<ImageRecord, 'id' | 'state' | 'creationDate'>): ImageRecord {
    if (!/^[A-Za-z0-9()[\]./\-'@_ ]{3,128}$/.test(req.name)) {
      ec2Fail(400, 'InvalidAMIName.Malformed', `AMI names must be between 3 and 128 characters long, and may contain letters, numbers, '(', ')', '.', '-', '/' and '_'`);
    }
    const taken = [...this.images.values()].find((i) => i.name === req.name);
    if (taken) ec2Fail(400, 'InvalidAMIName.Duplicate', `AMI name ${req.name} is already in use by AMI ${taken.id}`);
    if (!['x86_64', 'arm64', 'i386'].includes(req.architecture)) {
      ec2Fail(400, 'InvalidParameterValue', `Value (${req.architecture}) for parameter architecture is invalid. Valid values: i386, x86_64, arm64`);
    }
    if (req.bootMode && !['uefi', 'legacy-bios', 'uefi-preferred'].includes(req.bootMode)) {
      ec2Fail(400, 'InvalidParameterValue', `Value (${req.bootMode}) for parameter bootMode is invalid. Valid values: legacy-bios, uefi, uefi-preferred`);
    }
    if (req.blockDevices.length === 0) ec2Fail(400, 'InvalidBlockDeviceMapping', 'An EBS-backed AMI needs at least one block device mapping.');
    if (!req.blockDevices.some((b) => b.deviceName === req.rootDeviceName)) {
      ec2Fail(400, 'InvalidBlockDeviceMapping', `The root device name ${req.rootDeviceName} is not in the block device mapping.`);
    }
    for (const b of req.blockDevices) if (b.snapshotId) this.snapshots.get(b.snapshotId);
    const image: ImageRecord = { ...req, id: newId('ami'), state: 'pending', creationDate: new Date().toISOString() };
    this.images.set(image.id, image);
    setTimeout(() => {
      if (this.images.get(image.id) === image) image.state = 'available';
    }, this.stepMs).unref();
    return image;
  }

  get(id: string): ImageRecord {
    const i = this.images.get(id);
    if (!i) ec2Fail(400, id.startsWith('ami-') ? 'InvalidAMIID.NotFound' : 'InvalidAMIID.Malformed', `The image id '[${id}]' does not exist`);
    return i!;
  }

  /** The image still using a snapshot (DeleteSnapshot is refused while one is registered). */
  userOf(snapshotId: string): ImageRecord | undefined {
    return [...this.images.values()].find((i) => i.blockDevices.some((b) => b.snapshotId === snapshotId));
  }

  rootSnapshot(image: ImageRecord): string {
    const root = image.blockDevices.find((b) => b.deviceName === image.rootDeviceName);
    if (!root?.snapshotId) ec2Fail(400, 'InvalidBlockDeviceMapping', `The image ${image.id} has no snapshot for its root device.`);
    return root!.snapshotId!;
  }
}
