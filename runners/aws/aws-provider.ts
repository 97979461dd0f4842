import { setTimeout as sleep } from 'node:timers/promises';
import {
  CreateTagsCommand, DescribeImagesCommand, DescribeImportSnapshotTasksCommand, DescribeInstancesCommand, DescribeInstanceTypesCommand,
  GetConsoleOutputCommand, ImportSnapshotCommand, RegisterImageCommand, RunInstancesCommand,
  paginateDescribeImages, paginateDescribeImportSnapshotTasks, paginateDescribeInstances, paginateDescribeSnapshots,
  type Filter, type Instance,
} from '@aws-sdk/client-ec2';
import { packageForEc2, unpackEc2Package } from '../../kernel/images/ec2-package.js';
import type { CloudPackage } from '../../kernel/images/gce-package.js';
import type { Progress } from '../../src/core/progress.js';
import type { AwsTargetSettings, TargetDef } from '../../src/core/target.js';
import { LABEL_RUN, NAME_PREFIX } from '../cloud/cloud-labels.js';
import { CloudApiError, type CloudInstance, type CloudPlace, type CloudProvider, type CloudResource, type SerialChunk } from '../cloud/cloud-provider.js';
import { awsClients, type AwsClients } from './aws-clients.js';
import { awsCall, awsError, isNotFound, isUnsupported } from './aws-errors.js';
import { ConsoleMerge } from './console-merge.js';
import { labelsOf, nameTag, tags } from './ec2-tags.js';
import { Ec2Teardown, POLL_MS } from './ec2-teardown.js';
import { S3Staging } from './s3-staging.js';
import { redact } from '../cloud/redact.js';

export const AWS_DEFAULT_INSTANCE_TYPE = 't3.small';
const DEFAULT_OPERATION_TIMEOUT_MS = 15 * 60_000;
/** An AMI from a snapshot is usually available within seconds: look more often than at an import. */
const IMAGE_POLL_MS = 500;
/** The instance states in which an instance still exists (and may cost money). */
const LIVE_STATES = ['pending', 'running', 'stopping', 'stopped', 'shutting-down'];
const STOPPED_STATES = new Set(['stopping', 'stopped', 'shutting-down', 'terminated']);
/** The root device of the registered image: EC2's name for the first disk of a UEFI/Nitro machine. */
const ROOT_DEVICE = '/dev/xvda';

/** What to do when a step fails on AWS. */
const AWS_FIXES = {
  credentials: 'give the AWS SDK credentials through its default chain: AWS_PROFILE (or `aws configure sso` then `aws sso login`), or in CI an OIDC role through AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN (what the nightly workflow does with GitHub\'s OIDC token; see "Cloud targets" in the README)',
  sweep: 'check that the credentials may describe and delete instances, images and snapshots (ec2:Describe*, ec2:TerminateInstances, ec2:DeregisterImage, ec2:DeleteSnapshot) and list and delete objects in the bucket',
  upload: 'check the bucket exists in the region and the credentials may put objects in it (s3:PutObject, s3:AbortMultipartUpload); then run again',
  import: "ImportSnapshot needs the `vmimport` service role, trusted by vmie.amazonaws.com, with s3:GetObject and s3:ListBucket on the bucket (AWS's VM Import/Export guide); the credentials need ec2:ImportSnapshot, ec2:RegisterImage and ec2:CreateTags",
  launch: "check the region's vCPU quota (InstanceLimitExceeded / VcpuLimitExceeded: Service Quotas, EC2 On-Demand instances), that the instance type is offered in the subnet's availability zone, and that the credentials may ec2:RunInstances and ec2:CreateTags",
  console: 'the console could not be read: check ec2:GetConsoleOutput is allowed; the console read so far is in console.log',
} as const;

