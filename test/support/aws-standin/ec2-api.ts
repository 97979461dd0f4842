import type { ServerResponse } from 'node:http';
import {
  boolParam, ec2Fail, param, paramList, sendResult, stringList, tagSet, tagSpecifications,
  type QueryValue, type Tag, type XmlValue,
} from './ec2-wire.js';
import type { FaultSwitch } from './faults.js';
import { matchesFilters, parseFilters } from './filters.js';
import type { ImageRecord, ImageStore } from './images.js';
import { instanceArchitecture, STATE_CODES, type InstanceRecord, type InstanceStore, type VolumeRecord } from './instances.js';
import type { ImportTask, SnapshotRecord, SnapshotStore } from './snapshots.js';

type Query = Record<string, QueryValue>;

/**
 * The EC2 actions tsuite's aws runner calls, from parsed Query parameters to the XML answer. Each
 * Describe* takes its ids (`InstanceId.N`, `ImageId.N`, ...) and `Filter.N`; an id that does not
 * exist is an error, as on EC2. Paging is not modelled: every answer is complete (no nextToken).
 */
export class Ec2Api {
  constructor(
    private readonly snapshots: SnapshotStore,
    private readonly images: ImageStore,
    private readonly instances: InstanceStore,
    private readonly faults: FaultSwitch,
    private readonly accountId: string,
  ) {}

  async handle(action: string, q: Query, res: ServerResponse): Promise<void> {
    if (action.startsWith('Describe') && this.faults.take('list')) internalError();
    const handler = this.actions[action];
    if (!handler) ec2Fail(400, 'InvalidAction', `The action ${action} is not valid for this web service.`);
    if (boolParam(q, 'DryRun')) ec2Fail(412, 'DryRunOperation', 'Request would have succeeded, but DryRun flag is set.');
    sendResult(res, action, await handler!(q));
  }

