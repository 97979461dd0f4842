import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ImagesClient } from '@google-cloud/compute';
import { Storage } from '@google-cloud/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GcpStandin, PLANTED } from '../support/gcp-standin/index.js';
import { BUCKET, clients, gcePackage, insertImage, insertInstance, PROJECT, upload, waitOp, ZONE, type Clients, type Op } from './gcp-clients.js';

/**
 * The GCP stand-in driven only through the official libraries (@google-cloud/storage 7,
 * @google-cloud/compute 6), authenticated by workload identity federation through its STS from
 * GOOGLE_APPLICATION_CREDENTIALS alone: uploads, image import from a real GCE package, a real
 * instance booting it under OVMF with its serial console read incrementally, list filters and
 * paging, every fault switch, and no QEMU left behind.
 */

const LANDMARK = 'tsuite-boot: ready';
const MiB = 1024 * 1024;
const work = mkdtempSync(join(tmpdir(), 'tsuite-test-gcp-standin-'));

/** DONE without error (the library fills an absent `error` with null or an empty message). */
function expectDone(op: Op): void {
  expect(op.status).toBe('DONE');
  expect(op.error?.errors ?? []).toEqual([]);
}

const qemuAlive = (marker: string) => {
  try {
    return execFileSync('pgrep', ['-f', marker], { encoding: 'utf8' }).trim() !== '';
  } catch {
    return false;
  }
};

let pkg: string;
let panicPkg: string;

beforeAll(async () => {
  pkg = await gcePackage(work, 'tsuite.image=gcp', 'tsuite-disk');
  // init= a program that does not exist: PID 1 exits, the kernel panics, -no-reboot ends QEMU.
  panicPkg = await gcePackage(work, 'tsuite.image=gcp init=/nonexistent', 'tsuite-panic');
}, 180_000);

afterAll(() => {
  delete process.env.GOOGLE_APPLICATION_CREDENTIALS;
  rmSync(work, { recursive: true, force: true });
});

