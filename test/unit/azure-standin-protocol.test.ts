import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import { ComputeManagementClient } from '@azure/arm-compute';
import { NetworkManagementClient } from '@azure/arm-network';
import { ResourceManagementClient } from '@azure/arm-resources';
import { BlobServiceClient } from '@azure/storage-blob';
import { AzureStandin } from '../support/azure-standin/index.js';

/**
 * The Azure stand-in against the official SDKs with DefaultAzureCredential (workload identity, as
 * CI), in-process (the stand-in's CA passed as `tlsOptions.ca`) and once in a child process with
 * NODE_EXTRA_CA_CERTS, the way the tsuite CLI reaches it.
 */

const SUB = '00000000-0000-4000-8000-0000000000aa';
const LOC = 'westeurope';
const CONTAINER = 'tsuite-staging';
const MIB = 1024 * 1024;

/** A boot sector that prints a line on COM1 and halts (SeaBIOS boots it). */
function bootSector(): Buffer {
  const code = Buffer.from([0x31, 0xc0, 0x8e, 0xd8, 0xfc, 0xbe, 0x17, 0x7c, 0xac, 0x84, 0xc0, 0x74, 0x06, 0xba, 0xf8, 0x03, 0xee, 0xeb, 0xf5, 0xfa, 0xf4, 0xeb, 0xfe]);
  const s = Buffer.alloc(512);
  code.copy(s, 0);
  Buffer.from('TSUITE-AZURE-BOOT-OK\r\n\0', 'latin1').copy(s, code.length);
  s[510] = 0x55;
  s[511] = 0xaa;
  return s;
}

/** A fixed VHD: the data, then a 512-byte footer written from the VHD specification. */
function fixedVhd(data: Buffer, opts: { cookie?: string; type?: number } = {}): Buffer {
  const f = Buffer.alloc(512);
  f.write(opts.cookie ?? 'conectix', 0, 'latin1');
  f.writeUInt32BE(2, 8); // features: reserved bit
  f.writeUInt32BE(0x00010000, 12);
  f.writeBigUInt64BE(0xffffffffffffffffn, 16); // fixed: no data offset
  f.writeUInt32BE(Math.floor(Date.now() / 1000) - 946684800, 24);
  f.write('tsui', 28, 'latin1');
  f.writeUInt32BE(0x00010000, 32);
  f.write('Wi2k', 36, 'latin1');
  f.writeBigUInt64BE(BigInt(data.length), 40);
  f.writeBigUInt64BE(BigInt(data.length), 48);
  const sectors = data.length / 512; // CHS for a small disk: 16 heads, 63 sectors per track
  f.writeUInt16BE(Math.ceil(sectors / (16 * 63)), 56);
  f[58] = 16;
  f[59] = 63;
  f.writeUInt32BE(opts.type ?? 2, 60);
  for (let i = 68; i < 84; i++) f[i] = (i * 37) & 0xff;
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += f[i]!;
  f.writeUInt32BE(~sum >>> 0, 64);
  return Buffer.concat([data, f]);
}

let standin: AzureStandin;
let cred: TokenCredential;
let resources: ResourceManagementClient;
let compute: ComputeManagementClient;
let network: NetworkManagementClient;
let blobs: BlobServiceClient;
const saved = { ...process.env };
const poll = { updateIntervalInMs: 100 };
/** The SDKs retry 5xx 3 times with exponential backoff (seconds): shortened here, kept on. */
const FAST_RETRY = { retryDelayInMs: 50, maxRetryDelayInMs: 100 };

function clients(credential: TokenCredential) {
  const opts = { endpoint: standin.armUrl, credentialScopes: ['https://management.azure.com/.default'], tlsOptions: { ca: standin.ca }, retryOptions: FAST_RETRY };
  return {
    resources: new ResourceManagementClient(credential, SUB, opts),
    compute: new ComputeManagementClient(credential, SUB, opts),
    network: new NetworkManagementClient(credential, SUB, opts),
  };
}

function credential(): TokenCredential {
  return new DefaultAzureCredential({ authorityHost: standin.authorityHost, disableInstanceDiscovery: true, tlsOptions: { ca: standin.ca } } as ConstructorParameters<typeof DefaultAzureCredential>[0]);
}

