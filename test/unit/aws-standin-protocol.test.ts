import { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CancelImportTaskCommand, CreateTagsCommand, DeleteSnapshotCommand, DeregisterImageCommand, DescribeImagesCommand, DescribeImportSnapshotTasksCommand,
  DescribeInstancesCommand, DescribeInstanceTypesCommand, DescribeSnapshotsCommand, DescribeVolumesCommand, EC2Client, GetConsoleOutputCommand,
  ImportSnapshotCommand, RegisterImageCommand, RunInstancesCommand, TerminateInstancesCommand,
  type RunInstancesCommandInput,
} from '@aws-sdk/client-ec2';
import {
  AbortMultipartUploadCommand, CreateMultipartUploadCommand, DeleteObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, GetObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AwsStandin, CONSOLE_LIMIT, PLANTED } from '../support/aws-standin/index.js';

/**
 * The AWS stand-in against the official SDK v3 clients, configured as the aws runner must
 * configure them (README.md). One instance boots a real (1 MiB, empty) disk under OVMF; the rest
 * never start QEMU (launch-timeout keeps them pending).
 */

const REGION = 'eu-west-1';
const BUCKET = 'tsuite-unit-bucket';
const MiB = 1024 * 1024;
let standin: AwsStandin;
let ec2: EC2Client;
let s3: S3Client;
const saved = { ...process.env };

const TAGS = [{ Key: 'tsuite-run', Value: 'run-1' }, { Key: 'tsuite-owner', Value: 'unit' }];

beforeAll(async () => {
  standin = await AwsStandin.start({ region: REGION, bucket: BUCKET, importMs: 300, stepMs: 100, consolePostMs: 200 });
  // The SDK's default chain, from the environment, as in CI.
  Object.assign(process.env, standin.env());
  ec2 = new EC2Client({ endpoint: standin.ec2Url, maxAttempts: 1 });
  s3 = new S3Client({ endpoint: standin.s3Url, forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED', maxAttempts: 1 });
});
afterAll(async () => {
  await standin?.close();
  for (const k of Object.keys(standin?.env() ?? {})) delete process.env[k];
  Object.assign(process.env, saved);
});

async function until<T>(what: string, f: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function upload(key: string, body: Buffer): Promise<void> {
  await new Upload({ client: s3, params: { Bucket: BUCKET, Key: key, Body: body, Metadata: { 'tsuite-run': 'run-1' } }, partSize: 5 * MiB }).done();
}

async function importDisk(key: string, body: Buffer, tags = TAGS) {
  await upload(key, body);
  const started = await ec2.send(new ImportSnapshotCommand({
    DiskContainer: { Format: 'RAW', UserBucket: { S3Bucket: BUCKET, S3Key: key } },
    TagSpecifications: [{ ResourceType: 'import-snapshot-task', Tags: tags }],
  }));
  expect(started.SnapshotTaskDetail?.Status).toBe('active');
  return until('the import', async () => {
    const r = await ec2.send(new DescribeImportSnapshotTasksCommand({ ImportTaskIds: [started.ImportTaskId!] }));
    const d = r.ImportSnapshotTasks?.[0]?.SnapshotTaskDetail;
    return d && (d.Status === 'completed' || d.Status === 'deleted') ? { id: started.ImportTaskId!, ...d } : undefined;
  });
}

let imageCount = 0;
async function registerImage(snapshotId: string, bootMode = 'uefi'): Promise<string> {
  const r = await ec2.send(new RegisterImageCommand({
    Name: `tsuite-unit-${++imageCount}`, Architecture: 'x86_64', BootMode: bootMode as 'uefi', EnaSupport: true,
    RootDeviceName: '/dev/xvda', VirtualizationType: 'hvm',
    BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: snapshotId, DeleteOnTermination: true, VolumeType: 'gp3' } }],
    TagSpecifications: [{ ResourceType: 'image', Tags: TAGS }],
  }));
  await until('the image', async () => {
    const d = await ec2.send(new DescribeImagesCommand({ ImageIds: [r.ImageId!] }));
    return d.Images?.[0]?.State === 'available' ? true : undefined;
  });
  return r.ImageId!;
}

