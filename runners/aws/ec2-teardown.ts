import { setTimeout as sleep } from 'node:timers/promises';
import {
  CancelImportTaskCommand, DeleteSnapshotCommand, DeregisterImageCommand, DescribeImagesCommand, DescribeSnapshotsCommand,
  TerminateInstancesCommand, paginateDescribeImportSnapshotTasks, type EC2Client, type Filter, type Instance,
} from '@aws-sdk/client-ec2';
import { CloudApiError, type CloudResource } from '../cloud/cloud-provider.js';
import { awsCall, awsError, awsErrorCode, isNotFound } from './aws-errors.js';
import { nameTag } from './ec2-tags.js';
import type { S3Staging } from './s3-staging.js';

/** Between two looks at an import task, an instance's state or a deletion. */
export const POLL_MS = 2_000;

/** What removing tsuite's EC2 and S3 resources needs of the provider that made them. */
export interface Ec2TeardownDeps {
  ec2(): EC2Client;
  staging(): S3Staging;
  region: string;
  bucket: string;
  operationTimeoutMs: number;
  /** The instance id of a name, when this process launched it or the name is an id. */
  knownInstanceId(name: string): string | undefined;
  instanceIdsByName(name: string, anyState: boolean): Promise<string[]>;
  describeInstance(id: string, what: string): Promise<Instance | undefined>;
}

/**
 * Removing what tsuite made on AWS, by tsuite's name: instances (terminated and waited for), images
 * (their import task, AMI and snapshot), snapshots and staged objects; and the `aws` command that
 * does the same by hand, for a deletion that failed for good.
 */
export class Ec2Teardown {
  constructor(private readonly deps: Ec2TeardownDeps) {}

  async delete(resource: Pick<CloudResource, 'kind' | 'name'>, signal?: AbortSignal): Promise<'deleted' | 'absent'> {
    const what = `deleting ${resource.kind} ${resource.name}`;
    try {
      switch (resource.kind) {
        case 'instance':
          return await this.deleteInstance(resource.name, what, signal);
        case 'image':
          return await this.deleteImage(resource.name, what, signal);
        case 'snapshot':
          return (await this.deleteSnapshots(resource.name, what)) ? 'deleted' : 'absent';
        case 'object':
          return await this.deps.staging().delete(resource.name, what);
        default:
          return 'absent';
      }
    } catch (err) {
      if (isNotFound(err)) return 'absent';
      throw awsError(err, what);
    }
  }

  deleteCommand(resource: Pick<CloudResource, 'kind' | 'name'>): string {
    const r = `--region ${this.deps.region}`;
    const byName = (describe: string, query: string, filter: string) =>
      `aws ec2 ${describe} ${r} ${filter} --query '${query}' --output text`;
    switch (resource.kind) {
      case 'instance': {
        const id = this.deps.knownInstanceId(resource.name);
        return id ? `aws ec2 terminate-instances ${r} --instance-ids ${id}`
          : `aws ec2 terminate-instances ${r} --instance-ids $(${byName('describe-instances', 'Reservations[].Instances[].InstanceId', `--filters Name=tag:Name,Values=${resource.name}`)})`;
      }
      case 'image':
        return `aws ec2 deregister-image ${r} --image-id $(${byName('describe-images', 'Images[].ImageId', `--owners self --filters Name=name,Values=${resource.name}`)}); ` +
          `for s in $(${byName('describe-snapshots', 'Snapshots[].SnapshotId', `--owner-ids self --filters Name=tag:Name,Values=${resource.name}`)}); do aws ec2 delete-snapshot ${r} --snapshot-id $s; done`;
      case 'snapshot':
        return resource.name.startsWith('snap-') ? `aws ec2 delete-snapshot ${r} --snapshot-id ${resource.name}`
          : `for s in $(${byName('describe-snapshots', 'Snapshots[].SnapshotId', `--owner-ids self --filters Name=tag:Name,Values=${resource.name}`)}); do aws ec2 delete-snapshot ${r} --snapshot-id $s; done`;
      case 'object':
        return `aws s3 rm s3://${this.deps.bucket}/${resource.name} ${r}`;
      default:
        return `(aws creates no ${resource.kind}s; nothing to delete)`;
    }
  }