async function upload(name: string, bytes: Buffer, chunk = 4 * MIB): Promise<string> {
  const blob = blobs.getContainerClient(CONTAINER).getPageBlobClient(name);
  await blob.create(bytes.length, { metadata: { tsuite_run: 'r1' } });
  for (let off = 0; off < bytes.length; off += chunk) {
    const n = Math.min(chunk, bytes.length - off);
    await blob.uploadPages(bytes.subarray(off, off + n), off, n);
  }
  return blob.url;
}

beforeAll(async () => {
  standin = await AzureStandin.start({ subscriptionId: SUB, location: LOC, storageAccount: 'devstoreaccount1', container: CONTAINER, osProvisioningTimeoutMs: 1500, memoryMb: 128 });
  Object.assign(process.env, standin.env('federated'));
  delete process.env.NODE_EXTRA_CA_CERTS; // read at process start only: in-process clients get tlsOptions
  cred = credential();
  ({ resources, compute, network } = clients(cred));
  blobs = new BlobServiceClient(standin.blobUrl, cred, { tlsOptions: { ca: standin.ca }, retryOptions: { retryDelayInMs: 50, maxRetryDelayInMs: 100 } } as ConstructorParameters<typeof BlobServiceClient>[2]);
}, 60_000);

afterAll(async () => {
  process.env = saved;
  const pid = standin?.azuritePid;
  await standin?.close();
  if (pid) expect(() => process.kill(pid, 0)).toThrow();
});

const G = 'tsuite-r1-s1-abc123-rg';
let vhdUrl = '';
let nicId = '';