describe('GCP stand-in through the official libraries', () => {
  let standin: GcpStandin;
  let c: Clients;
  const vm = 'tsuite-r1-vm';

  beforeAll(async () => {
    standin = await GcpStandin.start({ project: PROJECT, zone: ZONE, bucket: BUCKET, operationWaitMs: 1500 });
    c = clients(standin);
  });
  afterAll(async () => {
    const dir = standin.credentialsFile.replace(/\/[^/]+$/, '');
    await standin.close();
    expect(qemuAlive(dir)).toBe(false);
  });

  it('authenticates both libraries by token exchange from an external_account file alone', async () => {
    const creds = JSON.parse(readFileSync(standin.credentialsFile, 'utf8')) as Record<string, unknown>;
    expect(creds).toMatchObject({ type: 'external_account', subject_token_type: 'urn:ietf:params:oauth:token-type:jwt', token_url: `${standin.url}/v1/token` });
    const [subject, access] = standin.secrets;
    expect(readFileSync((creds.credential_source as { file: string }).file, 'utf8')).toBe(subject);
    expect(subject).toContain(PLANTED);
    expect(access).toContain(PLANTED);
    await c.storage.bucket(BUCKET).getFiles();
    await c.images.list({ project: PROJECT });
    expect(standin.requests.filter((r) => r.path === '/v1/token' && r.status === 200).length).toBeGreaterThanOrEqual(2);
    // A client that does not authenticate (the library's default for a custom endpoint) gets 401.
    const anonymous = new Storage({ apiEndpoint: standin.url, projectId: PROJECT });
    await expect(anonymous.bucket(BUCKET).getFiles()).rejects.toMatchObject({ code: 401 });
  });

  it('stores uploads: resumable in chunks and whole, multipart, with metadata, crc32c and md5', async () => {
    const big = join(work, 'big.bin');
    const bytes = Buffer.alloc(5 * MiB + 12345);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 2654435761) >>> 24;
    writeFileSync(big, bytes);
    const small = join(work, 'small.txt');
    writeFileSync(small, 'small object\n');

    standin.fail('upload'); // the first chunk's PUT: the library asks for the status and resumes
    const before = standin.requests.length;
    const bigObj = await upload(c, big, 'staging/big.bin', { chunkSize: MiB, metadata: { 'tsuite-run': 'r1' } });
    const puts = standin.requests.slice(before).filter((r) => r.method === 'PUT').map((r) => r.status);
    expect(puts).toContain(503);
    expect(puts.filter((s) => s === 308).length).toBeGreaterThanOrEqual(5);
    expect(puts.at(-1)).toBe(200);
    expect(bigObj.metadata).toMatchObject({ size: bytes.length, md5Hash: createHash('md5').update(bytes).digest('base64'), metadata: { 'tsuite-run': 'r1' } });
    const [downloaded] = await bigObj.download();
    expect(downloaded.equals(bytes)).toBe(true);

    const smallObj = await upload(c, small, 'staging/small.txt');
    // CRC-32C of "small object\n" as GCS writes it (base64, big-endian); the library also checked it.
    expect(smallObj.metadata.crc32c).toBe(crc32cOf('small object\n'));
    const [multi] = await c.storage.bucket(BUCKET).upload(small, { destination: 'other/multi.txt', resumable: false, metadata: { metadata: { k: 'v' } } });
    expect(multi.metadata.metadata).toEqual({ k: 'v' });
    expect(multi.metadata.timeCreated).toMatch(/^\d{4}-\d\d-\d\dT/);

    standin.fail('upload', { status: 400, message: 'refused' });
    await expect(c.storage.bucket(BUCKET).upload(small, { destination: 'x.txt', resumable: false })).rejects.toMatchObject({ code: 400 });

    const [staged] = await c.storage.bucket(BUCKET).getFiles({ prefix: 'staging/' });
    expect(staged.map((f) => f.name)).toEqual(['staging/big.bin', 'staging/small.txt']);
    standin.fail('delete-object');
    await expect(multi.delete()).rejects.toMatchObject({ code: 500 });
    await multi.delete();
    // storage retries an idempotent list after a 5xx (one fault absorbed); a 403 it does not.
    standin.fail('list');
    expect((await c.storage.bucket(BUCKET).getFiles())[0]).toHaveLength(2);
    expect(standin.faultsFired.at(-1)).toBe('list');
    standin.fail('list', { status: 403 });
    await expect(c.storage.bucket(BUCKET).getFiles()).rejects.toMatchObject({ code: 403 });
    standin.clearFaults();
    expect(standin.inventory().objects).toEqual(['staging/big.bin', 'staging/small.txt']);
  }, 60_000);

  it('imports a GCE package as an image, and fails the operation for a bad one or an import fault', async () => {
    await upload(c, pkg, 'tsuite-disk.tar.gz');
    const [op] = await insertImage(c, 'tsuite-r1-image', 'tsuite-disk.tar.gz');
    expect(op.latestResponse).toMatchObject({ operationType: 'insert' });
    const done = await waitOp(c, op.latestResponse as Op, false);
    expectDone(done);
    expect((await c.globalOps.get({ project: PROJECT, operation: done.name! }))[0]).toMatchObject({ status: 'DONE', targetLink: expect.stringMatching(/\/global\/images\/tsuite-r1-image$/) });
    const [image] = await c.images.get({ project: PROJECT, image: 'tsuite-r1-image' });
    expect(image).toMatchObject({ status: 'READY', diskSizeGb: '1', labels: { 'tsuite-run': 'r1' }, guestOsFeatures: [{ type: 'UEFI_COMPATIBLE' }] });
    expect(image.creationTimestamp).toMatch(/^\d{4}-/);

    const [bad] = await insertImage(c, 'tsuite-bad-image', 'staging/small.txt');
    const badDone = await waitOp(c, bad.latestResponse as Op, false);
    expect(badDone.error?.errors?.[0]?.code).toBe('INVALID_IMAGE_FILE');
    standin.fail('import');
    const [faulted] = await insertImage(c, 'tsuite-fault-image', 'tsuite-disk.tar.gz');
    expect((await waitOp(c, faulted.latestResponse as Op, false)).error?.errors?.[0]?.code).toBe('INVALID_IMAGE_FILE');
    expect(standin.inventory().images).toEqual(['tsuite-r1-image']);

    // Filters and paging: a second image, then lists page by page (maxResults 1).
    const [bios] = await insertImage(c, 'tsuite-r1-bios', 'tsuite-disk.tar.gz', false, { other: 'x' });
    await waitOp(c, bios.latestResponse as Op, false);
    const listsBefore = standin.requests.filter((r) => r.path.includes('/global/images?')).length;
    const [all] = await c.images.list({ project: PROJECT, maxResults: 1 });
    expect(all.map((i) => i.name)).toEqual(['tsuite-r1-bios', 'tsuite-r1-image']);
    expect(standin.requests.filter((r) => r.path.includes('/global/images?')).length - listsBefore).toBe(2);
    const [labelled] = await c.images.list({ project: PROJECT, filter: 'labels.tsuite-run:*' });
    expect(labelled.map((i) => i.name)).toEqual(['tsuite-r1-image']);
    standin.fail('list');
    await expect(c.images.list({ project: PROJECT })).rejects.toMatchObject({ code: 500 });
  }, 90_000);

  it('boots an instance from the image under OVMF; its serial console reads incrementally to the landmark', async () => {
    const [op] = await insertInstance(c, vm, 'tsuite-r1-image', { 'tsuite-run': 'r1' });
    expectDone(await waitOp(c, op.latestResponse as Op, true));
    const [inst] = await c.instances.get({ project: PROJECT, zone: ZONE, instance: vm });
    expect(inst.status).toBe('RUNNING');
    const nic = inst.networkInterfaces![0]!;
    expect(nic.networkIP).toMatch(/^10\.128\.0\.\d+$/);
    expect(nic.accessConfigs).toEqual([]);
    expect(inst).toMatchObject({ labels: { 'tsuite-run': 'r1' }, serviceAccounts: [], metadata: { items: [{ key: 'serial-port-logging-enable', value: 'true' }] } });
    const cmdline = readFileSync(`/proc/${standin.qemuPid(vm)}/cmdline`, 'utf8').split('\0');
    expect(cmdline.join(' ')).toContain('OVMF_CODE_4M.fd');
    expect(cmdline.join(' ')).toMatch(/snapshot=on/);

    let next = 0;
    let text = '';
    let reads = 0;
    const deadline = Date.now() + 150_000;
    while (!text.includes(LANDMARK) && Date.now() < deadline) {
      const [out] = await c.instances.getSerialPortOutput({ project: PROJECT, zone: ZONE, instance: vm, port: 1, start: next });
      expect(Number(out.start)).toBe(next); // nothing discarded: the window is 1 MiB
      text += out.contents ?? '';
      next = Number(out.next);
      reads++;
      if (!text.includes(LANDMARK)) await sleep(500);
    }
    expect(text).toContain(LANDMARK);
    expect(text).toMatch(/BdsDxe: (loading|starting) Boot/);
    expect(reads).toBeGreaterThan(2);
    // The machine type states the shape the guest really has.
    const [shape] = await c.machineTypes.get({ project: PROJECT, zone: ZONE, machineType: 'e2-small' });
    expect(shape).toMatchObject({ guestCpus: 1, memoryMb: 768 });
    expect(text).toContain('tsuite-boot: cpus=1');
    const ramKb = Number(/tsuite-boot: mem_system_ram_kb=(\d+)/.exec(text)?.[1]);
    expect(Math.abs(ramKb / 1024 - 768)).toBeLessThan(768 * 0.05);
    const onDisk = readFileSync(standin.consolePath(vm)!);
    expect(onDisk.subarray(0, next).toString('utf8')).toBe(text);
    expect(Buffer.byteLength(text)).toBe(next);
  }, 180_000);

  it('launches from an image without UEFI_COMPATIBLE under BIOS, not OVMF', async () => {
    const [op] = await insertInstance(c, 'tsuite-r1-bios-vm', 'tsuite-r1-bios', { 'tsuite-run': 'r1' });
    await waitOp(c, op.latestResponse as Op, true);
    const cmdline = readFileSync(`/proc/${standin.qemuPid('tsuite-r1-bios-vm')}/cmdline`, 'utf8');
    expect(cmdline).not.toContain('OVMF');
    const [del] = await c.instances.delete({ project: PROJECT, zone: ZONE, instance: 'tsuite-r1-bios-vm' });
    expect(await waitOp(c, del.latestResponse as Op, true)).toMatchObject({ status: 'DONE' });
  }, 60_000);

  it('lists instances by label presence, label value and name regex, page by page', async () => {
    standin.fail('launch-timeout');
    const [op] = await insertInstance(c, 'tsuite-r2-stuck', 'tsuite-r1-image', { 'tsuite-run': 'r2' });
    await waitOp(c, op.latestResponse as Op, true);
    const names = async (filter?: string, maxResults?: number) =>
      (await c.instances.list({ project: PROJECT, zone: ZONE, ...(filter ? { filter } : {}), ...(maxResults ? { maxResults } : {}) }))[0].map((i) => i.name);
    expect(await names()).toEqual(['tsuite-r1-vm', 'tsuite-r2-stuck']);
    expect(await names(undefined, 1)).toEqual(['tsuite-r1-vm', 'tsuite-r2-stuck']);
    expect(await names('labels.tsuite-run:*')).toEqual(['tsuite-r1-vm', 'tsuite-r2-stuck']);
    expect(await names('labels.tsuite-run=r1')).toEqual(['tsuite-r1-vm']);
    expect(await names('name eq tsuite-r2-.*')).toEqual(['tsuite-r2-stuck']);
    expect(await names('(labels.tsuite-run = "r2") (status = STAGING)')).toEqual(['tsuite-r2-stuck']);
    expect(await names('labels.nothing:*')).toEqual([]);
  }, 60_000);

  it('fails each compute step on demand, as GCE fails it', async () => {
    // launch-timeout (armed above): accepted, never boots.
    await sleep(1500);
    const [stuck] = await c.instances.get({ project: PROJECT, zone: ZONE, instance: 'tsuite-r2-stuck' });
    expect(stuck.status).toBe('STAGING');
    expect(standin.consolePath('tsuite-r2-stuck')).toBeUndefined();

    standin.fail('quota');
    const quota = await insertInstance(c, 'tsuite-r3-quota', 'tsuite-r1-image', {}).catch((e: unknown) => e);
    // The REST transport surfaces HTTP errors as gaxios errors: status in `code`, Google's body in `message`.
    expect(quota).toMatchObject({ code: 403 });
    const body = JSON.parse((quota as Error).message) as { error: { errors: { reason: string; message: string }[]; details: { reason: string }[] } };
    expect(body.error.errors[0]).toMatchObject({ reason: 'quotaExceeded', message: expect.stringContaining("Quota 'CPUS' exceeded") });
    expect(body.error.details[0]).toMatchObject({ reason: 'QUOTA_EXCEEDED' });

    standin.fail('launch');
    const [launch] = await insertInstance(c, 'tsuite-r3-launch', 'tsuite-r1-image', {});
    expect((await waitOp(c, launch.latestResponse as Op, true)).error?.errors?.[0]?.code).toBe('ZONE_RESOURCE_POOL_EXHAUSTED');
    expect(standin.inventory().instances).not.toContain('tsuite-r3-launch');

    standin.fail('operation-hang');
    const [hang] = await insertInstance(c, 'tsuite-r3-hang', 'tsuite-r1-image', {});
    const [waited] = await c.zoneOps.wait({ project: PROJECT, zone: ZONE, operation: hang.latestResponse!.name! });
    expect(waited.status).toBe('RUNNING');
    const [got] = await c.zoneOps.get({ project: PROJECT, zone: ZONE, operation: hang.latestResponse!.name! });
    expect(got.status).toBe('RUNNING');

    standin.fail('serial');
    await expect(c.instances.getSerialPortOutput({ project: PROJECT, zone: ZONE, instance: vm, port: 1 })).rejects.toMatchObject({ code: 500 });
    // compute 6.x over REST does not retry even a 503 on an idempotent call: the caller sees it.
    standin.fail('serial', { status: 503 });
    const serialCalls = () => standin.requests.filter((r) => r.path.includes('/serialPort')).length;
    const before = serialCalls();
    await expect(c.instances.getSerialPortOutput({ project: PROJECT, zone: ZONE, instance: vm, port: 1 })).rejects.toMatchObject({ code: 503 });
    expect(serialCalls() - before).toBe(1);
    const [tail] = await c.instances.getSerialPortOutput({ project: PROJECT, zone: ZONE, instance: vm, port: 1, start: -64 });
    expect(Buffer.byteLength(tail.contents!)).toBe(64);

    standin.fail('delete-instance');
    await expect(c.instances.delete({ project: PROJECT, zone: ZONE, instance: 'tsuite-r2-stuck' })).rejects.toMatchObject({ code: 500 });
    standin.fail('delete-image');
    await expect(c.images.delete({ project: PROJECT, image: 'tsuite-r1-bios' })).rejects.toMatchObject({ code: 500 });

    const fresh = new ImagesClient({ apiEndpoint: '127.0.0.1', port: standin.port, protocol: 'http', projectId: PROJECT });
    standin.fail('sts');
    await expect(fresh.list({ project: PROJECT })).rejects.toThrow(/invalid_grant/);
    expect(standin.faultsFired).toEqual(expect.arrayContaining(['quota', 'launch', 'operation-hang', 'serial', 'delete-instance', 'delete-image', 'sts', 'launch-timeout']));
  }, 90_000);

  it('deletes instances (stopping QEMU), images and objects', async () => {
    const pid = standin.qemuPid(vm)!;
    for (const name of [vm, 'tsuite-r2-stuck', 'tsuite-r3-hang']) {
      const [del] = await c.instances.delete({ project: PROJECT, zone: ZONE, instance: name });
      expect(await waitOp(c, del.latestResponse as Op, true)).toMatchObject({ status: 'DONE' });
    }
    expect(existsSync(`/proc/${pid}`)).toBe(false);
    await expect(c.instances.get({ project: PROJECT, zone: ZONE, instance: vm })).rejects.toMatchObject({ code: 404 });
    for (const image of ['tsuite-r1-image', 'tsuite-r1-bios']) {
      const [del] = await c.images.delete({ project: PROJECT, image });
      await waitOp(c, del.latestResponse as Op, false);
    }
    const [files] = await c.storage.bucket(BUCKET).getFiles();
    await Promise.all(files.map((f) => f.delete()));
    expect(standin.inventory()).toEqual({ instances: [], images: [], objects: [] });
    // Every API call carried the exchanged token, except the one anonymous probe and session PUTs.
    expect(standin.requests.filter((r) => r.status === 401)).toHaveLength(1);
  }, 60_000);
});