/**
 * Amazon EC2 through the official AWS SDK v3: the raw disk staged in S3 (multipart), imported with
 * ImportSnapshot and registered as a UEFI, ENA image (not ImportImage: that is VM migration, which
 * inspects the OS and refuses kernels and UEFI Linux images it does not know), launched in a subnet
 * with no public address; the console from GetConsoleOutput, merged into one stream. tsuite's names
 * are EC2 `Name` tags (the AMI's name, the object's key): ids are remembered when tsuite made the
 * resource and looked up by name otherwise (after a restart, by the sweep).
 */
export class AwsProvider implements CloudProvider {
  readonly place: CloudPlace;
  readonly packageExtension = 'raw';
  readonly fixes = AWS_FIXES;
  readonly consoleAfterTermination = true;
  private readonly region: string;
  private readonly bucket: string;
  private readonly subnetId: string;
  private readonly instanceType: string;
  private clientsCache?: AwsClients;
  /** Ids of what this process created, by tsuite's name. */
  private readonly instanceIds = new Map<string, string>();
  private readonly consoles = new Map<string, ConsoleMerge>();
  /** Cleared when EC2 says the instance type has no latest console output (not Nitro). */
  private latestConsole = true;
  private readonly teardown: Ec2Teardown;

  constructor(private readonly settings: AwsTargetSettings, private readonly arch = 'x86_64', private readonly operationTimeoutMs = DEFAULT_OPERATION_TIMEOUT_MS) {
    const { region, bucket, subnetId } = settings;
    // The config check refuses such a target first; this guards any other caller.
    if (!region || !bucket || !subnetId) throw new CloudApiError('aws needs an explicit region, bucket and subnetId: tsuite assumes no default');
    this.region = region;
    this.bucket = bucket;
    this.subnetId = subnetId;
    this.instanceType = settings.instanceType ?? AWS_DEFAULT_INSTANCE_TYPE;
    this.place = { provider: 'aws', where: { region, bucket: `s3://${bucket}`, subnet: subnetId }, machineType: this.instanceType, firmware: 'uefi' };
    this.teardown = new Ec2Teardown({
      ec2: () => this.clients.ec2,
      staging: () => this.staging,
      region, bucket, operationTimeoutMs,
      knownInstanceId: (name) => this.knownInstanceId(name),
      instanceIdsByName: (name, anyState) => this.instanceIdsByName(name, anyState),
      describeInstance: (id, what) => this.describeInstance(id, what),
    });
  }

  private get clients(): AwsClients {
    this.clientsCache ??= awsClients({ ...this.settings, region: this.region });
    return this.clientsCache;
  }

  /** The staged object's side, in S3. */
  private get staging(): S3Staging {
    return new S3Staging(this.clients.s3, this.bucket);
  }

  async close(): Promise<void> {
    this.clientsCache?.close();
  }

  async checkCredentials(): Promise<void> {
    try {
      // The SDK resolves its default chain lazily: resolving it now turns "no credentials" (or a
      // refused web identity token) into this step's error instead of the sweep's.
      const credentials = await this.clients.ec2.config.credentials();
      if (!credentials.accessKeyId) throw new Error('the default credential chain returned no access key');
    } catch (err) {
      throw new CloudApiError(`no usable AWS credentials: ${awsError(err, 'resolving the default credential chain').message}`, undefined, 'NO_CREDENTIALS');
    }
  }

  packageImage(rawDisk: string, progress: Progress): Promise<CloudPackage> {
    return packageForEc2(rawDisk, progress);
  }

  unpackImage(pkg: CloudPackage, intoDir: string): Promise<string> {
    return unpackEc2Package(pkg.path, intoDir);
  }

  upload(pkg: CloudPackage, name: string, labels: Record<string, string>, signal: AbortSignal): Promise<CloudResource> {
    return this.staging.upload(pkg, name, labels, signal);
  }

