import { open } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { packageForAzure, unpackAzurePackage } from '../../kernel/images/azure-package.js';
import type { CloudPackage } from '../../kernel/images/gce-package.js';
import type { Progress } from '../../src/core/progress.js';
import type { AzureTargetSettings, TargetDef } from '../../src/core/target.js';
import { NAME_PREFIX } from '../cloud/cloud-labels.js';
import { CloudApiError, type CloudInstance, type CloudPlace, type CloudProvider, type CloudResource, type CloudResourceKind, type SerialChunk } from '../cloud/cloud-provider.js';
import { azureClients, type AzureClients } from './azure-clients.js';
import { azureError, isAbsent } from './azure-errors.js';
import { BootDiagnosticsSerial } from './serial-log.js';

export const AZURE_DEFAULT_VM_SIZE = 'Standard_B2s';
const DEFAULT_OPERATION_TIMEOUT_MS = 15 * 60_000;
/** Page blob writes: at most 4 MiB each, 512-byte aligned (the package is a whole MiB plus a 512-byte footer). */
const PAGE_WRITE_BYTES = 4 * 1024 * 1024;
/** How long a boot-diagnostics SAS URI is asked to live. */
const SAS_MINUTES = 60;

/** What to do when a step fails on Azure. */
const AZURE_FIXES = {
  credentials: 'set AZURE_TENANT_ID and AZURE_CLIENT_ID with AZURE_FEDERATED_TOKEN_FILE (workload identity federation: what the nightly workflow does with GitHub\'s OIDC token) or AZURE_CLIENT_SECRET, or run `az login` locally (see "Cloud targets" in the README)',
  sweep: 'check that the credentials may list and delete resource groups and list blobs: Contributor on the subscription (or a custom role with Microsoft.Resources/subscriptions/resourceGroups/*) and Storage Blob Data Contributor on the storage account',
  group: 'check that the credentials may create resource groups in the subscription (Microsoft.Resources/subscriptions/resourceGroups/write) and that the location exists',
  upload: 'check the storage account and container exist and the credentials hold Storage Blob Data Contributor on the account; then run again',
  import: 'check the credentials may create disks (Microsoft.Compute/disks/write) and read the storage account (Microsoft.Storage/storageAccounts/read), in the same subscription; the package booted locally (see local-proof/)',
  launch: "check the region's vCPU quota for the VM size (Azure portal: Subscriptions > Usage + quotas), that the size exists in the location and supports Hyper-V generation 2, and that the credentials may create VMs and NICs and join the subnet (Microsoft.Network/virtualNetworks/subnets/join/action)",
  console: 'the serial log could not be read: the credentials need Microsoft.Compute/virtualMachines/retrieveBootDiagnosticsData/action; the console read so far is in console.log',
} as const;

/**
 * Blob metadata names must be C# identifiers: `tsuite-run` is stored as `tsuite_run`. Only
 * tsuite's own label keys are mapped back.
 */
export function metadataFromLabels(labels: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(labels).map(([k, v]) => [k.replace(/[^A-Za-z0-9_]/g, '_'), v]));
}

export function labelsFromMetadata(metadata: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(metadata ?? {}).map(([k, v]) => [k.toLowerCase().startsWith('tsuite_') ? k.toLowerCase().replace(/_/g, '-') : k, v]));
}

/** Whether a piece of the package holds only zeros: a page blob reads unwritten pages as zeros. */
export function allZero(piece: Buffer): boolean {
  for (let i = 0; i < piece.length; i += 8) {
    if (i + 8 <= piece.length ? piece.readBigUInt64LE(i) !== 0n : piece.subarray(i).some((b) => b !== 0)) return false;
  }
  return true;
}

/**
 * Microsoft Azure through Microsoft's official libraries: one resource group per session holding
 * the imported OS disk, the NIC and the VM, so teardown is one deletion (plus the staged blob,
 * which lives in the configured storage account). The fixed VHD is staged as a page blob and
 * imported as a managed disk that the VM attaches as a specialized OS disk: a generalized image
 * would make Azure wait for a provisioning agent the kernel under test does not have. The console
 * is the boot-diagnostics serial log. Every failure is a redacted CloudApiError.
 */