  private readonly actions: Record<string, (q: Query) => Promise<Record<string, XmlValue>> | Record<string, XmlValue>> = {
    ImportSnapshot: (q) => {
      const tags = tagSpecifications(q, ['import-snapshot-task']).get('import-snapshot-task') ?? [];
      const task = this.snapshots.startImport({
        description: param(q, 'Description'),
        format: param(q, 'DiskContainer.Format'),
        bucket: param(q, 'DiskContainer.UserBucket.S3Bucket'),
        key: param(q, 'DiskContainer.UserBucket.S3Key'),
        url: param(q, 'DiskContainer.Url'),
        tags,
      });
      return { description: task.description, importTaskId: task.id, snapshotTaskDetail: taskDetail(task), tagSet: tagSet(task.tags) };
    },
    DescribeImportSnapshotTasks: (q) => {
      const ids = stringList(q, 'ImportTaskId');
      const filters = parseFilters(q);
      const tasks = ids.length ? ids.map((id) => this.snapshots.task(id)) : [...this.snapshots.tasks.values()];
      const shown = tasks.filter((t) => matchesFilters(filters, t.tags, { 'task-state': t.status }));
      return { importSnapshotTaskSet: shown.map((t) => ({ description: t.description, importTaskId: t.id, snapshotTaskDetail: taskDetail(t), tagSet: tagSet(t.tags) })) };
    },
    CancelImportTask: (q) => {
      const { previous, task } = this.snapshots.cancel(required(q, 'ImportTaskId'), param(q, 'CancelReason'));
      return { importTaskId: task.id, previousState: previous, state: task.status };
    },
    CreateTags: (q) => {
      const ids = stringList(q, 'ResourceId');
      if (!ids.length) ec2Fail(400, 'MissingParameter', 'The request must contain the parameter resourceIdSet');
      const tags = paramList(q, 'Tag').map((t) => ({ key: param(t, 'Key') ?? '', value: param(t, 'Value') ?? '' }));
      if (!tags.length) ec2Fail(400, 'MissingParameter', 'The request must contain the parameter tagSet');
      for (const t of tags) {
        if (!t.key) ec2Fail(400, 'InvalidParameterValue', 'Tag keys must not be empty.');
        if (t.key.startsWith('aws:')) ec2Fail(400, 'InvalidParameterValue', "Tag keys starting with 'aws:' are reserved for internal use");
      }
      // Every id is checked before any is tagged: EC2 tags all or none.
      const targets = ids.map((id) => this.taggable(id));
      for (const target of targets) {
        for (const t of tags) {
          const same = target.findIndex((x) => x.key === t.key);
          if (same >= 0) target[same] = { ...t };
          else target.push({ ...t });
        }
      }
      return { return: true };
    },
    DescribeSnapshots: (q) => {
      this.checkOwners(stringList(q, 'Owner'));
      const ids = stringList(q, 'SnapshotId');
      const filters = parseFilters(q);
      const all = ids.length ? ids.map((id) => this.snapshots.get(id)) : [...this.snapshots.snapshots.values()];
      const shown = all.filter((s) => matchesFilters(filters, s.tags, {
        'snapshot-id': s.id, 'owner-id': this.accountId, status: 'completed', description: s.description,
        'volume-size': String(s.volumeSize), encrypted: 'false',
      }));
      return { snapshotSet: shown.map((s) => this.snapshotXml(s)) };
    },
    DeleteSnapshot: async (q) => {
      const id = required(q, 'SnapshotId');
      const fault = this.faults.take('delete-snapshot');
      if (fault) internalError(fault);
      this.snapshots.get(id);
      const user = this.images.userOf(id);
      if (user) ec2Fail(400, 'InvalidSnapshot.InUse', `The snapshot ${id} is currently in use by ${user.id}`);
      await this.snapshots.delete(id);
      return { return: true };
    },
    RegisterImage: (q) => {
      if (param(q, 'ImageLocation')) ec2Fail(400, 'InvalidParameterCombination', 'The stand-in registers EBS-backed images only (no ImageLocation).');
      const fault = this.faults.take('register-image');
      if (fault) ec2Fail(fault.status ?? 400, fault.code ?? 'InvalidParameterValue', fault.message ?? 'Value for parameter blockDeviceMapping is invalid (tsuite stand-in fault).');
      const tags = tagSpecifications(q, ['image']).get('image') ?? [];
      const blockDevices = paramList(q, 'BlockDeviceMapping').map((b) => ({
        deviceName: param(b, 'DeviceName') ?? '',
        snapshotId: param(b, 'Ebs.SnapshotId'),
        volumeSize: param(b, 'Ebs.VolumeSize') === undefined ? undefined : Number(param(b, 'Ebs.VolumeSize')),
        volumeType: param(b, 'Ebs.VolumeType') ?? 'gp3',
        deleteOnTermination: boolParam(b, 'Ebs.DeleteOnTermination') ?? true,
      }));
      const image = this.images.register({
        name: required(q, 'Name'),
        description: param(q, 'Description'),
        architecture: (param(q, 'Architecture') ?? 'x86_64') as ImageRecord['architecture'],
        bootMode: param(q, 'BootMode') as ImageRecord['bootMode'],
        enaSupport: boolParam(q, 'EnaSupport') ?? false,
        rootDeviceName: required(q, 'RootDeviceName'),
        virtualizationType: param(q, 'VirtualizationType') ?? 'paravirtual',
        blockDevices,
        tags,
      });
      return { imageId: image.id };
    },
    DescribeImages: (q) => {
      this.checkOwners(stringList(q, 'Owner'));
      const ids = stringList(q, 'ImageId');
      const filters = parseFilters(q);
      const all = ids.length ? ids.map((id) => this.images.get(id)) : [...this.images.images.values()];
      const shown = all.filter((i) => matchesFilters(filters, i.tags, {
        'image-id': i.id, name: i.name, state: i.state, 'owner-id': this.accountId, architecture: i.architecture,
        'boot-mode': i.bootMode, 'block-device-mapping.snapshot-id': i.blockDevices.map((b) => b.snapshotId ?? ''),
        'is-public': 'false', 'image-type': 'machine',
      }));
      return { imagesSet: shown.map((i) => this.imageXml(i)) };
    },
    DeregisterImage: async (q) => {
      const id = required(q, 'ImageId');
      const fault = this.faults.take('delete-image');
      if (fault) internalError(fault);
      const image = this.images.get(id);
      this.images.images.delete(image.id);
      const results: XmlValue[] = [];
      if (boolParam(q, 'DeleteAssociatedSnapshots')) {
        for (const b of image.blockDevices) {
          if (!b.snapshotId || this.images.userOf(b.snapshotId)) continue;
          await this.snapshots.delete(b.snapshotId).catch(() => undefined);
          results.push({ snapshotId: b.snapshotId, returnCode: 'success' });
        }
      }
      return { return: true, deleteSnapshotResultSet: results.length ? results : undefined };
    },
    RunInstances: (q) => {
      const min = Number(required(q, 'MinCount'));
      const max = Number(required(q, 'MaxCount'));
      if (!(min >= 1 && max >= min)) ec2Fail(400, 'InvalidParameterValue', `Invalid value for MinCount/MaxCount: ${min}/${max}`);
      if (max > 1) ec2Fail(400, 'InvalidParameterValue', 'The stand-in launches one instance per call (MaxCount=1).');
      const nics = paramList(q, 'NetworkInterface');
      const nic = nics[0];
      if (nics.length > 1) ec2Fail(400, 'InvalidParameterValue', 'The stand-in models one network interface (DeviceIndex 0).');
      if (nic && param(nic, 'DeviceIndex') !== '0') ec2Fail(400, 'InvalidParameterValue', 'Each network interface requires a device index.');
      const subnetId = (nic && param(nic, 'SubnetId')) ?? param(q, 'SubnetId');
      if (nic && param(q, 'SubnetId')) ec2Fail(400, 'InvalidParameterCombination', 'Network interfaces and an instance-level subnet ID may not be specified on the same request');
      // This account has no default VPC (as tsuite's docs tell users to set it up): no subnet, no launch.
      if (!subnetId) ec2Fail(400, 'VPCIdNotSpecified', 'No default VPC for this user. GroupName is only supported for EC2-Classic and default VPC.');
      if (nic && boolParam(nic, 'AssociatePublicIpAddress') === true) {
        // The account's service control policy denies public addresses, as a private-network setup should.
        ec2Fail(403, 'UnauthorizedOperation', 'You are not authorized to perform this operation. User is not authorized to perform: ec2:RunInstances with an explicit deny in a service control policy (ec2:AssociatePublicIpAddress = true).');
      }
      const behaviour = param(q, 'InstanceInitiatedShutdownBehavior') ?? 'stop';
      if (behaviour !== 'stop' && behaviour !== 'terminate') ec2Fail(400, 'InvalidParameterValue', `Value (${behaviour}) for parameter instanceInitiatedShutdownBehavior is invalid. Valid values: stop, terminate`);
      const tags = tagSpecifications(q, ['instance', 'volume', 'network-interface']);
      const hop = param(q, 'MetadataOptions.HttpPutResponseHopLimit');
      const record = this.instances.launch({
        imageId: required(q, 'ImageId'),
        instanceType: param(q, 'InstanceType') ?? 'm1.small',
        subnetId: subnetId!,
        securityGroupIds: nic ? stringList(nic, 'SecurityGroupId') : stringList(q, 'SecurityGroupId'),
        shutdownBehavior: behaviour,
        instanceTags: tags.get('instance') ?? [],
        volumeTags: tags.get('volume') ?? [],
        metadataOptions: {
          ...(param(q, 'MetadataOptions.HttpTokens') ? { httpTokens: param(q, 'MetadataOptions.HttpTokens') } : {}),
          ...(param(q, 'MetadataOptions.HttpEndpoint') ? { httpEndpoint: param(q, 'MetadataOptions.HttpEndpoint') } : {}),
          ...(hop ? { httpPutResponseHopLimit: Number(hop) } : {}),
          ...(param(q, 'MetadataOptions.InstanceMetadataTags') ? { instanceMetadataTags: param(q, 'MetadataOptions.InstanceMetadataTags') } : {}),
        },
      });
      return { reservationId: record.reservationId, ownerId: this.accountId, groupSet: [], instancesSet: [this.instanceXml(record)] };
    },
    DescribeInstances: (q) => {
      const ids = stringList(q, 'InstanceId');
      const filters = parseFilters(q);
      const all = ids.length ? ids.map((id) => this.instances.get(id)) : [...this.instances.instances.values()];
      const shown = all.filter((i) => matchesFilters(filters, i.tags, {
        'instance-id': i.id, 'instance-state-name': i.state, 'instance-state-code': String(STATE_CODES[i.state]),
        'image-id': i.imageId, 'instance-type': i.instanceType, 'subnet-id': i.subnetId, 'vpc-id': i.vpcId,
        'private-ip-address': i.privateIp, 'availability-zone': i.availabilityZone, 'owner-id': this.accountId,
      }));
      return {
        reservationSet: shown.map((i) => ({ reservationId: i.reservationId, ownerId: this.accountId, groupSet: [], instancesSet: [this.instanceXml(i)] })),
      };
    },
    TerminateInstances: (q) => {
      const ids = stringList(q, 'InstanceId');
      if (!ids.length) ec2Fail(400, 'MissingParameter', 'The request must contain the parameter InstanceId');
      for (const id of ids) this.instances.get(id);
      const fault = this.faults.take('delete-instance');
      if (fault && !fault.stuck) internalError(fault);
      const changes = ids.map((id) => this.instances.terminate(id, fault?.stuck === true));
      return {
        instancesSet: changes.map(({ previous, record }) => ({
          instanceId: record.id,
          currentState: { code: STATE_CODES[record.state], name: record.state },
          previousState: { code: STATE_CODES[previous], name: previous },
        })),
      };
    },
    GetConsoleOutput: async (q) => {
      const record = this.instances.get(required(q, 'InstanceId'));
      const fault = this.faults.take('console');
      if (fault) internalError(fault);
      const reply = await record.console.read(boolParam(q, 'Latest') === true);
      const empty = this.faults.take('console-empty');
      return {
        instanceId: record.id,
        timestamp: reply.timestamp,
        output: !empty && reply.output?.length ? reply.output.toString('base64') : undefined,
      };
    },
    DescribeInstanceTypes: (q) => {
      // Every stand-in instance has 1 vCPU and the stand-in's memory, whatever its type: that is
      // what the guest sees, so that is what the type is said to have.
      const types = stringList(q, 'InstanceType');
      const bad = types.filter((t) => !/^[a-z][a-z0-9-]*\.[a-z0-9]+$/.test(t));
      if (bad.length) ec2Fail(400, 'InvalidInstanceType', `The following supplied instance types do not exist: [${bad.join(', ')}]`);
      return {
        instanceTypeSet: types.map((t) => ({
          instanceType: t, currentGeneration: true, bareMetal: false, hypervisor: 'nitro',
          processorInfo: { supportedArchitectures: [instanceArchitecture(t)] },
          vCpuInfo: { defaultVCpus: 1, defaultCores: 1, defaultThreadsPerCore: 1 },
          memoryInfo: { sizeInMiB: this.instances.memoryMb },
          supportedBootModes: ['legacy-bios', 'uefi'],
        })),
      };
    },
    DescribeVolumes: (q) => {
      const ids = stringList(q, 'VolumeId');
      const filters = parseFilters(q);
      const all = ids.length ? ids.map((id) => this.volume(id)) : [...this.instances.volumes.values()];
      const shown = all.filter((v) => matchesFilters(filters, v.tags, {
        'volume-id': v.id, status: v.state, 'snapshot-id': v.snapshotId, 'availability-zone': v.availabilityZone,
        'attachment.instance-id': v.attachment?.instanceId, 'attachment.delete-on-termination': v.attachment ? String(v.attachment.deleteOnTermination) : undefined,
        'attachment.device': v.attachment?.device,
      }));
      return { volumeSet: shown.map((v) => volumeXml(v)) };
    },
  };

