import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ec2Fail, newId, type Tag } from './ec2-wire.js';
import type { FaultSwitch } from './faults.js';

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

export interface ImportTask {
  id: string;
  description?: string;
  bucket: string;
  key: string;
  format: string;
  status: 'active' | 'completed' | 'deleting' | 'deleted';
  statusMessage?: string;
  progress?: string;
  snapshotId?: string;
  diskImageSize?: number;
  /** The sha256 of the object's bytes as the import read them (stand-in only, not on the wire). */
  sha256?: string;
  tags: Tag[];
}

export interface SnapshotRecord {
  id: string;
  description: string;
  /** The raw disk the snapshot holds: QEMU opens it with snapshot=on, never writing it. */
  disk: string;
  bytes: number;
  volumeSize: number;
  startTime: Date;
  tags: Tag[];
}

/** How an import reads the object it names: copies its bytes into `file` (resolving to their sha256), or says why it cannot. */
export type ObjectReader = (bucket: string, key: string, file: string) => Promise<string>;

/**
 * ImportSnapshot and the snapshots it makes. A task is `active` (progress moving through
 * "pending", "downloading/converting") for `importMs`, then either `completed` with the new
 * snapshot's id or `deleted` with a `ClientError: ...` status message, as VM Import reports a
 * rejected disk. The object is read through S3 itself (the stand-in's s3rver), so what the import
 * sees is exactly what was uploaded. Format RAW must be a real raw disk: not empty and a whole
 * number of MiB (what EC2 can turn into a volume); VMDK, VHD and VHDX are accepted as names but
 * only RAW is converted here (anything else ends `deleted`). The snapshot carries the task's tags.
 */
export class SnapshotStore {
  readonly tasks = new Map<string, ImportTask>();
  readonly snapshots = new Map<string, SnapshotRecord>();

  constructor(
    private readonly dir: string,
    private readonly readObject: ObjectReader,
    private readonly faults: FaultSwitch,
    private readonly importMs: number,
  ) {}

  startImport(req: { description?: string; format?: string; bucket?: string; key?: string; url?: string; tags: Tag[] }): ImportTask {
    if (req.url !== undefined) ec2Fail(400, 'InvalidParameter', 'The stand-in imports from DiskContainer.UserBucket only, not DiskContainer.Url.');
    if (!req.bucket || !req.key) ec2Fail(400, 'InvalidParameter', 'DiskContainer.UserBucket.S3Bucket and DiskContainer.UserBucket.S3Key are required.');
    const format = (req.format ?? '').toUpperCase();
    if (!['RAW', 'VMDK', 'VHD', 'VHDX'].includes(format)) {
      ec2Fail(400, 'InvalidParameter', `Invalid disk format '${req.format ?? ''}'. Valid values: VMDK, RAW, VHD, VHDX.`);
    }
    const task: ImportTask = {
      id: newId('import-snap'),
      description: req.description,
      bucket: req.bucket!,
      key: req.key!,
      format,
      status: 'active',
      statusMessage: 'pending',
      progress: '0',
      tags: req.tags,
    };
    this.tasks.set(task.id, task);
    const hang = this.faults.take('operation-hang');
    if (!hang) void this.run(task);
    return task;
  }

  private async run(task: ImportTask): Promise<void> {
    await sleep(this.importMs / 3);
    if (task.status !== 'active') return; // cancelled
    Object.assign(task, { statusMessage: 'downloading/converting', progress: '19' });
    const id = newId('snap');
    const disk = join(this.dir, `${id}.raw`);
    const failWith = async (message: string) => {
      await rm(disk, { force: true });
      Object.assign(task, { status: 'deleting', statusMessage: message, progress: undefined });
      await sleep(this.importMs / 3);
      task.status = 'deleted';
    };
    try {
      await mkdir(this.dir, { recursive: true });
      task.sha256 = await this.readObject(task.bucket, task.key, disk);
    } catch (err) {
      if (task.status !== 'active') return; // cancelled meanwhile
      return failWith(`ClientError: Unable to read the disk image from s3://${task.bucket}/${task.key}: ${(err as Error).message}`);
    }
    const bytes = (await stat(disk)).size;
    task.diskImageSize = bytes;
    await sleep(this.importMs / 3);
    // A task cancelled while it read the object makes no snapshot.
    if (task.status !== 'active') return void (await rm(disk, { force: true }));
    Object.assign(task, { progress: '68' });
    const fault = this.faults.take('import-snapshot');
    if (fault) return failWith(fault.message ?? 'ClientError: Disk validation failed [Invalid disk image: the stand-in was told to reject it]');
    if (task.format !== 'RAW') return failWith(`ClientError: Disk validation failed [Unsupported ${task.format} format: the stand-in converts RAW only]`);
    if (bytes === 0) return failWith('ClientError: Disk validation failed [Disk image is empty]');
    if (bytes % MiB !== 0) return failWith(`ClientError: Disk validation failed [Invalid RAW disk: ${bytes} bytes is not a whole number of MiB]`);
    const snapshot: SnapshotRecord = {
      id,
      description: task.description ?? `Created by AWS-VMImport service for ${task.id}`,
      disk,
      bytes,
      volumeSize: Math.max(1, Math.ceil(bytes / GiB)),
      startTime: new Date(),
      tags: [...task.tags],
    };
    this.snapshots.set(id, snapshot);
    Object.assign(task, { status: 'completed', statusMessage: undefined, progress: undefined, snapshotId: id });
  }

  get(id: string): SnapshotRecord {
    const s = this.snapshots.get(id);
    if (!s) ec2Fail(400, 'InvalidSnapshot.NotFound', `The snapshot '${id}' does not exist.`);
    return s!;
  }

  async delete(id: string): Promise<void> {
    const s = this.get(id);
    this.snapshots.delete(id);
    await rm(s.disk, { force: true });
  }

  /**
   * CancelImportTask: an active task goes `deleting` at once and `deleted` shortly after, with
   * the reason as its status message, and makes no snapshot. A task that is no longer active
   * cannot be cancelled (`IncorrectState`, EC2's common code for a resource in the wrong state).
   */
  cancel(id: string, reason: string | undefined): { previous: ImportTask['status']; task: ImportTask } {
    if (!/^import-snap-[0-9a-f]{17}$/.test(id)) ec2Fail(400, 'InvalidConversionTaskId.Malformed', `The import task ID '${id}' is malformed.`);
    const task = this.tasks.get(id);
    if (!task) ec2Fail(400, 'InvalidConversionTaskId', `The import task ID '${id}' is not valid.`);
    const previous = task!.status;
    if (previous !== 'active') ec2Fail(400, 'IncorrectState', `The import task ${id} is ${previous} and cannot be cancelled.`);
    Object.assign(task!, { status: 'deleting', statusMessage: reason ?? 'ClientError: Task cancelled by the user', progress: undefined });
    setTimeout(() => (task!.status = 'deleted'), Math.max(1, this.importMs / 3)).unref();
    return { previous, task: task! };
  }

  task(id: string): ImportTask {
    const t = this.tasks.get(id);
    if (!t) ec2Fail(400, 'InvalidConversionTaskId.Malformed', `The import task ID '${id}' is not valid.`);
    return t!;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