export class AzureProvider implements CloudProvider {
  readonly place: CloudPlace;
  readonly packageExtension = 'vhd';
  readonly fixes = AZURE_FIXES;
  readonly groupHolds: readonly CloudResourceKind[] = ['image', 'instance'];
  private readonly subscriptionId: string;
  private readonly location: string;
  private readonly storageAccount: string;
  private readonly containerName: string;
  private readonly subnetId: string;
  private readonly vmSize: string;
  private clientsCache?: AzureClients;
  /** The session's resource group, from createGroup: the disk, NIC and VM go in it. */
  private group?: string;
  private readonly serials = new Map<string, BootDiagnosticsSerial>();

  constructor(private readonly settings: AzureTargetSettings, private readonly operationTimeoutMs = DEFAULT_OPERATION_TIMEOUT_MS) {
    const { subscriptionId, location, storageAccount, container, subnetId } = settings;
    // The config check refuses such a target first; this guards any other caller.
    if (!subscriptionId || !location || !storageAccount || !container || !subnetId) {
      throw new CloudApiError('azure needs an explicit subscriptionId, location, storageAccount, container and subnetId: tsuite assumes no default');
    }
    this.subscriptionId = subscriptionId;
    this.location = location;
    this.storageAccount = storageAccount;
    this.containerName = container;
    this.subnetId = subnetId;
    this.vmSize = settings.vmSize ?? AZURE_DEFAULT_VM_SIZE;
    this.place = { provider: 'azure', where: { subscription: subscriptionId, location, storage: `${storageAccount}/${container}` }, machineType: this.vmSize, firmware: 'uefi' };
  }

  private get clients(): AzureClients {
    this.clientsCache ??= azureClients({ ...this.settings, subscriptionId: this.subscriptionId, storageAccount: this.storageAccount, container: this.containerName });
    return this.clientsCache;
  }

  async close(): Promise<void> {
    this.serials.clear();
  }

  async checkCredentials(): Promise<void> {
    try {
      const token = await this.clients.credential.getToken(this.clients.armScope);
      if (!token) throw new Error('the credential chain returned no token');
    } catch (err) {
      throw new CloudApiError(`no usable Azure credentials: ${azureError(err, 'getting an access token').message}`, undefined, 'NO_CREDENTIALS');
    }
  }

  packageImage(rawDisk: string, progress: Progress): Promise<CloudPackage> {
    return packageForAzure(rawDisk, progress);
  }

  unpackImage(pkg: CloudPackage, intoDir: string): Promise<string> {
    return unpackAzurePackage(pkg.path, intoDir);
  }

  async createGroup(name: string, labels: Record<string, string>, signal: AbortSignal): Promise<CloudResource> {
    // The name tag lets a sweep tell a group whose tags were lost from anything else.
    await this.call(`creating resource group ${name}`, () =>
      this.clients.resources.resourceGroups.createOrUpdate(name, { location: this.location, tags: { ...labels, 'tsuite-name': name } }, { abortSignal: signal }));
    this.group = name;
    return { kind: 'group', name, labels, createdAt: new Date(), location: this.groupLocation() };
  }

  async upload(pkg: CloudPackage, name: string, labels: Record<string, string>, signal: AbortSignal): Promise<CloudResource> {
    const blob = this.clients.container.getPageBlobClient(name);
    const what = `uploading ${this.blobPlace()}/${name}`;
    await this.call(what, () => blob.create(pkg.bytes, { metadata: metadataFromLabels(labels), abortSignal: signal, blobHTTPHeaders: { blobContentType: 'application/octet-stream' } }));
    const file = await open(pkg.path, 'r');
    try {
      const piece = Buffer.alloc(PAGE_WRITE_BYTES);
      for (let offset = 0; offset < pkg.bytes; offset += PAGE_WRITE_BYTES) {
        signal.throwIfAborted();
        const length = Math.min(PAGE_WRITE_BYTES, pkg.bytes - offset);
        const { bytesRead } = await file.read(piece, 0, length, offset);
        if (bytesRead !== length) throw new CloudApiError(`${what}: the package ${pkg.path} ended at ${offset + bytesRead} bytes, not ${pkg.bytes}`);
        const data = piece.subarray(0, length);
        // Unwritten pages read as zeros: a sparse disk costs only its data.
        if (allZero(data)) continue;
        await this.call(what, () => blob.uploadPages(data, offset, length, { abortSignal: signal }));
      }
    } finally {
      await file.close();
    }
    return { kind: 'object', name, labels, createdAt: new Date(), location: this.blobPlace() };
  }