  async importImage(object: CloudResource, name: string, labels: Record<string, string>, signal: AbortSignal): Promise<CloudResource> {
    const what = `importing image ${name}`;
    const description = 'tsuite test image (deleted at the end of its run)';
    const task = await awsCall(`${what} (ImportSnapshot)`, () => this.clients.ec2.send(new ImportSnapshotCommand({
      Description: description,
      DiskContainer: { Format: 'RAW', UserBucket: { S3Bucket: this.bucket, S3Key: object.name }, Description: description },
      TagSpecifications: [{ ResourceType: 'import-snapshot-task', Tags: tags(labels, name) }],
    })));
    const taskId = task.ImportTaskId;
    if (!taskId) throw new CloudApiError(`${what}: ImportSnapshot returned no task id`);
    const snapshotId = await this.waitImport(taskId, what, signal);
    await awsCall(`${what} (tagging snapshot ${snapshotId})`, () => this.clients.ec2.send(new CreateTagsCommand({ Resources: [snapshotId], Tags: tags(labels, name) })));
    const registered = await awsCall(`${what} (RegisterImage)`, () => this.clients.ec2.send(new RegisterImageCommand({
      Name: name,
      Description: description,
      Architecture: this.arch === 'aarch64' || this.arch === 'arm64' ? 'arm64' : 'x86_64',
      // tsuite's disks are GPT with an EFI system partition; ENA is the network of every Nitro type.
      BootMode: 'uefi',
      EnaSupport: true,
      VirtualizationType: 'hvm',
      RootDeviceName: ROOT_DEVICE,
      BlockDeviceMappings: [{ DeviceName: ROOT_DEVICE, Ebs: { SnapshotId: snapshotId, DeleteOnTermination: true, VolumeType: 'gp3' } }],
      TagSpecifications: [{ ResourceType: 'image', Tags: tags(labels, name) }],
    })));
    if (!registered.ImageId) throw new CloudApiError(`${what}: RegisterImage returned no image id`);
    // RegisterImage answers while the AMI is still `pending`; RunInstances refuses it until `available`.
    await this.waitImageAvailable(registered.ImageId, what, signal);
    return { kind: 'image', name, labels, createdAt: new Date(), location: `region ${this.region}` };
  }