const launchInput = (imageId: string, over: Partial<RunInstancesCommandInput> = {}): RunInstancesCommandInput => ({
  ImageId: imageId, InstanceType: 't3.small', MinCount: 1, MaxCount: 1,
  NetworkInterfaces: [{ DeviceIndex: 0, SubnetId: standin.subnetId, AssociatePublicIpAddress: false, Groups: ['sg-0123'] }],
  TagSpecifications: [{ ResourceType: 'instance', Tags: TAGS }, { ResourceType: 'volume', Tags: TAGS }],
  MetadataOptions: { HttpTokens: 'required' },
  ...over,
});

const describeInstance = async (id: string) => (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations?.[0]?.Instances?.[0];
const errorOf = (p: Promise<unknown>) => p.then(() => undefined, (e: { name: string; message: string; $metadata?: { httpStatusCode?: number } }) => ({ name: e.name, message: e.message, status: e.$metadata?.httpStatusCode }));

describe('S3 (s3rver behind the proxy)', () => {
  it('stores a multipart upload byte for byte, with metadata, list by prefix, head and delete', async () => {
    const data = randomBytes(11 * MiB + 4321);
    await upload('pkg/big.raw', data);
    expect(standin.requests.filter((r) => r.service === 's3' && /partNumber=/.test(r.action)).length).toBe(3);
    const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'pkg/big.raw' }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(data)).toBe(true);
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'pkg/big.raw' }));
    expect([head.ContentLength, head.Metadata]).toEqual([data.length, { 'tsuite-run': 'run-1' }]);
    await upload('other/x', Buffer.from('x'));
    const list = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'pkg/' }));
    expect(list.Contents?.map((o) => [o.Key, o.Size])).toEqual([['pkg/big.raw', data.length]]);
    expect(standin.inventory().objects).toEqual(expect.arrayContaining(['pkg/big.raw', 'other/x']));
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'pkg/big.raw' }));
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'other/x' }));
    expect(standin.inventory().objects).toEqual([]);
  });

  it("refuses the SDK's aws-chunked framing (a streamed PutObject with default checksums) instead of storing it", async () => {
    const plain = new S3Client({ endpoint: standin.s3Url, forcePathStyle: true, maxAttempts: 1 });
    const err = await errorOf(plain.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'chunked', Body: Readable.from([Buffer.alloc(70_000, 1)]), ContentLength: 70_000 })));
    expect(err).toMatchObject({ name: 'NotImplemented', status: 501 });
    expect(standin.inventory().objects).not.toContain('chunked');
  });

  it('answers upload, list and delete-object faults with S3 XML errors; a wrong key is refused', async () => {
    standin.fail('upload');
    expect(await errorOf(s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'f', Body: Buffer.from('f') })))).toMatchObject({ name: 'InternalError', status: 500 });
    standin.fail('list');
    expect(await errorOf(s3.send(new ListObjectsV2Command({ Bucket: BUCKET })))).toMatchObject({ name: 'InternalError', status: 500 });
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'f', Body: Buffer.from('f') }));
    standin.fail('delete-object');
    expect(await errorOf(s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'f' })))).toMatchObject({ name: 'InternalError', status: 500 });
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'f' }));
    expect(standin.faultsFired.slice(-3)).toEqual(['upload', 'list', 'delete-object']);
    const stranger = new S3Client({ endpoint: standin.s3Url, forcePathStyle: true, region: REGION, credentials: { accessKeyId: 'AKIAOTHER', secretAccessKey: 'x' }, maxAttempts: 1 });
    expect(await errorOf(stranger.send(new ListObjectsV2Command({ Bucket: BUCKET })))).toMatchObject({ name: 'InvalidAccessKeyId', status: 403 });
  });

  it('aborts a multipart upload (which s3rver alone refuses): the parts go, and lib-storage reports the error that made it abort', async () => {
    const started = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'aborted.raw' }));
    await s3.send(new UploadPartCommand({ Bucket: BUCKET, Key: 'aborted.raw', UploadId: started.UploadId, PartNumber: 1, Body: Buffer.alloc(5 * MiB) }));
    await s3.send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: 'aborted.raw', UploadId: started.UploadId }));
    expect(await errorOf(s3.send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: 'aborted.raw', UploadId: started.UploadId })))).toMatchObject({ name: 'NoSuchUpload', status: 404 });
    standin.fail('upload', { times: Infinity });
    try {
      const err = await errorOf(new Upload({ client: s3, params: { Bucket: BUCKET, Key: 'failed.raw', Body: Buffer.alloc(12 * MiB) }, partSize: 5 * MiB, leavePartsOnError: false }).done());
      expect(err).toMatchObject({ name: 'InternalError', status: 500 });
    } finally {
      standin.clearFaults();
    }
    expect(standin.inventory().objects).not.toContain('failed.raw');
  });
});