  async importImage(object: CloudResource, name: string, labels: Record<string, string>, signal: AbortSignal): Promise<CloudResource> {
    const group = this.sessionGroup();
    const what = `importing disk ${name}`;
    const storageAccountId = await this.storageAccountId();
    const sourceUri = this.clients.container.getPageBlobClient(object.name).url;
    await this.withDeadline(what, signal, (abortSignal) => this.call(what, () => this.clients.compute.disks.beginCreateOrUpdateAndWait(group, name, {
      location: this.location,
      tags: labels,
      osType: 'Linux',
      // Generation 2: UEFI, which tsuite's GPT + EFI system partition disks need.
      hyperVGeneration: 'V2',
      creationData: { createOption: 'Import', sourceUri, storageAccountId },
    }, { abortSignal })));
    return { kind: 'image', name, labels, createdAt: new Date(), location: this.groupLocation() };
  }

  async launch(image: CloudResource, name: string, labels: Record<string, string>, signal: AbortSignal): Promise<CloudInstance> {
    const group = this.sessionGroup();
    const what = `launching VM ${name}`;
    const nicName = `${name}-nic`;
    const nic = await this.withDeadline(`creating network interface ${nicName}`, signal, (abortSignal) => this.call(`creating network interface ${nicName}`, () =>
      this.clients.network.networkInterfaces.beginCreateOrUpdateAndWait(group, nicName, {
        location: this.location,
        tags: labels,
        // No public IP: the VM is reached, if at all, inside its network.
        ipConfigurations: [{ name: 'primary', subnet: { id: this.subnetId }, privateIPAllocationMethod: 'Dynamic', primary: true }],
      }, { abortSignal })));
    const diskId = `/subscriptions/${this.subscriptionId}/resourceGroups/${group}/providers/Microsoft.Compute/disks/${image.name}`;
    await this.withDeadline(what, signal, (abortSignal) => this.call(what, () => this.clients.compute.virtualMachines.beginCreateOrUpdateAndWait(group, name, {
      location: this.location,
      tags: labels,
      hardwareProfile: { vmSize: this.vmSize },
      // A specialized OS disk: no osProfile, so Azure waits for no provisioning agent.
      storageProfile: { osDisk: { osType: 'Linux', createOption: 'Attach', managedDisk: { id: diskId }, deleteOption: 'Delete' } },
      networkProfile: { networkInterfaces: [{ id: nic.id, primary: true, deleteOption: 'Delete' }] },
      // Managed boot diagnostics (no storageUri): the serial log tsuite reads.
      diagnosticsProfile: { bootDiagnostics: { enabled: true } },
      // Not Trusted Launch: tsuite's GRUB is not signed for Secure Boot.
      securityProfile: { securityType: 'Standard' },
    }, { abortSignal })));
    const deadline = Date.now() + this.operationTimeoutMs;
    for (;;) {
      const state = await this.instanceState({ name });
      if (state === 'running') break;
      if (state !== undefined && this.isStopped(state)) throw new CloudApiError(`${what}: the VM is ${state}, not running`, undefined, 'LAUNCH_STOPPED');
      if (Date.now() >= deadline) throw new CloudApiError(`${what}: the VM stayed ${state ?? 'absent'} for ${this.operationTimeoutMs} ms without running`, undefined, 'LAUNCH_TIMEOUT');
      await sleep(2_000, undefined, { signal });
    }
    const shape = await this.vmShape();
    return {
      resource: { kind: 'instance', name, labels, createdAt: new Date(), location: this.groupLocation() },
      privateIp: nic.ipConfigurations?.[0]?.privateIPAddress ?? undefined,
      cpus: shape?.numberOfCores,
      memoryMb: shape?.memoryInMB,
    };
  }