  /** Terminates every live instance of that name and waits until each is `terminated`. */
  private async deleteInstance(name: string, what: string, signal?: AbortSignal): Promise<'deleted' | 'absent'> {
    const ids = await this.deps.instanceIdsByName(name, false);
    if (ids.length === 0) return 'absent';
    await awsCall(what, () => this.deps.ec2().send(new TerminateInstancesCommand({ InstanceIds: ids })));
    const deadline = Date.now() + this.deps.operationTimeoutMs;
    for (;;) {
      const states = await Promise.all(ids.map(async (id) => (await this.deps.describeInstance(id, what))?.State?.Name ?? 'terminated'));
      if (states.every((s) => s === 'terminated')) return 'deleted';
      if (Date.now() >= deadline) throw new CloudApiError(`${what}: still ${states.join(', ')} ${this.deps.operationTimeoutMs} ms after TerminateInstances`, undefined, 'DELETE_TIMEOUT');
      await sleep(POLL_MS, undefined, { signal });
    }
  }

  /**
   * An image is its import task, its AMI and its snapshot: a half-made import leaves a task or a
   * snapshot and no AMI, so all three are looked for by name.
   */
  private async deleteImage(name: string, what: string, signal?: AbortSignal): Promise<'deleted' | 'absent'> {
    let deleted = false;
    const active = await this.importTasks(name);
    for (const id of active) {
      await awsCall(`${what} (CancelImportTask ${id})`, () => this.deps.ec2().send(new CancelImportTaskCommand({ ImportTaskId: id, CancelReason: 'tsuite teardown' }))).catch((err: unknown) => {
        // Gone, or it ended between the look and the cancel (a completed one left a snapshot, deleted below by tag).
        if (!isNotFound(err) && awsErrorCode(err) !== 'IncorrectState') throw err;
      });
      deleted = true;
    }
    if (active.length > 0) await this.waitImportsGone(name, what, signal);
    const images = await awsCall(what, () => this.deps.ec2().send(new DescribeImagesCommand({ Owners: ['self'], Filters: [{ Name: 'name', Values: [name] }] })));
    const ownSnapshots: string[] = [];
    for (const img of images.Images ?? []) {
      if (!img.ImageId || img.State === 'deregistered') continue;
      for (const m of img.BlockDeviceMappings ?? []) if (m.Ebs?.SnapshotId) ownSnapshots.push(m.Ebs.SnapshotId);
      await awsCall(`${what} (DeregisterImage ${img.ImageId})`, () => this.deps.ec2().send(new DeregisterImageCommand({ ImageId: img.ImageId })));
      deleted = true;
    }
    if (await this.deleteSnapshots(name, what, ownSnapshots)) deleted = true;
    return deleted ? 'deleted' : 'absent';
  }

  /** Deletes the snapshots tagged with that name (or that id), and any given; whether any was there. */
  private async deleteSnapshots(name: string, what: string, also: readonly string[] = []): Promise<boolean> {
    const filters: Filter[] = name.startsWith('snap-') ? [] : [{ Name: 'tag:Name', Values: [name] }];
    const found = name.startsWith('snap-') ? [name]
      : ((await awsCall(what, () => this.deps.ec2().send(new DescribeSnapshotsCommand({ OwnerIds: ['self'], Filters: filters })))).Snapshots ?? []).map((s) => s.SnapshotId!).filter(Boolean);
    let deleted = false;
    for (const id of new Set([...found, ...also])) {
      try {
        await this.deps.ec2().send(new DeleteSnapshotCommand({ SnapshotId: id }));
        deleted = true;
      } catch (err) {
        if (!isNotFound(err)) throw awsError(err, `${what} (DeleteSnapshot ${id})`);
      }
    }
    return deleted;
  }

  /** The ids of the import tasks of that name still running. */
  private async importTasks(name: string): Promise<string[]> {
    const ids: string[] = [];
    for await (const page of paginateDescribeImportSnapshotTasks({ client: this.deps.ec2() }, {})) {
      for (const task of page.ImportSnapshotTasks ?? []) {
        if (task.ImportTaskId && nameTag(task.Tags) === name && task.SnapshotTaskDetail?.Status === 'active') ids.push(task.ImportTaskId);
      }
    }
    return ids;
  }

  /** After CancelImportTask: waits until none of that name is active (a cancelled one may still leave a snapshot). */
  private async waitImportsGone(name: string, what: string, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + this.deps.operationTimeoutMs;
    while ((await this.importTasks(name)).length > 0) {
      if (Date.now() >= deadline) throw new CloudApiError(`${what}: the import task was cancelled but is still active after ${this.deps.operationTimeoutMs} ms`, undefined, 'DELETE_TIMEOUT');
      await sleep(POLL_MS, undefined, { signal });
    }
  }
}
