import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { startQemu, type QemuMachine } from '../cloud-standin/instance-qemu.js';
import { ConsoleOutput } from './console-output.js';
import { ec2Fail, newId, type Tag } from './ec2-wire.js';
import type { FaultSwitch } from './faults.js';
import type { ImageRecord, ImageStore } from './images.js';
import type { SnapshotStore } from './snapshots.js';

export const STATE_CODES = { pending: 0, running: 16, 'shutting-down': 32, terminated: 48, stopping: 64, stopped: 80 } as const;
export type InstanceStateName = keyof typeof STATE_CODES;

export interface VolumeRecord {
  id: string;
  size: number;
  snapshotId: string;
  availabilityZone: string;
  state: 'creating' | 'in-use' | 'available';
  createTime: Date;
  tags: Tag[];
  attachment?: { instanceId: string; device: string; deleteOnTermination: boolean; attachTime: Date };
}

export interface InstanceRecord {
  id: string;
  reservationId: string;
  imageId: string;
  instanceType: string;
  architecture: string;
  bootMode?: string;
  subnetId: string;
  vpcId: string;
  privateIp: string;
  securityGroupIds: string[];
  launchTime: Date;
  state: InstanceStateName;
  stateReason?: { code: string; message: string };
  transitionReason: string;
  shutdownBehavior: 'stop' | 'terminate';
  rootDeviceName: string;
  volumeId: string;
  tags: Tag[];
  metadataOptions: { httpTokens: string; httpEndpoint: string; httpPutResponseHopLimit: number; instanceMetadataTags: string };
  availabilityZone: string;
  dir: string;
  console: ConsoleOutput;
  machine?: QemuMachine;
}

export interface LaunchRequest {
  imageId: string;
  instanceType: string;
  subnetId: string;
  securityGroupIds: string[];
  shutdownBehavior: 'stop' | 'terminate';
  instanceTags: Tag[];
  volumeTags: Tag[];
  metadataOptions: Partial<InstanceRecord['metadataOptions']>;
}

export interface InstanceOptions {
  dir: string;
  memoryMb: number;
  ownerTag: string;
  availabilityZone: string;
  subnet: { id: string; vpcId: string; cidr: string; gateway: string };
  stepMs: number;
  consolePostMs: number;
  postedWindow: 'head' | 'tail';
}

/** Graviton families (a `g` after the generation digit: t4g, m7g, c7gn) are arm64; the rest x86_64. */
export const instanceArchitecture = (type: string) => (/^[a-z]+\d+g/.test(type) ? 'arm64' : 'x86_64');

/**
 * EC2 instances on real machines, with their root volumes. RunInstances answers `pending`; the
 * root volume is made from the image's root snapshot (tagged from the `volume` tag
 * specification); QEMU boots the snapshot's raw disk (UEFI when the image's boot mode is uefi or
 * uefi-preferred) with the instance's private address as its DHCP lease, and the instance is
 * `running` once QEMU is up. The console is posted `consolePostMs` after that and at each later
 * state change. TerminateInstances goes `shutting-down`, stops QEMU, then `terminated`; the root
 * volume goes with it when DeleteOnTermination. A guest that powers off on its own ends `stopped`
 * (StateReason Client.InstanceInitiatedShutdown), or `terminated` when the instance was launched
 * with InstanceInitiatedShutdownBehavior=terminate. Terminated instances stay describable.
 */
export class InstanceStore {
  readonly instances = new Map<string, InstanceRecord>();
  readonly volumes = new Map<string, VolumeRecord>();
  private nextHost = 10;
  private closing = false;

  constructor(
    private readonly images: ImageStore,
    private readonly snapshots: SnapshotStore,
    private readonly faults: FaultSwitch,
    private readonly opts: InstanceOptions,
  ) {}

  /** Every instance's guest memory, whatever its type (types' real sizes are not modelled). */
  get memoryMb(): number {
    return this.opts.memoryMb;
  }