describe('GCP stand-in serial window and machine exit', () => {
  let standin: GcpStandin;
  let c: Clients;

  beforeAll(async () => {
    standin = await GcpStandin.start({ project: PROJECT, zone: ZONE, bucket: BUCKET, serialWindowBytes: 4096, operationWaitMs: 1500 });
    c = clients(standin);
  });
  afterAll(async () => {
    const dir = standin.credentialsFile.replace(/\/[^/]+$/, '');
    await standin.close();
    expect(qemuAlive(dir)).toBe(false);
  });

  it('turns an instance TERMINATED when its machine exits, and reports output older than the window as discarded', async () => {
    await upload(c, panicPkg, 'tsuite-panic.tar.gz');
    const [img] = await insertImage(c, 'tsuite-panic', 'tsuite-panic.tar.gz');
    expectDone(await waitOp(c, img.latestResponse as Op, false));
    const [op] = await insertInstance(c, 'tsuite-panic-vm', 'tsuite-panic', { 'tsuite-run': 'p' });
    await waitOp(c, op.latestResponse as Op, true);
    let status = '';
    for (const until = Date.now() + 150_000; status !== 'TERMINATED' && Date.now() < until; await sleep(1000)) {
      status = (await c.instances.get({ project: PROJECT, zone: ZONE, instance: 'tsuite-panic-vm' }))[0].status ?? '';
    }
    expect(status).toBe('TERMINATED');

    const size = readFileSync(standin.consolePath('tsuite-panic-vm')!).length;
    expect(size).toBeGreaterThan(4096);
    const [out] = await c.instances.getSerialPortOutput({ project: PROJECT, zone: ZONE, instance: 'tsuite-panic-vm', port: 1, start: 0 });
    expect(Number(out.start)).toBe(size - 4096);
    expect(Number(out.next)).toBe(size);
    expect(out.contents).toMatch(/Kernel panic|Attempted to kill init/);
    const [tail] = await c.instances.getSerialPortOutput({ project: PROJECT, zone: ZONE, instance: 'tsuite-panic-vm', port: 1, start: -100 });
    expect(Number(tail.start)).toBe(size - 100);

    const [del] = await c.instances.delete({ project: PROJECT, zone: ZONE, instance: 'tsuite-panic-vm' });
    await waitOp(c, del.latestResponse as Op, true);
  }, 200_000);
});

/** CRC-32C computed here independently of the stand-in (bitwise, no table). */
function crc32cOf(text: string): string {
  let crc = 0xffffffff;
  for (const byte of Buffer.from(text)) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  const b = Buffer.alloc(4);
  b.writeUInt32BE((crc ^ 0xffffffff) >>> 0);
  return b.toString('base64');
}