  private checkOwners(owners: string[]): void {
    for (const o of owners) {
      if (o !== 'self' && o !== this.accountId && o !== 'amazon' && o !== 'aws-marketplace' && !/^\d{12}$/.test(o)) {
        ec2Fail(400, 'InvalidUserID.Malformed', `Invalid user id: "${o}"`);
      }
    }
  }

  /**
   * The tag list of a resource CreateTags may tag here (snapshot, image, instance, volume), by its
   * id's prefix; an id of no known form is `InvalidID`, a well-formed one that does not exist is
   * that resource's `*.NotFound`, as EC2 answers.
   */
  private taggable(id: string): Tag[] {
    const m = /^(snap|ami|i|vol)-[0-9a-f]{8}(?:[0-9a-f]{9})?$/.exec(id);
    if (!m) ec2Fail(400, 'InvalidID', `The ID '${id}' is not valid`);
    switch (m![1]) {
      case 'snap': return this.snapshots.get(id).tags;
      case 'ami': return this.images.get(id).tags;
      case 'i': return this.instances.get(id).tags;
      default: return this.volume(id).tags;
    }
  }

  private volume(id: string): VolumeRecord {
    const v = this.instances.volumes.get(id);
    if (!v) ec2Fail(400, 'InvalidVolume.NotFound', `The volume '${id}' does not exist.`);
    return v!;
  }