  launch(req: LaunchRequest): InstanceRecord {
    const image = this.images.get(req.imageId);
    if (image.state !== 'available') ec2Fail(400, 'InvalidAMIID.Unavailable', `The image id '[${image.id}]' is not available`);
    const arch = instanceArchitecture(req.instanceType);
    if (arch !== image.architecture) {
      ec2Fail(400, 'InvalidParameterValue', `The architecture '${arch}' of the specified instance type does not match the architecture '${image.architecture}' of the specified AMI. Specify an instance type and an AMI that have matching architectures, and try again.`);
    }
    if (arch !== 'x86_64') ec2Fail(400, 'Unsupported', 'The stand-in boots x86_64 instances only.');
    if (req.subnetId !== this.opts.subnet.id) ec2Fail(400, 'InvalidSubnetID.NotFound', `The subnet ID '${req.subnetId}' does not exist`);
    const quota = this.faults.take('quota');
    if (quota) {
      const code = quota.code ?? 'VcpuLimitExceeded';
      ec2Fail(quota.status ?? 400, code, quota.message ?? (code === 'InstanceLimitExceeded'
        ? `You have requested more instances (1) than your current instance limit of 0 allows for the specified instance type. Please visit http://aws.amazon.com/contact-us/ec2-request to request an adjustment to this limit.`
        : 'You have requested more vCPU capacity than your current vCPU limit of 0 allows for the instance bucket that the specified instance type belongs to. Please visit http://aws.amazon.com/contact-us/ec2-request to request an adjustment to this limit.'));
    }
    const capacity = this.faults.take('launch');
    if (capacity) {
      ec2Fail(capacity.status ?? 500, capacity.code ?? 'InsufficientInstanceCapacity', capacity.message ?? `We currently do not have sufficient ${req.instanceType} capacity in the Availability Zone you requested (${this.opts.availabilityZone}). Our system will be working on provisioning additional capacity. You can currently get ${req.instanceType} capacity by not specifying an Availability Zone in your request or choosing a different Availability Zone.`);
    }
    const snapshotId = this.images.rootSnapshot(image);
    const snapshot = this.snapshots.get(snapshotId);
    const root = image.blockDevices.find((b) => b.deviceName === image.rootDeviceName)!;
    const id = newId('i');
    const dir = join(this.opts.dir, id);
    const now = new Date();
    const volume: VolumeRecord = {
      id: newId('vol'),
      size: Math.max(root.volumeSize ?? 0, snapshot.volumeSize),
      snapshotId,
      availabilityZone: this.opts.availabilityZone,
      state: 'creating',
      createTime: now,
      tags: req.volumeTags,
      attachment: { instanceId: id, device: image.rootDeviceName, deleteOnTermination: root.deleteOnTermination, attachTime: now },
    };
    this.volumes.set(volume.id, volume);
    const record: InstanceRecord = {
      id,
      reservationId: newId('r'),
      imageId: image.id,
      instanceType: req.instanceType,
      architecture: image.architecture,
      bootMode: image.bootMode,
      subnetId: req.subnetId,
      vpcId: this.opts.subnet.vpcId,
      privateIp: this.nextAddress(),
      securityGroupIds: req.securityGroupIds,
      launchTime: now,
      state: 'pending',
      transitionReason: '',
      shutdownBehavior: req.shutdownBehavior,
      rootDeviceName: image.rootDeviceName,
      volumeId: volume.id,
      tags: req.instanceTags,
      metadataOptions: { httpTokens: 'optional', httpEndpoint: 'enabled', httpPutResponseHopLimit: 1, instanceMetadataTags: 'disabled', ...req.metadataOptions },
      availabilityZone: this.opts.availabilityZone,
      dir,
      console: new ConsoleOutput(join(dir, 'serial.log'), this.opts.postedWindow),
    };
    this.instances.set(id, record);
    if (!this.faults.take('launch-timeout')) void this.boot(record, image, snapshot.disk, volume);
    return record;
  }