  async readSerial(instance: CloudResource, start: number, signal?: AbortSignal): Promise<SerialChunk> {
    const group = this.sessionGroup();
    let serial = this.serials.get(instance.name);
    if (!serial) {
      serial = new BootDiagnosticsSerial(async () => {
        const data = await this.call(`reading the boot diagnostics of ${instance.name}`, () =>
          this.clients.compute.virtualMachines.retrieveBootDiagnosticsData(group, instance.name, { sasUriExpirationTimeInMinutes: SAS_MINUTES }));
        if (!data.serialConsoleLogBlobUri) throw new CloudApiError(`reading the boot diagnostics of ${instance.name}: Azure returned no serial log URI (is boot diagnostics on?)`, undefined, 'NO_SERIAL_LOG');
        return data.serialConsoleLogBlobUri;
      });
      this.serials.set(instance.name, serial);
    }
    return serial.read(start, signal);
  }

  async instanceState(instance: Pick<CloudResource, 'name'>): Promise<string | undefined> {
    try {
      const view = await this.clients.compute.virtualMachines.instanceView(this.sessionGroup(), instance.name);
      const power = view.statuses?.find((s) => s.code?.startsWith('PowerState/'));
      return power?.code?.slice('PowerState/'.length) ?? 'starting';
    } catch (err) {
      if (isAbsent(err)) return undefined;
      throw azureError(err, `reading VM ${instance.name}`);
    }
  }

  isStopped(state: string): boolean {
    return state === 'stopped' || state === 'deallocated' || state === 'deallocating' || state === 'stopping';
  }

  async list(): Promise<CloudResource[]> {
    const out: CloudResource[] = [];
    try {
      for await (const g of this.clients.resources.resourceGroups.list()) {
        const name = g.name ?? '';
        const tags = g.tags ?? {};
        if (!('tsuite-run' in tags) && !name.startsWith(NAME_PREFIX)) continue;
        // A group named like tsuite's with no tags at all was created half-way: no labels, an orphan after grace.
        const labels = Object.fromEntries(Object.entries(tags).filter(([k]) => k !== 'tsuite-name'));
        out.push({ kind: 'group', name, labels, createdAt: createdFromLabel(labels), location: `subscription ${this.subscriptionId}` });
      }
      for await (const b of this.clients.container.listBlobsFlat({ prefix: NAME_PREFIX, includeMetadata: true })) {
        out.push({ kind: 'object', name: b.name, labels: labelsFromMetadata(b.metadata), createdAt: b.properties.createdOn, location: this.blobPlace() });
      }
    } catch (err) {
      throw azureError(err, `listing tsuite's resource groups and blobs in subscription ${this.subscriptionId}`);
    }
    return out;
  }

  async delete(resource: Pick<CloudResource, 'kind' | 'name'>, signal?: AbortSignal): Promise<'deleted' | 'absent'> {
    const what = `deleting ${resource.kind} ${resource.name}`;
    try {
      switch (resource.kind) {
        case 'group':
          // Deleting a group deletes the VM, NIC and disk in it, and waits until they are gone.
          await this.clients.resources.resourceGroups.beginDeleteAndWait(resource.name, { abortSignal: signal });
          return 'deleted';
        case 'object': {
          const res = await this.clients.container.getBlobClient(resource.name).deleteIfExists({ abortSignal: signal, deleteSnapshots: 'include' });
          return res.succeeded ? 'deleted' : 'absent';
        }
        case 'image':
          await this.clients.compute.disks.beginDeleteAndWait(this.sessionGroup(), resource.name, { abortSignal: signal });
          return 'deleted';
        case 'instance':
          await this.clients.compute.virtualMachines.beginDeleteAndWait(this.sessionGroup(), resource.name, { abortSignal: signal });
          // The NIC goes with the VM (deleteOption Delete); deleting it again is harmless.
          await this.clients.network.networkInterfaces.beginDeleteAndWait(this.sessionGroup(), `${resource.name}-nic`, { abortSignal: signal });
          return 'deleted';
        default:
          return 'absent';
      }
    } catch (err) {
      if (isAbsent(err)) return 'absent';
      throw azureError(err, what);
    }
  }

