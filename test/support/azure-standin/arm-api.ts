import { createWriteStream } from 'node:fs';
import { copyFile, mkdir } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { ArmError } from './arm-errors.js';
import { ArmFailure, armFail, sendJson } from './arm-errors.js';
import { ACCOUNT, azuriteFetch } from './azurite.js';
import type { FaultSwitch } from './faults.js';
import type { Machines } from './machines.js';
import type { Operation, Operations } from './operations.js';
import { type ArmStore, type Kind, type Resource, newGuid } from './resources.js';
import type { StandinTls } from './tls.js';
import { vhdProblem } from './vhd.js';
import type { QemuMachine } from '../cloud-standin/instance-qemu.js';

/** How long each step of the stand-in's work lasts: long enough for a poll to see InProgress. */
const STEP_MS = 200;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface ArmContext {
  store: ArmStore;
  ops: Operations;
  faults: FaultSwitch;
  machines: Machines;
  tls: StandinTls;
  location: string;
  subnetId: string;
  storageAccountId: string;
  dir: string;
  azuritePort: () => number;
  storageToken: () => string;
  origin: () => string;
  blobUrl: () => string;
  osProvisioningTimeoutMs: number;
  /** Every VM's guest memory (its machines boot with it; vmSizes reports it). */
  memoryMb: number;
}

/**
 * Azure Resource Manager under `/subscriptions/{subscriptionId}`: resource groups, and in them
 * Microsoft.Compute images, disks and virtualMachines and Microsoft.Network networkInterfaces,
 * plus the operation status URLs. Any `api-version` is accepted; a request without one is refused
 * as ARM refuses it. See README.md for each contract.
 */
export class ArmApi {
  private nextIp = 4; // Azure keeps .0-.3 of every subnet for itself

  constructor(private readonly c: ArmContext) {}

  async handle(req: IncomingMessage, res: ServerResponse, url: URL, body: () => Record<string, unknown>): Promise<void> {
    if (!url.searchParams.get('api-version')) armFail(400, 'MissingApiVersionParameter', "The api-version query parameter (?api-version=) is required for all requests.");
    const m = /^\/subscriptions\/([^/]+)(\/.*)?$/i.exec(url.pathname)!;
    if (m[1]!.toLowerCase() !== this.c.store.subscriptionId.toLowerCase()) armFail(404, 'SubscriptionNotFound', `The subscription '${m[1]!}' could not be found.`);
    const rest = (m[2] ?? '').split('/').filter(Boolean).map(decodeURIComponent);
    const method = req.method ?? 'GET';
    const lc = rest.map((s) => s.toLowerCase());
    if (lc[0] === 'operationresults' && rest.length === 2 && method === 'GET') return this.c.ops.sendResult(res, rest[1]!, 200);
    if (lc[0] === 'providers' && lc[2] === 'locations' && rest.length === 6 && method === 'GET') {
      if (lc[4] === 'operations') return this.c.ops.sendStatus(res, rest[5]!);
      if (lc[4] === 'operationresults') return this.c.ops.sendResult(res, rest[5]!, 204);
    }
    if (lc[0] === 'resources' && rest.length === 1 && method === 'GET') return this.listResources(res, url);
    if (lc[0] === 'providers' && lc[1] === 'microsoft.compute' && lc[2] === 'locations' && lc[4] === 'vmsizes' && rest.length === 5 && method === 'GET') return this.vmSizes(res);
    if (lc[0] !== 'resourcegroups') armFail(404, 'InvalidResourceType', `The resource type '${rest[0] ?? ''}' could not be found in the namespace 'Microsoft.Resources'.`);
    if (rest.length === 1 && method === 'GET') return this.listGroups(res, url);
    if (rest.length === 2) return this.groupCall(method, rest[1]!, res, body);
    if (lc[2] !== 'providers' || rest.length < 6) armFail(404, 'InvalidResourceType', `Nothing at ${url.pathname}.`);
    const type = `${lc[3]}/${lc[4]}`;
    const kind = ({ 'microsoft.compute/images': 'images', 'microsoft.compute/disks': 'disks', 'microsoft.compute/virtualmachines': 'virtualMachines', 'microsoft.network/networkinterfaces': 'networkInterfaces' } as Record<string, Kind>)[type];
    if (!kind) armFail(404, 'InvalidResourceType', `The resource type '${rest[4]!}' could not be found in the namespace '${rest[3]!}'.`);
    const group = rest[1]!;
    const name = rest[5]!;
    const action = lc[6];
    if (rest.length === 6) {
      if (method === 'GET') {
        const r = this.c.store.get(group, kind!, name);
        return sendJson(res, 200, this.json(r, url.searchParams.get('$expand') === 'instanceView'));
      }
      if (method === 'PUT') return this.put(kind!, group, name, body(), res);
      if (method === 'DELETE') return this.delete(kind!, group, name, res);
    }
    if (kind === 'virtualMachines' && rest.length === 7) {
      const vm = this.c.store.get(group, kind, name);
      if (action === 'instanceview' && method === 'GET') return sendJson(res, 200, this.instanceView(vm));
      if (action === 'retrievebootdiagnosticsdata' && method === 'POST') return this.bootDiagnostics(vm, url, res);
    }
    armFail(405, 'MethodNotAllowed', `The requested resource does not support http method '${method}'.`);
  }