describe('EC2', () => {
  it('refuses other credentials with AuthFailure; env() plants its secrets and disables IMDS', async () => {
    const stranger = new EC2Client({ endpoint: standin.ec2Url, region: REGION, credentials: { accessKeyId: 'AKIAOTHER', secretAccessKey: 'x' }, maxAttempts: 1 });
    expect(await errorOf(stranger.send(new DescribeImagesCommand({ Owners: ['self'] })))).toMatchObject({ name: 'AuthFailure', status: 401 });
    expect(standin.env()).toMatchObject({ AWS_REGION: REGION, AWS_EC2_METADATA_DISABLED: 'true' });
    expect(standin.env().AWS_SECRET_ACCESS_KEY).toContain(PLANTED);
    expect(standin.env().AWS_SESSION_TOKEN).toContain(PLANTED);
  });

  it('runs the whole flow: import, register, launch (QEMU under OVMF), describe, console, terminate, clean up', async () => {
    const disk = Buffer.alloc(MiB);
    disk.write('tsuite-disk-marker', 0);
    const task = await importDisk('tsuite-r1-pkg.raw', disk);
    expect(task).toMatchObject({ Status: 'completed', Format: 'RAW', DiskImageSize: MiB, UserBucket: { S3Bucket: BUCKET, S3Key: 'tsuite-r1-pkg.raw' } });
    const snaps = await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'], Filters: [{ Name: 'tag:tsuite-run', Values: ['run-1'] }] }));
    expect(snaps.Snapshots?.map((s) => s.SnapshotId)).toEqual([task.SnapshotId]);
    expect(snaps.Snapshots?.[0]).toMatchObject({ State: 'completed', VolumeSize: 1, Tags: TAGS });
    const none = await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'], Filters: [{ Name: 'tag-key', Values: ['nope'] }] }));
    expect(none.Snapshots).toEqual([]);

    const imageId = await registerImage(task.SnapshotId!);
    const images = await ec2.send(new DescribeImagesCommand({ Owners: ['self'], Filters: [{ Name: 'tag:tsuite-owner', Values: ['un*'] }] }));
    expect(images.Images?.[0]).toMatchObject({ ImageId: imageId, BootMode: 'uefi', EnaSupport: true, Architecture: 'x86_64', Tags: TAGS, BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: task.SnapshotId } }] });
    expect(await errorOf(ec2.send(new DeleteSnapshotCommand({ SnapshotId: task.SnapshotId })))).toMatchObject({ name: 'InvalidSnapshot.InUse', status: 400 });

    const run = await ec2.send(new RunInstancesCommand(launchInput(imageId)));
    const id = run.Instances![0]!.InstanceId!;
    expect(run.Instances![0]!.State).toEqual({ Code: 0, Name: 'pending' });
    const running = await until('running', async () => {
      const i = await describeInstance(id);
      return i?.State?.Name === 'running' ? i : undefined;
    }, 30_000);
    expect(running).toMatchObject({ InstanceType: 't3.small', SubnetId: standin.subnetId, PrivateIpAddress: expect.stringMatching(/^172\.31\.0\./), Tags: TAGS, BootMode: 'uefi', MetadataOptions: { HttpTokens: 'required' } });
    expect(running.LaunchTime).toBeInstanceOf(Date);
    expect(standin.qemuPid(id)).toBeGreaterThan(0);
    const byTag = await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag-key', Values: ['tsuite-run'] }, { Name: 'instance-state-name', Values: ['pending', 'running'] }] }));
    expect(byTag.Reservations?.flatMap((r) => r.Instances!.map((i) => i.InstanceId))).toEqual([id]);
    const vols = await ec2.send(new DescribeVolumesCommand({ Filters: [{ Name: 'attachment.instance-id', Values: [id] }] }));
    expect(vols.Volumes?.[0]).toMatchObject({ State: 'in-use', SnapshotId: task.SnapshotId, Tags: TAGS, Attachments: [{ InstanceId: id, DeleteOnTermination: true }] });

    // Under TCG, OVMF may not have written to the serial port yet: only the shape is checked here
    // (the posted/Latest windows are tested on a written log below).
    const latest = await ec2.send(new GetConsoleOutputCommand({ InstanceId: id, Latest: true }));
    expect(latest).toMatchObject({ InstanceId: id, Timestamp: expect.any(Date) });

    const term = await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    expect(term.TerminatingInstances?.[0]).toMatchObject({ InstanceId: id, PreviousState: { Code: 16, Name: 'running' }, CurrentState: { Code: 32, Name: 'shutting-down' } });
    await until('terminated', async () => ((await describeInstance(id))?.State?.Code === 48 ? true : undefined));
    expect(standin.inventory().instances).not.toContain(id);
    expect(standin.inventory().volumes).toEqual([]);
    // Terminating posts the console again: the posted view is now the head of QEMU's whole log.
    const after = await ec2.send(new GetConsoleOutputCommand({ InstanceId: id }));
    // (QEMU opens its serial file while starting up: a machine stopped that early has written none.)
    const log = existsSync(standin.consolePath(id)!) ? readFileSync(standin.consolePath(id)!) : Buffer.alloc(0);
    expect(Buffer.from(after.Output ?? '', 'base64').equals(log.subarray(0, CONSOLE_LIMIT))).toBe(true);

    await ec2.send(new DeregisterImageCommand({ ImageId: imageId }));
    await ec2.send(new DeleteSnapshotCommand({ SnapshotId: task.SnapshotId }));
    expect(await errorOf(ec2.send(new DeleteSnapshotCommand({ SnapshotId: task.SnapshotId })))).toMatchObject({ name: 'InvalidSnapshot.NotFound', status: 400 });
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'tsuite-r1-pkg.raw' }));
    expect(standin.inventory()).toEqual({ instances: [], images: [], snapshots: [], volumes: [], objects: [], importTasks: [] });
  });

  it("describes an instance type as the stand-in's machines are: 1 vCPU and its memory", async () => {
    const r = await ec2.send(new DescribeInstanceTypesCommand({ InstanceTypes: ['t3.small'] }));
    expect(r.InstanceTypes).toMatchObject([{ InstanceType: 't3.small', VCpuInfo: { DefaultVCpus: 1 }, MemoryInfo: { SizeInMiB: 768 }, ProcessorInfo: { SupportedArchitectures: ['x86_64'] } }]);
    expect(await errorOf(ec2.send(new DescribeInstanceTypesCommand({ InstanceTypes: ['nonsense' as 't3.small'] })))).toMatchObject({ name: 'InvalidInstanceType', status: 400 });
  });

  it('rejects a RAW disk that is empty or not a whole number of MiB, as VM Import does', async () => {
    const odd = await importDisk('odd.raw', Buffer.alloc(MiB + 512));
    expect(odd).toMatchObject({ Status: 'deleted', StatusMessage: expect.stringMatching(/^ClientError: Disk validation failed/) });
    const empty = await importDisk('empty.raw', Buffer.alloc(0));
    expect(empty).toMatchObject({ Status: 'deleted', StatusMessage: expect.stringMatching(/^ClientError: Disk validation failed \[Disk image is empty\]/) });
    expect(standin.inventory().snapshots).toEqual([]);
  });

  describe('with an image', () => {
    let snapshotId: string;
    let imageId: string;
    beforeAll(async () => {
      snapshotId = (await importDisk('base.raw', Buffer.alloc(MiB))).SnapshotId!;
      imageId = await registerImage(snapshotId);
    });

    it('refuses a public IP and a launch without a subnet the way EC2 would', async () => {
      const pub = launchInput(imageId, { NetworkInterfaces: [{ DeviceIndex: 0, SubnetId: standin.subnetId, AssociatePublicIpAddress: true }] });
      expect(await errorOf(ec2.send(new RunInstancesCommand(pub)))).toMatchObject({ name: 'UnauthorizedOperation', status: 403 });
      expect(await errorOf(ec2.send(new RunInstancesCommand(launchInput(imageId, { NetworkInterfaces: undefined }))))).toMatchObject({ name: 'VPCIdNotSpecified', status: 400 });
      const wrong = launchInput(imageId, { NetworkInterfaces: [{ DeviceIndex: 0, SubnetId: 'subnet-0nope' }] });
      expect(await errorOf(ec2.send(new RunInstancesCommand(wrong)))).toMatchObject({ name: 'InvalidSubnetID.NotFound' });
    });

    it('serves the posted console as the head of the log and Latest as its most recent 64 KiB', async () => {
      standin.fail('launch-timeout');
      const id = (await ec2.send(new RunInstancesCommand(launchInput(imageId)))).Instances![0]!.InstanceId!;
      await sleep(300);
      expect((await describeInstance(id))?.State?.Name).toBe('pending'); // never boots
      expect((await ec2.send(new GetConsoleOutputCommand({ InstanceId: id }))).Output).toBeUndefined(); // nothing posted yet
      const log = Buffer.concat([Buffer.alloc(CONSOLE_LIMIT, 'a'), Buffer.alloc(10_000, 'b'), Buffer.from('THE END\n')]);
      const path = standin.consolePath(id)!;
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, log);
      await standin.postConsole(id);
      const head = Buffer.from((await ec2.send(new GetConsoleOutputCommand({ InstanceId: id }))).Output!, 'base64');
      expect(head.equals(log.subarray(0, CONSOLE_LIMIT))).toBe(true);
      const tail = Buffer.from((await ec2.send(new GetConsoleOutputCommand({ InstanceId: id, Latest: true }))).Output!, 'base64');
      expect(tail.equals(log.subarray(log.length - CONSOLE_LIMIT))).toBe(true);
      standin.fail('console');
      expect(await errorOf(ec2.send(new GetConsoleOutputCommand({ InstanceId: id })))).toMatchObject({ name: 'InternalError', status: 500 });
      standin.fail('console-empty');
      expect((await ec2.send(new GetConsoleOutputCommand({ InstanceId: id, Latest: true }))).Output).toBeUndefined();
      await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
      await until('terminated', async () => ((await describeInstance(id))?.State?.Name === 'terminated' ? true : undefined));
    });

    it('answers launch, quota, register-image, list and delete faults with EC2 error codes', async () => {
      standin.fail('launch');
      expect(await errorOf(ec2.send(new RunInstancesCommand(launchInput(imageId))))).toMatchObject({ name: 'InsufficientInstanceCapacity', status: 500 });
      standin.fail('quota');
      expect(await errorOf(ec2.send(new RunInstancesCommand(launchInput(imageId))))).toMatchObject({ name: 'VcpuLimitExceeded', status: 400 });
      standin.fail('quota', { code: 'InstanceLimitExceeded' });
      expect(await errorOf(ec2.send(new RunInstancesCommand(launchInput(imageId))))).toMatchObject({ name: 'InstanceLimitExceeded' });
      standin.fail('register-image');
      expect(await errorOf(registerImage(snapshotId))).toMatchObject({ name: 'InvalidParameterValue', status: 400 });
      standin.fail('list');
      expect(await errorOf(ec2.send(new DescribeInstancesCommand({})))).toMatchObject({ name: 'InternalError', status: 500 });
      standin.fail('delete-image');
      expect(await errorOf(ec2.send(new DeregisterImageCommand({ ImageId: imageId })))).toMatchObject({ name: 'InternalError', status: 500 });
      standin.fail('delete-snapshot');
      expect(await errorOf(ec2.send(new DeleteSnapshotCommand({ SnapshotId: snapshotId })))).toMatchObject({ name: 'InternalError', status: 500 });
      expect(standin.inventory()).toMatchObject({ images: [imageId], snapshots: [snapshotId] });

      standin.fail('launch-timeout');
      const id = (await ec2.send(new RunInstancesCommand(launchInput(imageId)))).Instances![0]!.InstanceId!;
      standin.fail('delete-instance');
      expect(await errorOf(ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] })))).toMatchObject({ name: 'InternalError', status: 500 });
      standin.fail('delete-instance', { stuck: true });
      await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
      await sleep(400);
      expect((await describeInstance(id))?.State?.Name).toBe('shutting-down');
      expect(standin.inventory().instances).toContain(id);
    });

    it('shows a guest that powered off by itself as stopped (instance-initiated shutdown)', async () => {
      const id = (await ec2.send(new RunInstancesCommand(launchInput(imageId)))).Instances![0]!.InstanceId!;
      await until('running', async () => ((await describeInstance(id))?.State?.Name === 'running' ? true : undefined), 30_000);
      process.kill(standin.qemuPid(id)!, 'SIGKILL'); // QEMU ends as it does on a guest power-off (-no-reboot)
      const stopped = await until('stopped', async () => {
        const i = await describeInstance(id);
        return i?.State?.Name === 'stopped' ? i : undefined;
      });
      expect(stopped).toMatchObject({ State: { Code: 80 }, StateReason: { Code: 'Client.InstanceInitiatedShutdown' } });
      await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    });

    it('keeps an import task active under operation-hang, and ends it deleted under import-snapshot', async () => {
      standin.fail('import-snapshot');
      expect(await importDisk('fault.raw', Buffer.alloc(MiB))).toMatchObject({ Status: 'deleted', StatusMessage: expect.stringMatching(/^ClientError: Disk validation failed/) });
      standin.fail('operation-hang');
      const hung = await ec2.send(new ImportSnapshotCommand({ DiskContainer: { Format: 'RAW', UserBucket: { S3Bucket: BUCKET, S3Key: 'fault.raw' } } }));
      await sleep(600);
      const d = await ec2.send(new DescribeImportSnapshotTasksCommand({ ImportTaskIds: [hung.ImportTaskId!] }));
      expect(d.ImportSnapshotTasks?.[0]?.SnapshotTaskDetail?.Status).toBe('active');
      expect(standin.inventory().importTasks).toEqual([hung.ImportTaskId]);
    });

    it('cancels an active import task (it ends deleted with a status message and makes no snapshot); unknown ids are refused', async () => {
      const before = standin.inventory().snapshots;
      const cancelled: string[] = [];
      for (const hang of [true, false]) {
        // One task that would never finish, one cancelled while it is reading the object.
        if (hang) standin.fail('operation-hang');
        const task = await ec2.send(new ImportSnapshotCommand({ DiskContainer: { Format: 'RAW', UserBucket: { S3Bucket: BUCKET, S3Key: 'base.raw' } } }));
        cancelled.push(task.ImportTaskId!);
        const cancel = await ec2.send(new CancelImportTaskCommand({ ImportTaskId: task.ImportTaskId, CancelReason: 'tsuite teardown' }));
        expect(cancel).toMatchObject({ ImportTaskId: task.ImportTaskId, PreviousState: 'active', State: 'deleting' });
        const ended = await until('deleted', async () => {
          const d = (await ec2.send(new DescribeImportSnapshotTasksCommand({ ImportTaskIds: [task.ImportTaskId!] }))).ImportSnapshotTasks?.[0]?.SnapshotTaskDetail;
          return d?.Status === 'deleted' ? d : undefined;
        });
        expect(ended).toMatchObject({ StatusMessage: 'tsuite teardown' });
        expect(ended.SnapshotId).toBeUndefined();
        expect(await errorOf(ec2.send(new CancelImportTaskCommand({ ImportTaskId: task.ImportTaskId })))).toMatchObject({ name: 'IncorrectState', status: 400 });
      }
      await sleep(400); // past the import's own steps: the cancelled one made nothing
      expect(standin.inventory().snapshots).toEqual(before);
      for (const t of cancelled) expect(standin.inventory().importTasks).not.toContain(t);
      expect(await errorOf(ec2.send(new CancelImportTaskCommand({ ImportTaskId: 'import-snap-0123456789abcdef0' })))).toMatchObject({ name: 'InvalidConversionTaskId', status: 400 });
      expect(await errorOf(ec2.send(new CancelImportTaskCommand({ ImportTaskId: 'nonsense' })))).toMatchObject({ name: 'InvalidConversionTaskId.Malformed', status: 400 });
    });

    it('tags snapshots, images, instances and volumes with CreateTags (a key again replaces its value); bad ids fail as on EC2', async () => {
      standin.fail('launch-timeout');
      const id = (await ec2.send(new RunInstancesCommand(launchInput(imageId)))).Instances![0]!.InstanceId!;
      const volumeId = (await ec2.send(new DescribeVolumesCommand({ Filters: [{ Name: 'attachment.instance-id', Values: [id] }] }))).Volumes![0]!.VolumeId!;
      const extra = [{ Key: 'Name', Value: 'tsuite-tagged' }, { Key: 'tsuite-owner', Value: 'retagged' }];
      await ec2.send(new CreateTagsCommand({ Resources: [snapshotId, imageId, id, volumeId], Tags: extra }));
      const want = [{ Key: 'tsuite-run', Value: 'run-1' }, { Key: 'tsuite-owner', Value: 'retagged' }, { Key: 'Name', Value: 'tsuite-tagged' }];
      expect((await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [snapshotId] }))).Snapshots?.[0]?.Tags).toEqual(want);
      expect((await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images?.[0]?.Tags).toEqual(want);
      expect((await describeInstance(id))?.Tags).toEqual(want);
      expect((await ec2.send(new DescribeVolumesCommand({ VolumeIds: [volumeId] }))).Volumes?.[0]?.Tags).toEqual(want);
      const byName = await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'], Filters: [{ Name: 'tag:Name', Values: ['tsuite-tagged'] }] }));
      expect(byName.Snapshots?.map((s) => s.SnapshotId)).toEqual([snapshotId]);

      expect(await errorOf(ec2.send(new CreateTagsCommand({ Resources: ['snap-0123456789abcdef0'], Tags: extra })))).toMatchObject({ name: 'InvalidSnapshot.NotFound', status: 400 });
      expect(await errorOf(ec2.send(new CreateTagsCommand({ Resources: ['ami-0123456789abcdef0'], Tags: extra })))).toMatchObject({ name: 'InvalidAMIID.NotFound', status: 400 });
      expect(await errorOf(ec2.send(new CreateTagsCommand({ Resources: ['i-0123456789abcdef0'], Tags: extra })))).toMatchObject({ name: 'InvalidInstanceID.NotFound', status: 400 });
      expect(await errorOf(ec2.send(new CreateTagsCommand({ Resources: ['not-an-id'], Tags: extra })))).toMatchObject({ name: 'InvalidID', status: 400 });
      // All or nothing: a bad id among good ones tags none of them.
      expect(await errorOf(ec2.send(new CreateTagsCommand({ Resources: [snapshotId, 'snap-0123456789abcdef0'], Tags: [{ Key: 'k', Value: 'v' }] })))).toMatchObject({ name: 'InvalidSnapshot.NotFound' });
      expect((await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [snapshotId] }))).Snapshots?.[0]?.Tags).toEqual(want);
      expect(await errorOf(ec2.send(new CreateTagsCommand({ Resources: [snapshotId], Tags: [{ Key: 'aws:x', Value: 'v' }] })))).toMatchObject({ name: 'InvalidParameterValue' });
      await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
      await until('terminated', async () => ((await describeInstance(id))?.State?.Name === 'terminated' ? true : undefined));
    });
  });

  it('logs every call with its service, action and status', () => {
    const ec2Calls = standin.requests.filter((r) => r.service === 'ec2');
    expect(ec2Calls.some((r) => r.action === 'RunInstances' && r.status === 200)).toBe(true);
    expect(ec2Calls.some((r) => r.action === 'GetConsoleOutput' && r.status === 500)).toBe(true);
    expect(standin.requests.every((r) => typeof r.at === 'number')).toBe(true);
  });
});

describe("web identity: CI's keyless sign-in", () => {
  it('exchanges the token file at STS for credentials EC2 accepts, and a refused token fails with STS\'s error', async () => {
    const keep = { ...process.env };
    try {
      for (const k of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']) delete process.env[k];
      Object.assign(process.env, standin.webIdentityEnv());
      const seen = standin.requests.length;
      await new EC2Client({ endpoint: standin.ec2Url, maxAttempts: 1 }).send(new DescribeImagesCommand({ Owners: ['self'] }));
      expect(standin.requests.slice(seen).map((r) => r.action)).toEqual(['AssumeRoleWithWebIdentity', 'DescribeImages']);
      expect(standin.secrets.some((s) => s.includes(PLANTED) && s.startsWith('eyJ'))).toBe(true);
      standin.fail('sts', { times: Infinity });
      await expect(new EC2Client({ endpoint: standin.ec2Url, maxAttempts: 1 }).send(new DescribeImagesCommand({ Owners: ['self'] }))).rejects.toThrow(/verification key/);
      expect(standin.faultsFired).toContain('sts');
    } finally {
      standin.clearFaults();
      for (const k of Object.keys(standin.webIdentityEnv())) delete process.env[k];
      Object.assign(process.env, keep);
    }
  });
});