describe('azure stand-in, through the official SDKs', () => {
  it('resource groups: create with tags, get, exists, list by tag', async () => {
    const g = await resources.resourceGroups.createOrUpdate(G, { location: LOC, tags: { 'tsuite-run': 'r1', 'tsuite-owner': 'me' } });
    expect(g.id).toBe(`/subscriptions/${SUB}/resourceGroups/${G}`);
    expect((await resources.resourceGroups.checkExistence(G)).body).toBe(true);
    expect((await resources.resourceGroups.checkExistence('nope')).body).toBe(false);
    const listed: string[] = [];
    for await (const x of resources.resourceGroups.list({ filter: "tagName eq 'tsuite-run' and tagValue eq 'r1'" })) listed.push(x.name!);
    expect(listed).toEqual([G]);
    await expect(resources.resourceGroups.get('nope')).rejects.toMatchObject({ statusCode: 404, code: 'ResourceGroupNotFound' });
    // the token came from the federated token file, never from a secret
    expect(standin.requests.some((r) => /oauth2\/v2\.0\/token/.test(r.path) && r.status === 200)).toBe(true);
  });

  it('blob: a page blob round-trips byte for byte, with metadata, and is listed and deleted', async () => {
    const data = Buffer.alloc(MIB);
    bootSector().copy(data, 0);
    for (let i = 512; i < data.length; i += 4096) data.writeUInt32BE(i, i);
    const vhd = fixedVhd(data);
    vhdUrl = await upload('tsuite-r1-pkg.vhd', vhd, 256 * 1024);
    const back = await blobs.getContainerClient(CONTAINER).getPageBlobClient('tsuite-r1-pkg.vhd').downloadToBuffer();
    expect(back.equals(vhd)).toBe(true);
    const seen: { name: string; metadata?: Record<string, string> }[] = [];
    for await (const b of blobs.getContainerClient(CONTAINER).listBlobsFlat({ includeMetadata: true })) seen.push(b);
    expect(seen).toEqual([expect.objectContaining({ name: 'tsuite-r1-pkg.vhd', metadata: { tsuite_run: 'r1' } })]);
    await upload('scratch.vhd', Buffer.alloc(1024));
    expect(standin.inventory().blobs).toEqual([`${CONTAINER}/scratch.vhd`, `${CONTAINER}/tsuite-r1-pkg.vhd`]);
    await blobs.getContainerClient(CONTAINER).getPageBlobClient('scratch.vhd').delete();
    expect(standin.inventory().blobs).toEqual([`${CONTAINER}/tsuite-r1-pkg.vhd`]);
  });

  it('images and disks are made only from a good fixed VHD', async () => {
    const image = await compute.images.beginCreateOrUpdateAndWait(G, 'img', {
      location: LOC, hyperVGeneration: 'V2',
      storageProfile: { osDisk: { osType: 'Linux', osState: 'Generalized', blobUri: vhdUrl } },
    }, poll);
    expect(image.provisioningState).toBe('Succeeded');
    expect(image.id).toBe(`/subscriptions/${SUB}/resourceGroups/${G}/providers/Microsoft.Compute/images/img`);
    const bad = await upload('bad.vhd', fixedVhd(Buffer.alloc(MIB), { cookie: 'notavhd!' }));
    await expect(compute.images.beginCreateOrUpdateAndWait(G, 'bad', { location: LOC, storageProfile: { osDisk: { osType: 'Linux', osState: 'Generalized', blobUri: bad } } }, poll))
      .rejects.toThrow(/long-running operation has failed\. BadRequest\. .*cookie value 'conectix'/);
    const dynamic = await upload('dyn.vhd', fixedVhd(Buffer.alloc(MIB), { type: 3 }));
    await expect(compute.disks.beginCreateOrUpdateAndWait(G, 'dyn', { location: LOC, creationData: { createOption: 'Import', sourceUri: dynamic, storageAccountId: standin.storageAccountId } }, poll))
      .rejects.toThrow(/only fixed VHDs/);
    const odd = await upload('odd.vhd', fixedVhd(Buffer.alloc(MIB + 512)));
    await expect(compute.disks.beginCreateOrUpdateAndWait(G, 'odd', { location: LOC, creationData: { createOption: 'Import', sourceUri: odd, storageAccountId: standin.storageAccountId } }, poll))
      .rejects.toThrow(/whole number \(in MBs\)/);
    const disk = await compute.disks.beginCreateOrUpdateAndWait(G, 'osdisk', {
      location: LOC, osType: 'Linux', hyperVGeneration: 'V1',
      creationData: { createOption: 'Import', sourceUri: vhdUrl, storageAccountId: standin.storageAccountId },
    }, poll);
    expect(disk).toMatchObject({ provisioningState: 'Succeeded', diskState: 'Unattached', diskSizeBytes: MIB });
  });

  it('a NIC takes a private address in the given subnet, and only there', async () => {
    const nic = await network.networkInterfaces.beginCreateOrUpdateAndWait(G, 'nic', {
      location: LOC, ipConfigurations: [{ name: 'ipconfig1', subnet: { id: standin.subnetId }, privateIPAllocationMethod: 'Dynamic' }],
    }, poll);
    expect(nic.ipConfigurations![0]!.privateIPAddress).toBe('10.0.0.4');
    nicId = nic.id!;
    await expect(network.networkInterfaces.beginCreateOrUpdateAndWait(G, 'nic2', {
      location: LOC, ipConfigurations: [{ name: 'ipconfig1', subnet: { id: `${standin.subnetId}x` } }],
    }, poll)).rejects.toMatchObject({ code: 'InvalidResourceReference' });
  });

  it('a VM boots the imported disk; boot diagnostics serve its serial log', async () => {
    const vm = await compute.virtualMachines.beginCreateOrUpdateAndWait(G, 'vm', {
      location: LOC, hardwareProfile: { vmSize: 'Standard_B2s' },
      storageProfile: { osDisk: { createOption: 'Attach', osType: 'Linux', managedDisk: { id: `/subscriptions/${SUB}/resourceGroups/${G}/providers/Microsoft.Compute/disks/osdisk` }, deleteOption: 'Delete' } },
      networkProfile: { networkInterfaces: [{ id: nicId, primary: true, deleteOption: 'Delete' }] },
      diagnosticsProfile: { bootDiagnostics: { enabled: true } },
    }, poll);
    expect(vm.provisioningState).toBe('Succeeded');
    const view = await compute.virtualMachines.instanceView(G, 'vm');
    expect(view.statuses!.map((s) => s.code)).toContain('PowerState/running');
    const diag = await compute.virtualMachines.retrieveBootDiagnosticsData(G, 'vm', { sasUriExpirationTimeInMinutes: 60 });
    expect(diag.serialConsoleLogBlobUri).toMatch(/[?&]sig=/);
    let log = '';
    for (let i = 0; i < 100 && !log.includes('TSUITE-AZURE-BOOT-OK'); i++) {
      const r = await fetchWithCa(diag.serialConsoleLogBlobUri!);
      log = r.status === 200 ? r.body : '';
      if (!log.includes('TSUITE-AZURE-BOOT-OK')) await new Promise((res) => setTimeout(res, 200));
    }
    expect(log).toContain('TSUITE-AZURE-BOOT-OK');
    expect(readFileSync(standin.consolePath('vm')!, 'utf8')).toContain('TSUITE-AZURE-BOOT-OK');
    const forged = diag.serialConsoleLogBlobUri!.replace(/sig=[^&]+/, 'sig=forged');
    expect((await fetchWithCa(forged)).status).toBe(403);
    // a disk whose import failed stays, provisioningState Failed, as an ARM resource does
    expect(standin.inventory().disks).toEqual([`${G}/dyn`, `${G}/odd`, `${G}/osdisk`]);
  });

  it('a generalized image needs osProfile, and without a provisioning agent ends OSProvisioningTimedOut', async () => {
    const nic = await network.networkInterfaces.beginCreateOrUpdateAndWait(G, 'nic-g', { location: LOC, ipConfigurations: [{ name: 'ipconfig1', subnet: { id: standin.subnetId } }] }, poll);
    const body = {
      location: LOC, hardwareProfile: { vmSize: 'Standard_B2s' },
      storageProfile: { imageReference: { id: `/subscriptions/${SUB}/resourceGroups/${G}/providers/Microsoft.Compute/images/img` }, osDisk: { createOption: 'FromImage' } },
      networkProfile: { networkInterfaces: [{ id: nic.id! }] },
      diagnosticsProfile: { bootDiagnostics: { enabled: true } },
    };
    await expect(compute.virtualMachines.beginCreateOrUpdateAndWait(G, 'vm-g', body, poll)).rejects.toMatchObject({ statusCode: 400, code: 'InvalidParameter' });
    await expect(compute.virtualMachines.beginCreateOrUpdateAndWait(G, 'vm-g', { ...body, osProfile: { computerName: 'g', adminUsername: 'tsuite', adminPassword: 'Pw-1234567890!' } }, poll))
      .rejects.toThrow(/failed\. OSProvisioningTimedOut\./);
    expect(standin.inventory().disks).toEqual([`${G}/dyn`, `${G}/odd`, `${G}/osdisk`, expect.stringMatching(new RegExp(`^${G}/vm-g_OsDisk_1_[0-9a-f]{32}$`))]);
    await compute.virtualMachines.beginDeleteAndWait(G, 'vm-g', poll);
  });

  it('each fault fails its step the way Azure does', async () => {
    standin.fail('token');
    await expect(credential().getToken('https://management.azure.com/.default')).rejects.toThrow(/AADSTS700213/);
    standin.fail('upload', { times: Infinity });
    await expect(upload('f.vhd', Buffer.alloc(1024))).rejects.toMatchObject({ statusCode: 503, code: 'ServerBusy' });
    standin.clearFaults();
    standin.fail('delete-blob', { times: Infinity });
    await expect(blobs.getContainerClient(CONTAINER).getPageBlobClient('f.vhd').delete()).rejects.toMatchObject({ statusCode: 500 });
    standin.clearFaults();
    standin.fail('list', { times: Infinity });
    await expect(blobs.getContainerClient(CONTAINER).listBlobsFlat().next()).rejects.toMatchObject({ statusCode: 500 });
    await expect(resources.resourceGroups.list().next()).rejects.toMatchObject({ statusCode: 500 });
    standin.clearFaults();
    standin.fail('group', { times: Infinity });
    await expect(resources.resourceGroups.createOrUpdate('g2', { location: LOC })).rejects.toMatchObject({ statusCode: 500, code: 'InternalServerError' });
    standin.clearFaults();
    standin.fail('image');
    await expect(compute.images.beginCreateOrUpdateAndWait(G, 'img-f', { location: LOC, storageProfile: { osDisk: { osType: 'Linux', osState: 'Generalized', blobUri: vhdUrl } } }, poll)).rejects.toThrow(/failed\. InternalOperationError\./);
    const disk = (name: string) => compute.disks.beginCreateOrUpdateAndWait(G, name, { location: LOC, osType: 'Linux', creationData: { createOption: 'Import', sourceUri: vhdUrl, storageAccountId: standin.storageAccountId } }, poll);
    const nic = (name: string) => network.networkInterfaces.beginCreateOrUpdateAndWait(G, name, { location: LOC, ipConfigurations: [{ name: 'ipconfig1', subnet: { id: standin.subnetId } }] }, poll);
    const vmBody = (d: string, n: string) => ({
      location: LOC, hardwareProfile: { vmSize: 'Standard_B2s' },
      storageProfile: { osDisk: { createOption: 'Attach', osType: 'Linux', managedDisk: { id: `/subscriptions/${SUB}/resourceGroups/${G}/providers/Microsoft.Compute/disks/${d}` } } },
      networkProfile: { networkInterfaces: [{ id: `/subscriptions/${SUB}/resourceGroups/${G}/providers/Microsoft.Network/networkInterfaces/${n}` }] },
      diagnosticsProfile: { bootDiagnostics: { enabled: true } },
    });
    await disk('d-f');
    await nic('n-f');
    standin.fail('quota');
    await expect(compute.virtualMachines.beginCreateOrUpdateAndWait(G, 'vm-q', vmBody('d-f', 'n-f'), poll)).rejects.toMatchObject({ statusCode: 409, code: 'OperationNotAllowed', message: expect.stringContaining('quota') });
    standin.fail('launch');
    await expect(compute.virtualMachines.beginCreateOrUpdateAndWait(G, 'vm-l', vmBody('d-f', 'n-f'), poll)).rejects.toThrow(/failed\. AllocationFailed\./);
    await disk('d-t');
    await nic('n-t');
    standin.fail('launch-timeout');
    const poller = await compute.virtualMachines.beginCreateOrUpdate(G, 'vm-t', vmBody('d-t', 'n-t'), poll);
    await new Promise((r) => setTimeout(r, 1000));
    await poller.poll();
    expect(poller.isDone()).toBe(false);
    expect((await compute.virtualMachines.instanceView(G, 'vm-t')).statuses!.map((s) => s.code)).not.toContain('PowerState/running');
    standin.fail('operation-hang');
    const hung = await compute.images.beginCreateOrUpdate(G, 'img-h', { location: LOC, storageProfile: { osDisk: { osType: 'Linux', osState: 'Generalized', blobUri: vhdUrl } } }, poll);
    await new Promise((r) => setTimeout(r, 800));
    await hung.poll();
    expect(hung.isDone()).toBe(false);
    standin.fail('console', { times: Infinity });
    await expect(compute.virtualMachines.retrieveBootDiagnosticsData(G, 'vm')).rejects.toMatchObject({ statusCode: 500 });
    standin.clearFaults();
    standin.fail('console-empty');
    const diag = await compute.virtualMachines.retrieveBootDiagnosticsData(G, 'vm');
    expect(await fetchWithCa(diag.serialConsoleLogBlobUri!)).toEqual({ status: 200, body: '' });
    standin.fail('delete-group');
    await expect(resources.resourceGroups.beginDeleteAndWait(G, poll)).rejects.toMatchObject({ statusCode: 409, code: 'ResourceGroupDeletionBlocked' });
    expect(standin.inventory().groups).toEqual([G]);
    expect(standin.faultsFired).toEqual(expect.arrayContaining(['token', 'upload', 'delete-blob', 'list', 'group', 'image', 'quota', 'launch', 'launch-timeout', 'operation-hang', 'console', 'console-empty', 'delete-group']));
  });

  it('deleting the group deletes everything in it and stops its machines', async () => {
    await resources.resourceGroups.beginDeleteAndWait(G, poll);
    const inv = standin.inventory();
    expect({ ...inv, blobs: [] }).toEqual({ groups: [], images: [], vms: [], nics: [], disks: [], blobs: [] });
    await expect(resources.resourceGroups.beginDeleteAndWait(G, poll)).rejects.toMatchObject({ statusCode: 404 });
  });

  it('a child process reaches it with only the environment (client secret, NODE_EXTRA_CA_CERTS)', async () => {
    const script = `
      import { DefaultAzureCredential } from '@azure/identity';
      import { ResourceManagementClient } from '@azure/arm-resources';
      const cred = new DefaultAzureCredential({ disableInstanceDiscovery: true });
      const c = new ResourceManagementClient(cred, '${SUB}', { endpoint: '${standin.armUrl}', credentialScopes: ['https://management.azure.com/.default'] });
      const g = await c.resourceGroups.createOrUpdate('child-rg', { location: '${LOC}' });
      console.log('made ' + g.name);`;
    const env = { ...saved, ...standin.env('secret') };
    delete env.AZURE_FEDERATED_TOKEN_FILE;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { env, cwd: process.cwd() });
    expect(stdout.trim()).toBe('made child-rg');
    expect(standin.inventory().groups).toEqual(['child-rg']);
    for (const s of standin.secrets) expect(stdout).not.toContain(s);
  });
});

async function fetchWithCa(url: string): Promise<{ status: number; body: string }> {
  const { request } = await import('node:https');
  return new Promise((resolve, reject) => {
    request(url, { ca: standin.ca }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject).end();
  });
}