  deleteCommand(resource: Pick<CloudResource, 'kind' | 'name'>): string {
    const sub = `--subscription ${this.subscriptionId}`;
    switch (resource.kind) {
      case 'group':
        return `az group delete --name ${resource.name} ${sub} --yes`;
      case 'object':
        return `az storage blob delete --account-name ${this.storageAccount} --container-name ${this.containerName} --name ${resource.name} --auth-mode login`;
      case 'image':
        return `az disk delete --name ${resource.name} --resource-group ${this.group ?? '<group>'} ${sub} --yes`;
      case 'instance':
        return `az vm delete --name ${resource.name} --resource-group ${this.group ?? '<group>'} ${sub} --yes`;
      default:
        return `(azure creates no ${resource.kind}s; nothing to delete)`;
    }
  }

  /** The storage account's resource id, which an Import names: looked up, since the config names only the account. */
  private async storageAccountId(): Promise<string> {
    const what = `finding storage account ${this.storageAccount} in subscription ${this.subscriptionId}`;
    try {
      const filter = `resourceType eq 'Microsoft.Storage/storageAccounts' and name eq '${this.storageAccount}'`;
      for await (const r of this.clients.resources.resources.list({ filter })) {
        if (r.id && r.name?.toLowerCase() === this.storageAccount.toLowerCase()) return r.id;
      }
    } catch (err) {
      throw azureError(err, what);
    }
    throw new CloudApiError(`${what}: no such account is visible to these credentials (it must be in the same subscription)`, 404, 'StorageAccountNotFound');
  }

  private async vmShape(): Promise<{ numberOfCores?: number; memoryInMB?: number } | undefined> {
    try {
      for await (const size of this.clients.compute.virtualMachineSizes.list(this.location)) {
        if (size.name?.toLowerCase() === this.vmSize.toLowerCase()) return size;
      }
    } catch {
      // The shape is for the report only: a subscription that may not list sizes still runs.
    }
    return undefined;
  }

  private sessionGroup(): string {
    if (!this.group) throw new CloudApiError('no resource group: createGroup runs first in a session');
    return this.group;
  }

  private groupLocation(): string {
    return `resource group ${this.group ?? '?'} (${this.location})`;
  }

  private blobPlace(): string {
    return `${this.storageAccount}/${this.containerName}`;
  }

  /** A long-running operation under the operation deadline as well as the run's signal. */
  private async withDeadline<T>(what: string, signal: AbortSignal, run: (abortSignal: AbortSignal) => Promise<T>): Promise<T> {
    const timeout = AbortSignal.timeout(this.operationTimeoutMs);
    try {
      return await run(AbortSignal.any([signal, timeout]));
    } catch (err) {
      if (timeout.aborted && !signal.aborted) throw new CloudApiError(`${what}: not done after ${this.operationTimeoutMs} ms`, undefined, 'OPERATION_TIMEOUT');
      throw err;
    }
  }

  /** One API call whose failure becomes a CloudApiError. */
  private async call<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if ((err as { name?: string })?.name === 'AbortError') throw err;
      throw azureError(err, what);
    }
  }
}

/** The provider of an `azure` target, from its settings. */
export function azureProvider(def: TargetDef): AzureProvider {
  return new AzureProvider(def.azure ?? {}, def.cloud?.operationTimeoutMs);
}

/** Resource groups carry no creation time: tsuite's own label does. */
function createdFromLabel(labels: Record<string, string>): Date | undefined {
  const s = Number(labels['tsuite-created']);
  return Number.isFinite(s) && s > 0 ? new Date(s * 1000) : undefined;
}