  private snapshotXml(s: SnapshotRecord): XmlValue {
    return {
      snapshotId: s.id, volumeId: 'vol-ffffffff', status: 'completed', startTime: s.startTime, progress: '100%',
      ownerId: this.accountId, description: s.description, volumeSize: s.volumeSize, encrypted: false,
      storageTier: 'standard', tagSet: tagSet(s.tags),
    };
  }

  private imageXml(i: ImageRecord): XmlValue {
    return {
      imageId: i.id, imageLocation: `${this.accountId}/${i.name}`, imageState: i.state, imageOwnerId: this.accountId,
      creationDate: i.creationDate, isPublic: false, architecture: i.architecture, imageType: 'machine',
      platformDetails: 'Linux/UNIX', usageOperation: 'RunInstances', name: i.name, description: i.description,
      rootDeviceType: 'ebs', rootDeviceName: i.rootDeviceName,
      blockDeviceMapping: i.blockDevices.map((b) => ({
        deviceName: b.deviceName,
        ebs: { snapshotId: b.snapshotId, volumeSize: b.volumeSize ?? (b.snapshotId ? this.snapshots.snapshots.get(b.snapshotId)?.volumeSize : undefined), deleteOnTermination: b.deleteOnTermination, volumeType: b.volumeType, encrypted: false },
      })),
      virtualizationType: i.virtualizationType, hypervisor: 'xen', enaSupport: i.enaSupport, bootMode: i.bootMode,
      tagSet: tagSet(i.tags),
    };
  }