  private async boot(record: InstanceRecord, image: ImageRecord, disk: string, volume: VolumeRecord): Promise<void> {
    await sleep(this.opts.stepMs);
    if (!this.bootable(record)) return;
    volume.state = 'in-use';
    try {
      await mkdir(record.dir, { recursive: true });
      record.machine = await startQemu({
        dir: record.dir,
        disk,
        diskFormat: 'raw',
        uefi: image.bootMode === 'uefi' || image.bootMode === 'uefi-preferred',
        memoryMb: this.opts.memoryMb,
        networkIP: record.privateIp,
        subnet: { cidr: this.opts.subnet.cidr, gateway: this.opts.subnet.gateway },
        tag: `${this.opts.ownerTag}-${record.id}`,
      });
    } catch (err) {
      // EC2 shows a launch that failed after acceptance as a terminated instance with a reason.
      record.stateReason = { code: 'Server.InternalError', message: `Server.InternalError: Internal error on launch (${(err as Error).message})` };
      return this.finish(record, 'terminated');
    }
    if (!this.bootable(record)) {
      await record.machine.kill(); // terminated (or closed) while QEMU was starting
      return;
    }
    record.state = 'running';
    setTimeout(() => {
      if (record.state === 'running') void record.console.post();
    }, this.opts.consolePostMs).unref();
    void record.machine.exited.then(() => this.poweredOff(record));
  }

  /** QEMU ended while the instance was running: the guest shut itself down. */
  private async poweredOff(record: InstanceRecord): Promise<void> {
    if (record.state !== 'running' || this.closing) return;
    record.stateReason = { code: 'Client.InstanceInitiatedShutdown', message: 'Client.InstanceInitiatedShutdown: Instance initiated shutdown' };
    record.transitionReason = `User initiated shutdown (${new Date().toISOString()})`;
    if (record.shutdownBehavior === 'terminate') {
      record.state = 'shutting-down';
      await sleep(this.opts.stepMs);
      return this.finish(record, 'terminated');
    }
    record.state = 'stopping';
    await sleep(this.opts.stepMs);
    await record.console.post();
    record.state = 'stopped';
  }

  /** TerminateInstances for one instance: the previous state, and the work started. */
  terminate(id: string, stuck: boolean): { previous: InstanceStateName; record: InstanceRecord } {
    const record = this.get(id);
    const previous = record.state;
    if (previous === 'terminated' || previous === 'shutting-down') return { previous, record };
    record.state = 'shutting-down';
    record.transitionReason = `User initiated (${new Date().toISOString()})`;
    record.stateReason = { code: 'Client.UserInitiatedShutdown', message: 'Client.UserInitiatedShutdown: User initiated shutdown' };
    void (async () => {
      await record.machine?.kill();
      if (stuck) return;
      await sleep(this.opts.stepMs);
      await this.finish(record, 'terminated');
    })();
    return { previous, record };
  }

  private async finish(record: InstanceRecord, state: 'terminated'): Promise<void> {
    await record.console.post().catch(() => undefined);
    record.state = state;
    const volume = this.volumes.get(record.volumeId);
    if (volume?.attachment?.deleteOnTermination) this.volumes.delete(volume.id);
    else if (volume) Object.assign(volume, { state: 'available', attachment: undefined });
  }

  get(id: string): InstanceRecord {
    const r = this.instances.get(id);
    if (!r) ec2Fail(400, id.startsWith('i-') ? 'InvalidInstanceID.NotFound' : 'InvalidInstanceID.Malformed', `The instance ID '${id}' does not exist`);
    return r!;
  }

  async killAll(): Promise<void> {
    this.closing = true;
    await Promise.all([...this.instances.values()].map((r) => r.machine?.kill()));
  }

  private bootable(record: InstanceRecord): boolean {
    return !this.closing && record.state === 'pending';
  }

  private nextAddress(): string {
    const [a, b, c] = this.opts.subnet.gateway.split('.');
    const n = this.nextHost++;
    return `${a}.${b}.${Number(c) + Math.floor(n / 256)}.${n % 256}`;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