  /** Polls a registered AMI until it is `available`, fails, or the deadline passes. */
  private async waitImageAvailable(imageId: string, what: string, signal: AbortSignal): Promise<void> {
    const deadline = Date.now() + this.operationTimeoutMs;
    for (;;) {
      // EC2 is eventually consistent: a just-registered id may not be describable yet.
      const out = await awsCall(`${what} (DescribeImages ${imageId})`, () => this.clients.ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] })))
        .catch((err: unknown) => (isNotFound(err) ? { Images: [] } : Promise.reject(err)));
      const image = out.Images?.[0];
      const state = image?.State ?? 'unknown';
      if (state === 'available') return;
      if (state === 'failed' || state === 'error' || state === 'invalid' || state === 'deregistered') {
        throw new CloudApiError(awsErrorText(`${what}: image ${imageId} went ${state}`, image?.StateReason?.Message), undefined, 'IMPORT_FAILED');
      }
      if (Date.now() >= deadline) throw new CloudApiError(`${what}: image ${imageId} stayed ${state} for ${this.operationTimeoutMs} ms`, undefined, 'OPERATION_TIMEOUT');
      await sleep(IMAGE_POLL_MS, undefined, { signal });
    }
  }

  async launch(image: CloudResource, name: string, labels: Record<string, string>, signal: AbortSignal): Promise<CloudInstance> {
    const what = `launching instance ${name}`;
    const imageIds = await this.imageIds(image.name);
    if (imageIds.length === 0) throw new CloudApiError(`${what}: image ${image.name} is not registered`, undefined, 'IMAGE_NOT_FOUND');
    const groups = this.settings.securityGroupIds?.length ? { Groups: this.settings.securityGroupIds } : {};
    const out = await awsCall(what, () => this.clients.ec2.send(new RunInstancesCommand({
      ImageId: imageIds[0],
      InstanceType: this.instanceType as never,
      MinCount: 1,
      MaxCount: 1,
      // No public address: the instance is reached (if at all) inside its VPC.
      NetworkInterfaces: [{ DeviceIndex: 0, SubnetId: this.subnetId, AssociatePublicIpAddress: false, DeleteOnTermination: true, ...groups }],
      TagSpecifications: [{ ResourceType: 'instance', Tags: tags(labels, name) }, { ResourceType: 'volume', Tags: tags(labels, name) }],
      // A guest that powers off leaves nothing running, nothing billed.
      InstanceInitiatedShutdownBehavior: 'terminate',
      MetadataOptions: { HttpTokens: 'required' },
    })));
    const id = out.Instances?.[0]?.InstanceId;
    if (!id) throw new CloudApiError(`${what}: RunInstances returned no instance`);
    this.instanceIds.set(name, id);
    const deadline = Date.now() + this.operationTimeoutMs;
    for (;;) {
      const vm = await this.describeInstance(id, `reading instance ${name} (${id})`);
      const state = vm?.State?.Name;
      if (state === 'running') {
        const shape = await this.instanceShape();
        return {
          resource: { kind: 'instance', name, labels, createdAt: vm?.LaunchTime ?? new Date(), location: `region ${this.region}` },
          privateIp: vm?.PrivateIpAddress ?? undefined,
          ...shape,
        };
      }
      if (state && state !== 'pending') {
        throw new CloudApiError(`${what}: instance ${id} went ${state} instead of running${vm?.StateReason?.Message ? ` (${vm.StateReason.Message})` : ''}`, undefined, 'LAUNCH_FAILED');
      }
      if (Date.now() >= deadline) throw new CloudApiError(`${what}: instance ${id} stayed ${state ?? 'unknown'} for ${this.operationTimeoutMs} ms without running`, undefined, 'LAUNCH_TIMEOUT');
      await sleep(POLL_MS, undefined, { signal });
    }
  }

  async readSerial(instance: CloudResource, start: number): Promise<SerialChunk> {
    const merge = this.consoles.get(instance.name) ?? new ConsoleMerge();
    this.consoles.set(instance.name, merge);
    // A reply stops at a gap: what is already merged past `start` comes first, without asking EC2.
    if (merge.hasAfter(start)) return merge.read(start);
    const what = `reading the console of ${instance.name}`;
    const [id] = await this.instanceIdsByName(instance.name, true);
    if (!id) throw new CloudApiError(`${what}: no such instance`, 404, 'InvalidInstanceID.NotFound');
    // The head first (posted around state changes), then the latest: the merge needs them in order.
    const head = await awsCall(what, () => this.clients.ec2.send(new GetConsoleOutputCommand({ InstanceId: id })));
    merge.add(decode(head.Output));
    if (this.latestConsole) {
      try {
        const tail = await this.clients.ec2.send(new GetConsoleOutputCommand({ InstanceId: id, Latest: true }));
        merge.add(decode(tail.Output));
      } catch (err) {
        if (!isUnsupported(err)) throw awsError(err, `${what} (Latest)`);
        this.latestConsole = false;
      }
    }
    return merge.read(start);
  }

  async instanceState(instance: CloudResource): Promise<string | undefined> {
    const [id] = await this.instanceIdsByName(instance.name, true);
    if (!id) return undefined;
    const vm = await this.describeInstance(id, `reading instance ${instance.name}`);
    return vm?.State?.Name ?? undefined;
  }

  isStopped(state: string): boolean {
    return STOPPED_STATES.has(state);
  }

  async list(): Promise<CloudResource[]> {
    const out: CloudResource[] = [];
    const where = `region ${this.region}`;
    try {
      const seen = new Set<string>();
      for (const filter of [{ Name: 'tag-key', Values: [LABEL_RUN] }, { Name: 'tag:Name', Values: [`${NAME_PREFIX}*`] }]) {
        for await (const page of paginateDescribeInstances({ client: this.clients.ec2 }, { Filters: [filter, { Name: 'instance-state-name', Values: LIVE_STATES }] })) {
          for (const vm of (page.Reservations ?? []).flatMap((r) => r.Instances ?? [])) {
            if (!vm.InstanceId || seen.has(vm.InstanceId)) continue;
            seen.add(vm.InstanceId);
            out.push({ kind: 'instance', name: nameTag(vm.Tags) ?? vm.InstanceId, labels: labelsOf(vm.Tags), createdAt: vm.LaunchTime, location: where });
          }
        }
      }
      const images = new Set<string>();
      for await (const page of paginateDescribeImages({ client: this.clients.ec2 }, { Owners: ['self'], Filters: [{ Name: 'name', Values: [`${NAME_PREFIX}*`] }] })) {
        for (const img of page.Images ?? []) {
          if (!img.Name || img.State === 'deregistered') continue;
          images.add(img.Name);
          out.push({ kind: 'image', name: img.Name, labels: labelsOf(img.Tags), createdAt: date(img.CreationDate), location: where });
        }
      }
      // An import still running (a run killed while importing) is an image half-made: deleting it cancels the task.
      for await (const page of paginateDescribeImportSnapshotTasks({ client: this.clients.ec2 }, {})) {
        for (const task of page.ImportSnapshotTasks ?? []) {
          const name = nameTag(task.Tags);
          if (!name?.startsWith(NAME_PREFIX) || images.has(name) || task.SnapshotTaskDetail?.Status !== 'active') continue;
          images.add(name);
          out.push({ kind: 'image', name, labels: labelsOf(task.Tags), location: where });
        }
      }
      const snapshots = new Set<string>();
      for (const filter of [{ Name: 'tag-key', Values: [LABEL_RUN] }, { Name: 'tag:Name', Values: [`${NAME_PREFIX}*`] }]) {
        for await (const page of paginateDescribeSnapshots({ client: this.clients.ec2 }, { OwnerIds: ['self'], Filters: [filter] })) {
          for (const snap of page.Snapshots ?? []) {
            if (!snap.SnapshotId || snapshots.has(snap.SnapshotId)) continue;
            snapshots.add(snap.SnapshotId);
            out.push({ kind: 'snapshot', name: nameTag(snap.Tags) ?? snap.SnapshotId, labels: labelsOf(snap.Tags), createdAt: snap.StartTime, location: where });
          }
        }
      }
      out.push(...(await this.staging.list()));
    } catch (err) {
      throw awsError(err, `listing tsuite's resources in region ${this.region}`);
    }
    return out;
  }

  delete(resource: Pick<CloudResource, 'kind' | 'name'>, signal?: AbortSignal): Promise<'deleted' | 'absent'> {
    return this.teardown.delete(resource, signal);
  }

  deleteCommand(resource: Pick<CloudResource, 'kind' | 'name'>): string {
    return this.teardown.deleteCommand(resource);
  }

  /** Polls an import task until it completes (its snapshot id), fails, or the deadline passes. */
  private async waitImport(taskId: string, what: string, signal: AbortSignal): Promise<string> {
    const deadline = Date.now() + this.operationTimeoutMs;
    for (;;) {
      const out = await awsCall(`${what} (DescribeImportSnapshotTasks ${taskId})`, () => this.clients.ec2.send(new DescribeImportSnapshotTasksCommand({ ImportTaskIds: [taskId] })));
      const detail = out.ImportSnapshotTasks?.[0]?.SnapshotTaskDetail;
      const status = detail?.Status ?? 'unknown';
      if (status === 'completed') {
        if (!detail?.SnapshotId) throw new CloudApiError(`${what}: import task ${taskId} completed without a snapshot`);
        return detail.SnapshotId;
      }
      if (status === 'deleted' || status === 'deleting') {
        throw new CloudApiError(awsErrorText(`${what}: import task ${taskId} failed (${status})`, detail?.StatusMessage), undefined, 'IMPORT_FAILED');
      }
      if (Date.now() >= deadline) {
        throw new CloudApiError(awsErrorText(`${what}: import task ${taskId} did not complete within ${this.operationTimeoutMs} ms (still ${status})`, detail?.StatusMessage), undefined, 'OPERATION_TIMEOUT');
      }
      await sleep(POLL_MS, undefined, { signal });
    }
  }

  /** The registered AMIs of that name. */
  private async imageIds(name: string): Promise<string[]> {
    const out = await awsCall(`looking up image ${name}`, () => this.clients.ec2.send(new DescribeImagesCommand({ Owners: ['self'], Filters: [{ Name: 'name', Values: [name] }] })));
    return (out.Images ?? []).filter((i) => i.State !== 'deregistered').map((i) => i.ImageId!).filter(Boolean);
  }

  /**
   * The instance ids of a name: the one this process launched, an id given as the name, or those
   * tagged so (live ones only unless `anyState`: a terminated instance still has its console).
   */
  private async instanceIdsByName(name: string, anyState: boolean): Promise<string[]> {
    const known = this.knownInstanceId(name);
    if (known) {
      if (anyState) return [known];
      const vm = await this.describeInstance(known, `reading instance ${name}`);
      return vm && vm.State?.Name !== 'terminated' ? [known] : [];
    }
    const filters: Filter[] = [{ Name: 'tag:Name', Values: [name] }];
    if (!anyState) filters.push({ Name: 'instance-state-name', Values: LIVE_STATES });
    const out = await awsCall(`looking up instance ${name}`, () => this.clients.ec2.send(new DescribeInstancesCommand({ Filters: filters })));
    const ids = (out.Reservations ?? []).flatMap((r) => r.Instances ?? []).map((i) => i.InstanceId!).filter(Boolean);
    if (ids.length === 1) this.instanceIds.set(name, ids[0]!);
    return ids;
  }

  /** The instance id of a name, when this process launched it or the name is an id. */
  private knownInstanceId(name: string): string | undefined {
    return this.instanceIds.get(name) ?? (name.startsWith('i-') ? name : undefined);
  }

  /** One instance by id; undefined when EC2 does not know it (yet: it is eventually consistent, or any more). */
  private async describeInstance(id: string, what: string): Promise<Instance | undefined> {
    try {
      const out = await this.clients.ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
      return out.Reservations?.[0]?.Instances?.[0];
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw awsError(err, what);
    }
  }

  /** vCPUs and memory of the instance type, when EC2 says; its absence only leaves them unrecorded. */
  private async instanceShape(): Promise<{ cpus?: number; memoryMb?: number }> {
    try {
      const out = await this.clients.ec2.send(new DescribeInstanceTypesCommand({ InstanceTypes: [this.instanceType as never] }));
      const t = out.InstanceTypes?.[0];
      return { cpus: t?.VCpuInfo?.DefaultVCpus, memoryMb: t?.MemoryInfo?.SizeInMiB };
    } catch {
      return {};
    }
  }
}

/** The provider of an `aws` target, from its settings. */
export function awsProvider(def: TargetDef): AwsProvider {
  return new AwsProvider(def.aws ?? {}, def.arch, def.cloud?.operationTimeoutMs);
}

function date(value: string | undefined): Date | undefined {
  return value ? new Date(value) : undefined;
}

/** EC2's console output is base64 of the bytes the machine wrote. */
function decode(output: string | undefined): string {
  return output ? Buffer.from(output, 'base64').toString('utf8') : '';
}

/** A message with EC2's own status message, redacted. */
function awsErrorText(text: string, statusMessage: string | undefined): string {
  return redact(statusMessage ? `${text}: ${statusMessage}` : text);
}