  private instanceXml(i: InstanceRecord): XmlValue {
    const running = i.state !== 'terminated';
    return {
      instanceId: i.id, imageId: i.imageId,
      instanceState: { code: STATE_CODES[i.state], name: i.state },
      privateDnsName: running ? `ip-${i.privateIp.replace(/\./g, '-')}.ec2.internal` : '',
      dnsName: '', reason: i.transitionReason, amiLaunchIndex: 0, productCodes: [], instanceType: i.instanceType,
      launchTime: i.launchTime,
      placement: { availabilityZone: i.availabilityZone, groupName: '', tenancy: 'default' },
      monitoring: { state: 'disabled' },
      subnetId: running ? i.subnetId : undefined, vpcId: running ? i.vpcId : undefined,
      privateIpAddress: running ? i.privateIp : undefined,
      sourceDestCheck: true,
      groupSet: i.securityGroupIds.map((g) => ({ groupId: g, groupName: g })),
      stateReason: i.stateReason,
      architecture: i.architecture, rootDeviceType: 'ebs', rootDeviceName: i.rootDeviceName,
      blockDeviceMapping: this.instances.volumes.get(i.volumeId)?.attachment ? [{
        deviceName: i.rootDeviceName,
        ebs: { volumeId: i.volumeId, status: 'attached', attachTime: i.launchTime, deleteOnTermination: this.instances.volumes.get(i.volumeId)!.attachment!.deleteOnTermination },
      }] : [],
      virtualizationType: 'hvm', hypervisor: 'xen', enaSupport: true,
      networkInterfaceSet: running ? [{
        subnetId: i.subnetId, vpcId: i.vpcId, ownerId: this.accountId, status: 'in-use', privateIpAddress: i.privateIp,
        sourceDestCheck: true, groupSet: i.securityGroupIds.map((g) => ({ groupId: g, groupName: g })),
        attachment: { deviceIndex: 0, status: 'attached', deleteOnTermination: true },
      }] : [],
      tagSet: tagSet(i.tags),
      metadataOptions: { state: 'applied', ...i.metadataOptions, httpProtocolIpv6: 'disabled' },
      bootMode: i.bootMode, currentInstanceBootMode: i.bootMode === 'legacy-bios' ? 'legacy-bios' : 'uefi',
    };
  }
}

function volumeXml(v: VolumeRecord): XmlValue {
  return {
    volumeId: v.id, size: v.size, snapshotId: v.snapshotId, availabilityZone: v.availabilityZone, status: v.state,
    createTime: v.createTime,
    attachmentSet: v.attachment ? [{
      volumeId: v.id, instanceId: v.attachment.instanceId, device: v.attachment.device, status: 'attached',
      attachTime: v.attachment.attachTime, deleteOnTermination: v.attachment.deleteOnTermination,
    }] : [],
    volumeType: 'gp3', iops: 3000, throughput: 125, encrypted: false, multiAttachEnabled: false, tagSet: tagSet(v.tags),
  };
}

function taskDetail(t: ImportTask): XmlValue {
  return {
    diskImageSize: t.diskImageSize, format: t.format, progress: t.progress, snapshotId: t.snapshotId, status: t.status,
    statusMessage: t.statusMessage, userBucket: { s3Bucket: t.bucket, s3Key: t.key }, description: t.description, encrypted: false,
  };
}

function required(q: Query, name: string): string {
  const v = param(q, name);
  if (v === undefined || v === '') ec2Fail(400, 'MissingParameter', `The request must contain the parameter ${name}`);
  return v!;
}

function internalError(fault?: { status?: number; code?: string; message?: string }): never {
  return ec2Fail(fault?.status ?? 500, fault?.code ?? 'InternalError', fault?.message ?? 'An internal error has occurred');
}