  // ---- the subscription's resources and machine sizes ----

  /**
   * GET /subscriptions/{s}/resources with `$filter=resourceType eq '…' and name eq '…'`: how a caller
   * that knows a resource's name finds its id. The stand-in's resources are its groups' contents plus
   * the storage account that Azurite's well-known account stands for.
   */
  private listResources(res: ServerResponse, url: URL): void {
    const fault = this.c.faults.take('list');
    if (fault) armFail(fault.status ?? 500, fault.code ?? 'InternalServerError', fault.message ?? 'Encountered internal server error.');
    const filter = url.searchParams.get('$filter') ?? '';
    const clauses = filter.split(/\s+and\s+/i).filter((c) => c.trim() !== '');
    const wanted: Record<string, string> = {};
    for (const clause of clauses) {
      const f = /^\s*(resourceType|name)\s+eq\s+'([^']*)'\s*$/i.exec(clause);
      if (!f) armFail(400, 'InvalidFilterInQueryString', `Invalid $filter '${filter}' specified in the query string.`);
      wanted[f![1]!.toLowerCase()] = f![2]!.toLowerCase();
    }
    const account = this.c.storageAccountId.split('/').pop()!;
    const all = [{ id: this.c.storageAccountId, name: account, type: 'Microsoft.Storage/storageAccounts', location: this.c.location, kind: 'StorageV2' }];
    const value = all.filter((r) => (wanted.resourcetype === undefined || r.type.toLowerCase() === wanted.resourcetype) && (wanted.name === undefined || r.name.toLowerCase() === wanted.name));
    sendJson(res, 200, { value });
  }

  /**
   * GET …/providers/Microsoft.Compute/locations/{l}/vmSizes: the shapes a VM may take. Every size
   * has the stand-in's real shape (1 core, the configured memory), as its machines boot with, so a
   * test comparing what the guest sees with what Azure says compares like with like.
   */
  private vmSizes(res: ServerResponse): void {
    const shape = { numberOfCores: 1, memoryInMB: this.c.memoryMb, maxDataDiskCount: 4, osDiskSizeInMB: 1047552 };
    sendJson(res, 200, {
      value: [
        { name: 'Standard_B1s', ...shape, resourceDiskSizeInMB: 4096 },
        { name: 'Standard_B2s', ...shape, resourceDiskSizeInMB: 8192 },
        { name: 'Standard_D2s_v5', ...shape, resourceDiskSizeInMB: 0 },
      ],
    });
  }

  // ---- resource groups ----

  private listGroups(res: ServerResponse, url: URL): void {
    const fault = this.c.faults.take('list');
    if (fault) armFail(fault.status ?? 500, fault.code ?? 'InternalServerError', fault.message ?? 'Encountered internal server error. Diagnostic information: timestamp, subscription id, tracking id, request correlation id.');
    const filter = url.searchParams.get('$filter');
    let groups = [...this.c.store.groups.values()];
    if (filter) {
      const f = /^\s*tagName eq '([^']*)'(?:\s+and\s+tagValue eq '([^']*)')?\s*$/i.exec(filter);
      if (!f) armFail(400, 'InvalidFilterInQueryString', `Invalid $filter '${filter}' specified in the query string. Resource groups take tagName eq 'name' [and tagValue eq 'value'].`);
      groups = groups.filter((g) => Object.entries(g.tags).some(([k, v]) => k.toLowerCase() === f![1]!.toLowerCase() && (f![2] === undefined || v === f![2])));
    }
    groups.sort((a, b) => (a.name.toLowerCase() < b.name.toLowerCase() ? -1 : 1));
    const top = Number(url.searchParams.get('$top') ?? 0);
    if (top > 0) groups = groups.slice(0, top);
    sendJson(res, 200, { value: groups.map((g) => this.c.store.groupJson(g)) });
  }

  private groupCall(method: string, name: string, res: ServerResponse, body: () => Record<string, unknown>): void {
    if (method === 'HEAD') {
      const exists = this.c.store.groups.has(name.toLowerCase());
      return sendJson(res, exists ? 204 : 404, undefined);
    }
    if (method === 'GET') return sendJson(res, 200, this.c.store.groupJson(this.c.store.group(name)));
    if (method === 'PUT') {
      const fault = this.c.faults.take('group');
      if (fault) armFail(fault.status ?? 500, fault.code ?? 'InternalServerError', fault.message ?? 'Encountered internal server error.');
      const { group, created } = this.c.store.putGroup(name, body());
      return sendJson(res, created ? 201 : 200, this.c.store.groupJson(group));
    }
    if (method === 'DELETE') {
      const group = this.c.store.group(name);
      if (group.provisioningState === 'Deleting') armFail(409, 'ResourceGroupBeingDeleted', `The resource group '${group.name}' is in deprovisioning state and cannot perform this operation.`);
      const op = this.c.ops.create('Microsoft.Resources', this.c.location);
      group.provisioningState = 'Deleting';
      sendJson(res, 202, undefined, this.c.ops.groupHeaders(op, this.c.origin()));
      void this.deleteGroup(group.name, op);
      return;
    }
    armFail(405, 'MethodNotAllowed', `The requested resource does not support http method '${method}'.`);
  }

  private async deleteGroup(name: string, op: Operation): Promise<void> {
    await sleep(STEP_MS);
    if (!op.proceeds) return;
    const group = this.c.store.group(name);
    const fault = this.c.faults.take('delete-group');
    if (fault) {
      group.provisioningState = 'Succeeded';
      return op.done({ code: fault.code ?? 'ResourceGroupDeletionBlocked', message: fault.message ?? `Deletion of resource group '${name}' failed as resources with identifiers could not be deleted.`, httpStatus: fault.status ?? 409 });
    }
    const inGroup = this.c.store.list(undefined, name);
    await Promise.all(inGroup.filter((r) => r.kind === 'virtualMachines').map((vm) => (vm.local.machine as QemuMachine | undefined)?.kill()));
    for (const r of inGroup) this.c.store.remove(r);
    this.c.store.groups.delete(name.toLowerCase());
    op.done();
  }

  // ---- resources ----

  private put(kind: Kind, group: string, name: string, body: Record<string, unknown>, res: ServerResponse): void {
    const g = this.c.store.group(group);
    if (g.provisioningState === 'Deleting') armFail(409, 'ResourceGroupBeingDeleted', `The resource group '${g.name}' is in deprovisioning state and cannot perform this operation.`);
    if (body.location !== this.c.location) armFail(400, 'LocationNotAvailableForResourceType', `The provided location '${String(body.location)}' is not available for this stand-in; it serves '${this.c.location}'.`);
    if (this.c.store.find(g.name, kind, name)) armFail(409, 'Conflict', `${kind} '${name}' already exists; this stand-in does not update resources in place.`);
    const props = (body.properties ?? {}) as Record<string, unknown>;
    const namespace = kind === 'networkInterfaces' ? 'Microsoft.Network' : 'Microsoft.Compute';
    let work: (r: Resource, op: Operation) => Promise<void>;
    let r: Resource;
    if (kind === 'images') {
      const os = ((props.storageProfile as Record<string, unknown> | undefined)?.osDisk ?? {}) as Record<string, unknown>;
      if (os.osType !== 'Linux' && os.osType !== 'Windows') armFail(400, 'InvalidParameter', "Required parameter 'osType' is missing or invalid.", 'storageProfile.osDisk.osType');
      if (os.osState !== 'Generalized') armFail(400, 'InvalidParameter', `The value '${String(os.osState)}' of 'osState' is not supported: managed images are made from generalized disks (use Generalized).`, 'storageProfile.osDisk.osState');
      if (typeof os.blobUri !== 'string') armFail(400, 'InvalidParameter', "Required parameter 'blobUri' is missing (null).", 'storageProfile.osDisk.blobUri');
      const blobUri = os.blobUri as string;
      const hyperV = props.hyperVGeneration ?? 'V1';
      r = this.c.store.add(g.name, kind, name, this.c.location, body.tags, {
        storageProfile: { osDisk: { osType: os.osType, osState: os.osState, blobUri, caching: os.caching ?? 'ReadWrite', storageAccountType: os.storageAccountType ?? 'Standard_LRS' }, dataDisks: [] },
        hyperVGeneration: hyperV, provisioningState: 'Creating',
      });
      work = async (res2, op) => {
        const got = await this.importVhd(blobUri, join(this.c.dir, 'images', `${newGuid()}.vhd`), 'image');
        if ('code' in got) return this.fail(res2, op, got);
        res2.local.file = got.file;
        (res2.properties.storageProfile as { osDisk: Record<string, unknown> }).osDisk.diskSizeGB = Math.ceil(got.size / 2 ** 30);
        res2.properties.provisioningState = 'Succeeded';
        op.done();
      };
    } else if (kind === 'disks') {
      const cd = (props.creationData ?? {}) as Record<string, unknown>;
      if (cd.createOption !== 'Import') armFail(400, 'InvalidParameter', `This stand-in makes disks only with createOption 'Import' (got '${String(cd.createOption)}').`, 'creationData.createOption');
      if (typeof cd.sourceUri !== 'string') armFail(400, 'InvalidParameter', "Required parameter 'sourceUri' is missing (null).", 'creationData.sourceUri');
      if (typeof cd.storageAccountId !== 'string') armFail(400, 'InvalidParameter', "Required parameter 'storageAccountId' is missing (null).", 'creationData.storageAccountId');
      if ((cd.storageAccountId as string).toLowerCase() !== this.c.storageAccountId.toLowerCase()) armFail(404, 'StorageAccountNotFound', `The storage account '${cd.storageAccountId as string}' was not found.`);
      const sourceUri = cd.sourceUri as string;
      r = this.c.store.add(g.name, kind, name, this.c.location, body.tags, {
        creationData: { createOption: 'Import', sourceUri, storageAccountId: cd.storageAccountId },
        ...(props.osType ? { osType: props.osType } : {}),
        hyperVGeneration: props.hyperVGeneration ?? 'V1', provisioningState: 'Updating', diskState: 'Unattached', timeCreated: new Date().toISOString(),
      });
      (r as { sku?: unknown }).sku = body.sku ?? { name: 'Standard_LRS', tier: 'Standard' };
      work = async (res2, op) => {
        const got = await this.importVhd(sourceUri, join(this.c.dir, 'disks', `${newGuid()}.vhd`), 'image');
        if ('code' in got) return this.fail(res2, op, got);
        res2.local.file = got.file;
        res2.properties.diskSizeGB = Math.ceil(got.size / 2 ** 30);
        res2.properties.diskSizeBytes = got.size;
        res2.properties.provisioningState = 'Succeeded';
        op.done();
      };
    } else if (kind === 'networkInterfaces') {
      const ipcs = (props.ipConfigurations ?? []) as { name?: string; properties?: Record<string, unknown> }[];
      if (!Array.isArray(ipcs) || ipcs.length !== 1) armFail(400, 'InvalidRequestFormat', 'This stand-in takes exactly one ipConfiguration per network interface.');
      const ipc = ipcs[0]!;
      const subnet = ((ipc.properties?.subnet ?? {}) as { id?: string }).id;
      if (!subnet || subnet.toLowerCase() !== this.c.subnetId.toLowerCase()) armFail(400, 'InvalidResourceReference', `Resource ${subnet ?? '(none)'} referenced by resource /subscriptions/.../networkInterfaces/${name} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region.`);
      if (ipc.properties?.publicIPAddress) armFail(400, 'InvalidResourceReference', 'Public IP addresses are not modelled by this stand-in (tsuite sends none).');
      const ipName = ipc.name ?? 'ipconfig1';
      r = this.c.store.add(g.name, kind, name, this.c.location, body.tags, { provisioningState: 'Updating' });
      const ip = `10.0.0.${this.nextIp++}`;
      Object.assign(r.properties, {
        resourceGuid: newGuid(),
        ipConfigurations: [{ name: ipName, id: `${r.id}/ipConfigurations/${ipName}`, type: 'Microsoft.Network/networkInterfaces/ipConfigurations', properties: { provisioningState: 'Succeeded', privateIPAddress: ip, privateIPAllocationMethod: 'Dynamic', subnet: { id: this.c.subnetId }, primary: true, privateIPAddressVersion: 'IPv4' } }],
        dnsSettings: { dnsServers: [], appliedDnsServers: [] },
        enableAcceleratedNetworking: false, enableIPForwarding: false, nicType: 'Standard',
      });
      work = async (res2, op) => {
        res2.properties.provisioningState = 'Succeeded';
        op.done();
      };
    } else {
      ({ r, work } = this.prepareVm(g.name, name, body, props));
    }
    const op = this.c.ops.create(namespace, this.c.location);
    sendJson(res, 201, this.json(r!, false), this.c.ops.headers(op, this.c.origin(), false));
    void (async () => {
      await sleep(STEP_MS);
      if (!op.proceeds) return;
      try {
        await work(r!, op);
      } catch (err) {
        this.fail(r!, op, { code: 'InternalExecutionError', message: `stand-in error: ${(err as Error).message}` });
      }
    })();
  }

  private fail(r: Resource, op: Operation, error: ArmError & { httpStatus?: number }): void {
    r.properties.provisioningState = 'Failed';
    op.done(error);
  }

  /**
   * Reads a page blob of the stand-in's storage account from Azurite, checks it is a fixed VHD as
   * Azure requires, and copies it into `file`. Answers the error the operation ends with otherwise.
   */
  private async importVhd(blobUri: string, file: string, faultStep: 'image'): Promise<{ file: string; size: number } | ArmError> {
    const fault = this.c.faults.take(faultStep);
    if (fault) return { code: fault.code ?? 'InternalOperationError', message: fault.message ?? 'An internal execution error occurred. Please retry later.' };
    const prefix = `${this.c.blobUrl()}/`;
    if (!blobUri.startsWith(prefix)) return { code: 'InvalidParameter', message: `The blob URI '${blobUri}' is not in storage account '${ACCOUNT}' (${prefix}).`, target: 'blobUri' };
    const path = `/${ACCOUNT}/${blobUri.slice(prefix.length).split('?')[0]!}`;
    const head = await azuriteFetch(this.c.azuritePort(), this.c.tls, this.c.storageToken(), 'HEAD', path);
    head.body.resume();
    if (head.status === 404) return { code: 'InvalidParameter', message: `The blob ${blobUri} does not exist.`, target: 'blobUri' };
    if (head.status !== 200) return { code: 'InternalOperationError', message: `Reading ${blobUri} failed with HTTP ${head.status}.` };
    if (head.headers['x-ms-blob-type'] !== 'PageBlob') return { code: 'InvalidParameter', message: `The blob ${blobUri} is a ${String(head.headers['x-ms-blob-type'])}; a VHD must be a page blob.`, target: 'blobUri' };
    const size = Number(head.headers['content-length']);
    let footer = Buffer.alloc(0);
    if (size >= 512) {
      const f = await azuriteFetch(this.c.azuritePort(), this.c.tls, this.c.storageToken(), 'GET', path, { range: `bytes=${size - 512}-${size - 1}` });
      const parts: Buffer[] = [];
      for await (const ch of f.body) parts.push(ch as Buffer);
      footer = Buffer.concat(parts);
    }
    const problem = vhdProblem(blobUri, size, footer);
    if (problem) return { code: 'BadRequest', message: problem };
    await mkdir(join(file, '..'), { recursive: true });
    const whole = await azuriteFetch(this.c.azuritePort(), this.c.tls, this.c.storageToken(), 'GET', path);
    if (whole.status !== 200) return { code: 'InternalOperationError', message: `Reading ${blobUri} failed with HTTP ${whole.status}.` };
    await pipeline(whole.body, createWriteStream(file));
    return { file, size: size - 512 };
  }

  // ---- virtual machines ----

  private prepareVm(group: string, name: string, body: Record<string, unknown>, props: Record<string, unknown>): { r: Resource; work: (r: Resource, op: Operation) => Promise<void> } {
    const vmSize = (props.hardwareProfile as { vmSize?: unknown } | undefined)?.vmSize;
    if (typeof vmSize !== 'string' || !/^Standard_/.test(vmSize)) armFail(400, 'InvalidParameter', `The value ${String(vmSize)} provided for the VM size is not valid.`, 'vmSize');
    const sp = (props.storageProfile ?? {}) as { imageReference?: { id?: string }; osDisk?: Record<string, unknown> };
    const osDisk = sp.osDisk ?? {};
    let image: Resource | undefined;
    let attach: Resource | undefined;
    if (sp.imageReference) {
      image = sp.imageReference.id ? this.c.store.byId(sp.imageReference.id, 'images') : undefined;
      if (!image) armFail(404, 'NotFound', `The Image '${String(sp.imageReference.id)}' cannot be found in '${this.c.location}' region.`, 'imageReference');
      if (image!.properties.provisioningState !== 'Succeeded') armFail(409, 'ImageNotReady', `The image '${image!.id}' is in state '${image!.properties.provisioningState}'.`);
      if ((osDisk.createOption ?? 'FromImage') !== 'FromImage') armFail(400, 'InvalidParameter', "osDisk.createOption must be 'FromImage' with an imageReference.", 'osDisk.createOption');
      if (!props.osProfile) armFail(400, 'InvalidParameter', "Required parameter 'osProfile' is missing (null).", 'osProfile');
    } else {
      if (osDisk.createOption !== 'Attach') armFail(400, 'InvalidParameter', "Either storageProfile.imageReference or osDisk.createOption 'Attach' with managedDisk.id is required.", 'storageProfile');
      const id = (osDisk.managedDisk as { id?: string } | undefined)?.id;
      attach = id ? this.c.store.byId(id, 'disks') : undefined;
      if (!attach) armFail(404, 'NotFound', `Disk '${String(id)}' was not found.`, 'osDisk.managedDisk.id');
      if (attach!.properties.provisioningState !== 'Succeeded') armFail(409, 'OperationNotAllowed', `Disk '${attach!.name}' is not ready (${attach!.properties.provisioningState}).`);
      if (attach!.properties.diskState !== 'Unattached') armFail(409, 'OperationNotAllowed', `Disk '${attach!.name}' is already attached to ${String(attach!.properties.managedBy ?? 'a VM')}.`);
      if (osDisk.osType !== 'Linux' && osDisk.osType !== 'Windows') armFail(400, 'InvalidParameter', "Required parameter 'osDisk.osType' is missing (null).", 'osDisk.osType');
      if (props.osProfile) armFail(400, 'InvalidParameter', "Parameter 'osProfile' is not allowed.", 'osProfile');
    }
    const nicRefs = ((props.networkProfile as { networkInterfaces?: { id?: string; properties?: Record<string, unknown> }[] } | undefined)?.networkInterfaces ?? []);
    if (nicRefs.length !== 1) armFail(400, 'InvalidParameter', 'This stand-in takes exactly one network interface per VM.', 'networkProfile');
    const nic = nicRefs[0]!.id ? this.c.store.byId(nicRefs[0]!.id, 'networkInterfaces') : undefined;
    if (!nic) armFail(400, 'InvalidResourceReference', `Resource ${String(nicRefs[0]!.id)} referenced by resource virtualMachines/${name} was not found.`);
    if (nic!.properties.virtualMachine) armFail(400, 'NicInUse', `Network Interface ${nic!.id} is used by existing resource ${(nic!.properties.virtualMachine as { id: string }).id}. In order to delete the network interface, it must be dissociated from the resource.`);
    const quota = this.c.faults.take('quota');
    if (quota) armFail(quota.status ?? 409, quota.code ?? 'OperationNotAllowed', quota.message ?? `Operation could not be completed as it results in exceeding approved standardBSFamily Cores quota. Additional details - Deployment Model: Resource Manager, Location: ${this.c.location}, Current Limit: 0, Current Usage: 0, Additional Required: 2, (Minimum) New Limit Required: 2.`);
    const vmId = newGuid();
    const diskName = attach ? attach.name : String(osDisk.name ?? `${name}_OsDisk_1_${newGuid().replace(/-/g, '')}`);
    const r = this.c.store.add(group, 'virtualMachines', name, this.c.location, body.tags, {
      vmId,
      hardwareProfile: { vmSize },
      storageProfile: {
        ...(image ? { imageReference: { id: image.id } } : {}),
        osDisk: {
          osType: image ? (image.properties.storageProfile as { osDisk: { osType: string } }).osDisk.osType : osDisk.osType,
          name: diskName, createOption: image ? 'FromImage' : 'Attach', caching: osDisk.caching ?? 'ReadWrite',
          managedDisk: { id: this.c.store.resourceId(group, 'disks', diskName), storageAccountType: (osDisk.managedDisk as { storageAccountType?: string } | undefined)?.storageAccountType ?? 'Standard_LRS' },
          deleteOption: osDisk.deleteOption ?? 'Detach',
        },
        dataDisks: [],
      },
      ...(props.osProfile ? { osProfile: redactOsProfile(props.osProfile as Record<string, unknown>) } : {}),
      networkProfile: { networkInterfaces: [{ id: nic!.id, properties: { primary: true, deleteOption: nicRefs[0]!.properties?.deleteOption ?? 'Detach' } }] },
      ...(props.diagnosticsProfile ? { diagnosticsProfile: props.diagnosticsProfile } : {}),
      ...(props.securityProfile ? { securityProfile: props.securityProfile } : {}),
      provisioningState: 'Creating',
      timeCreated: new Date().toISOString(),
    });
    r.local.power = 'PowerState/starting';
    nic!.properties.virtualMachine = { id: r.id };
    const work = async (vm: Resource, op: Operation) => {
      const launch = this.c.faults.take('launch');
      if (launch) {
        vm.local.power = 'PowerState/stopped';
        return this.fail(vm, op, { code: launch.code ?? 'AllocationFailed', message: launch.message ?? `Allocation failed. We do not have sufficient capacity for the requested VM size in this region. Read more about improving likelihood of allocation success at http://aka.ms/allocation-guidance`, httpStatus: launch.status });
      }
      if (this.c.faults.take('launch-timeout')) return; // accepted, never allocated
      let disk = attach;
      if (!disk) {
        disk = this.c.store.add(group, 'disks', diskName, this.c.location, undefined, {
          osType: (image!.properties.storageProfile as { osDisk: { osType: string } }).osDisk.osType,
          hyperVGeneration: image!.properties.hyperVGeneration,
          creationData: { createOption: 'FromImage', imageReference: { id: image!.id } },
          provisioningState: 'Succeeded', diskState: 'Attached', timeCreated: new Date().toISOString(),
        });
        disk.local.file = image!.local.file;
      }
      disk.properties.diskState = 'Attached';
      disk.properties.managedBy = vm.id;
      if (!this.present(vm)) return op.done();
      const uefi = disk.properties.hyperVGeneration === 'V2';
      const ip = ((nic!.properties.ipConfigurations as { properties: { privateIPAddress: string } }[])[0]!).properties.privateIPAddress;
      let machine: QemuMachine;
      try {
        machine = await this.c.machines.boot(vmId, vm.name, disk.local.file as string, uefi, ip);
      } catch (err) {
        vm.local.power = 'PowerState/stopped';
        return this.fail(vm, op, { code: 'InternalExecutionError', message: (err as Error).message });
      }
      vm.local.machine = machine;
      if (!this.present(vm)) {
        await machine.kill();
        return op.done();
      }
      vm.local.power = 'PowerState/running';
      void machine.exited.then(() => {
        if (vm.local.power === 'PowerState/running') vm.local.power = 'PowerState/stopped';
      });
      if (image) {
        // A generalized image waits for the guest's provisioning agent to report ready; tsuite's
        // images carry none, so Azure ends the create with OSProvisioningTimedOut (the VM runs on).
        await sleep(this.c.osProvisioningTimeoutMs);
        if (!this.present(vm)) return op.done();
        return this.fail(vm, op, { code: 'OSProvisioningTimedOut', message: `OS Provisioning for VM '${vm.name}' did not finish in the allotted time. The VM may still finish provisioning successfully. Please check provisioning state later. Also, make sure the image has been properly prepared (generalized).` });
      }
      vm.properties.provisioningState = 'Succeeded';
      op.done();
    };
    return { r, work };
  }

  private present(vm: Resource): boolean {
    return !this.c.machines.closing && this.c.store.find(vm.group, 'virtualMachines', vm.name) === vm && vm.properties.provisioningState !== 'Deleting';
  }

  private instanceView(vm: Resource): Record<string, unknown> {
    const ps = vm.properties.provisioningState;
    return {
      computerName: vm.name,
      osName: 'Linux',
      statuses: [
        { code: `ProvisioningState/${ps.toLowerCase()}`, level: ps === 'Failed' ? 'Error' : 'Info', displayStatus: `Provisioning ${ps.toLowerCase()}`, time: vm.properties.timeCreated },
        { code: vm.local.power as string, level: 'Info', displayStatus: `VM ${(vm.local.power as string).split('/')[1]}` },
      ],
      ...(vm.properties.diagnosticsProfile ? { bootDiagnostics: {} } : {}),
    };
  }

  private bootDiagnostics(vm: Resource, url: URL, res: ServerResponse): void {
    const fault = this.c.faults.take('console');
    if (fault) armFail(fault.status ?? 500, fault.code ?? 'InternalExecutionError', fault.message ?? 'An internal execution error occurred. Please retry later.');
    const enabled = (vm.properties.diagnosticsProfile as { bootDiagnostics?: { enabled?: boolean; storageUri?: string } } | undefined)?.bootDiagnostics;
    if (!enabled?.enabled) armFail(409, 'OperationNotAllowed', `Boot diagnostics is not enabled for virtual machine '${vm.name}'.`);
    if (enabled!.storageUri) armFail(409, 'OperationNotAllowed', 'This stand-in serves managed boot diagnostics only (no storageUri).');
    const minutes = Number(url.searchParams.get('sasUriExpirationTimeInMinutes') ?? 120) || 120;
    sendJson(res, 200, this.c.machines.bootDiagnosticsUris(this.c.origin(), vm.properties.vmId as string, vm.name, minutes));
  }

  // ---- deletes ----

  private delete(kind: Kind, group: string, name: string, res: ServerResponse): void {
    this.c.store.group(group);
    const r = this.c.store.find(group, kind, name);
    if (!r) return sendJson(res, 204, undefined); // ARM: deleting what is not there succeeds
    if (kind === 'disks' && r.properties.diskState === 'Attached') armFail(409, 'OperationNotAllowed', `Disk ${r.name} is attached to VM ${String(r.properties.managedBy)}.`);
    if (kind === 'networkInterfaces' && r.properties.virtualMachine) armFail(400, 'NicInUse', `Network Interface ${r.id} is used by existing resource ${(r.properties.virtualMachine as { id: string }).id}. In order to delete the network interface, it must be dissociated from the resource.`);
    const op = this.c.ops.create(kind === 'networkInterfaces' ? 'Microsoft.Network' : 'Microsoft.Compute', this.c.location);
    if (kind === 'virtualMachines') r.properties.provisioningState = 'Deleting';
    sendJson(res, 202, undefined, this.c.ops.headers(op, this.c.origin(), true));
    void (async () => {
      await sleep(STEP_MS);
      if (!op.proceeds) return;
      if (kind === 'virtualMachines') {
        r.local.power = 'PowerState/stopping';
        await (r.local.machine as QemuMachine | undefined)?.kill();
        const os = (r.properties.storageProfile as { osDisk: { managedDisk: { id: string }; deleteOption: string } }).osDisk;
        const disk = this.c.store.byId(os.managedDisk.id, 'disks');
        if (disk) {
          if (os.deleteOption === 'Delete') this.c.store.remove(disk);
          else { disk.properties.diskState = 'Unattached'; delete disk.properties.managedBy; }
        }
        for (const ref of (r.properties.networkProfile as { networkInterfaces: { id: string; properties: { deleteOption: string } }[] }).networkInterfaces) {
          const nic = this.c.store.byId(ref.id, 'networkInterfaces');
          if (!nic) continue;
          if (ref.properties.deleteOption === 'Delete') this.c.store.remove(nic);
          else delete nic.properties.virtualMachine;
        }
      }
      this.c.store.remove(r);
      op.done();
    })();
  }

  private json(r: Resource, withInstanceView: boolean): Record<string, unknown> {
    const j = this.c.store.json(r);
    if (r.kind === 'disks') j.sku = (r as { sku?: unknown }).sku ?? { name: 'Standard_LRS', tier: 'Standard' };
    if (r.kind === 'virtualMachines' && withInstanceView) (j.properties as Record<string, unknown>).instanceView = this.instanceView(r);
    return j;
  }
}

/** ARM never echoes an admin password back. */
function redactOsProfile(p: Record<string, unknown>): Record<string, unknown> {
  const { adminPassword: _pw, customData: _cd, ...rest } = p;
  return rest;
}

export { ArmFailure };
