import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { FaultSwitch } from './faults.js';
import { fail, googleError, HttpFailure } from './google-errors.js';
import { fingerprint, NAME_RE, type ImageStore } from './images.js';
import { startQemu, type QemuMachine } from '../cloud-standin/instance-qemu.js';
import type { ComputeLinks } from './links.js';
import type { OperationHandle } from './operations.js';

export type InstanceStatus = 'PROVISIONING' | 'STAGING' | 'RUNNING' | 'STOPPING' | 'TERMINATED';

export interface InstanceRecord {
  name: string;
  zone: string;
  dir: string;
  resource: Record<string, unknown> & { status: InstanceStatus };
  machine?: QemuMachine;
}

/** How long PROVISIONING and STAGING last before QEMU starts: long enough for a poll to see them. */
const STEP_MS = 300;

/**
 * Compute Engine instances backed by real machines. instances.insert takes the boot disk's
 * `initializeParams.sourceImage` (a READY image of this project, by partial or full URL); the
 * operation is DONE once QEMU runs the image (status PROVISIONING → STAGING → RUNNING), and the
 * instance turns TERMINATED when QEMU exits on its own (power-off, panic with -no-reboot).
 * instances.delete stops QEMU (STOPPING) and removes the instance. `networkInterfaces[0]` gets a
 * private `networkIP`; `accessConfigs`, `serviceAccounts`, `labels` and `metadata` are kept as sent
 * (no access config means no external IP, as on GCE).
 */
export class InstanceStore {
  private readonly instances = new Map<string, InstanceRecord>();
  /** Every serial log a machine wrote, kept after the instance is deleted (evidence). */
  readonly consoles = new Map<string, string>();
  /** Every instance resource as inserted (after the stand-in filled in its fields), kept after deletion. */
  readonly created: (Record<string, unknown> & { status: InstanceStatus })[] = [];
  private nextId = 4_000_000_000_000_000_000n;
  private nextHost = 2;
  private closing = false;

  constructor(
    private readonly links: ComputeLinks,
    private readonly images: ImageStore,
    private readonly faults: FaultSwitch,
    private readonly opts: { dir: string; memoryMb: number; ownerTag: string },
  ) {}

  get(zone: string, name: string): InstanceRecord | undefined {
    const r = this.instances.get(name);
    return r && r.zone === zone ? r : undefined;
  }

  list(zone: string): InstanceRecord[] {
    return [...this.instances.values()].filter((r) => r.zone === zone).sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  all(): InstanceRecord[] {
    return [...this.instances.values()];
  }

  /** Validates an instances.insert body and records the PROVISIONING instance. */
  create(zone: string, body: Record<string, unknown>): { record: InstanceRecord; image: NonNullable<ReturnType<ImageStore['get']>> } {
    const name = body.name;
    if (typeof name !== 'string' || !NAME_RE.test(name)) fail(400, `Invalid value for field 'resource.name': '${String(name)}'. Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'`);
    if (this.instances.has(name as string)) fail(409, `The resource 'projects/${this.links.project}/zones/${zone}/instances/${String(name)}' already exists`, 'alreadyExists');
    if (typeof body.machineType !== 'string') fail(400, "Invalid value for field 'resource.machineType': ''. Machine type must be specified.");
    const disks = Array.isArray(body.disks) ? (body.disks as Record<string, unknown>[]) : [];
    const boot = disks.find((d) => d.boot) ?? disks[0];
    const sourceImage = (boot?.initializeParams as { sourceImage?: unknown } | undefined)?.sourceImage;
    if (typeof sourceImage !== 'string') fail(400, "Invalid value for field 'resource.disks[0].initializeParams.sourceImage': ''. A boot disk needs a source image.");
    const ref = this.links.parseImage(sourceImage as string);
    const image = ref && ref.project === this.links.project ? this.images.get(ref.name) : undefined;
    if (!image) fail(404, `The resource '${String(sourceImage)}' was not found`, 'notFound');
    if (image!.resource.status !== 'READY') fail(400, `The resource '${image!.resource.selfLink as string}' is not ready`, 'resourceNotReady');
    const quota = this.faults.take('quota');
    if (quota) {
      const message = quota.message ?? `Quota 'CPUS' exceeded.  Limit: 0.0 in region ${zone.replace(/-[a-z]$/, '')}.`;
      throw new HttpFailure(googleError(quota.status ?? 403, message, quota.reason ?? 'quotaExceeded', {
        domain: 'usageLimits',
        details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'QUOTA_EXCEEDED', domain: 'compute.googleapis.com', metadata: { quota_metric: 'compute.googleapis.com/cpus', limit: '0', limit_name: 'CPUS-per-project-region' } }],
      }));
    }
    const guestAccelerators = this.guestAccelerators(zone, body);
    const nics = Array.isArray(body.networkInterfaces) && body.networkInterfaces.length ? (body.networkInterfaces as Record<string, unknown>[]) : [{}];
    const networkIP = `10.128.0.${this.nextHost++}`;
    const now = new Date().toISOString();
    const diskName = String(boot?.deviceName ?? name);
    const resource = {
      kind: 'compute#instance',
      id: String(++this.nextId),
      creationTimestamp: now,
      name: name as string,
      ...(typeof body.description === 'string' ? { description: body.description } : {}),
      machineType: this.links.absolute(body.machineType as string),
      status: 'PROVISIONING' as InstanceStatus,
      zone: this.links.zone(zone),
      canIpForward: false,
      networkInterfaces: nics.map((nic, i) => ({
        kind: 'compute#networkInterface',
        network: this.links.absolute(typeof nic.network === 'string' ? nic.network : 'global/networks/default'),
        ...(typeof nic.subnetwork === 'string' ? { subnetwork: this.links.absolute(nic.subnetwork) } : {}),
        networkIP: i === 0 ? networkIP : `10.128.1.${this.nextHost++}`,
        name: `nic${i}`,
        ...(nic.accessConfigs !== undefined ? { accessConfigs: nic.accessConfigs } : {}),
        fingerprint: fingerprint(nic),
        stackType: 'IPV4_ONLY',
      })),
      disks: [{
        kind: 'compute#attachedDisk',
        type: 'PERSISTENT',
        mode: 'READ_WRITE',
        source: this.links.disk(zone, diskName),
        deviceName: diskName,
        index: 0,
        boot: true,
        autoDelete: boot?.autoDelete !== false,
        interface: 'SCSI',
        guestOsFeatures: image!.resource.guestOsFeatures,
        diskSizeGb: String((boot?.initializeParams as { diskSizeGb?: unknown }).diskSizeGb ?? image!.resource.diskSizeGb),
        architecture: image!.resource.architecture,
      }],
      metadata: { kind: 'compute#metadata', fingerprint: fingerprint(body.metadata), ...(body.metadata as object | undefined) },
      ...(body.serviceAccounts !== undefined ? { serviceAccounts: body.serviceAccounts } : {}),
      selfLink: this.links.instance(zone, name as string),
      scheduling: body.scheduling ?? { onHostMaintenance: 'MIGRATE', automaticRestart: true, preemptible: false, provisioningModel: 'STANDARD' },
      ...(guestAccelerators && { guestAccelerators }),
      ...(body.shieldedInstanceConfig !== undefined ? { shieldedInstanceConfig: body.shieldedInstanceConfig } : {}),
      ...(body.labels ? { labels: body.labels, labelFingerprint: fingerprint(body.labels) } : {}),
      tags: { fingerprint: fingerprint((body.tags as { items?: unknown } | undefined)?.items), ...(body.tags as object | undefined) },
      startRestricted: false,
      deletionProtection: false,
      fingerprint: fingerprint(name),
    };
    const record: InstanceRecord = { name: name as string, zone, dir: join(this.opts.dir, name as string), resource };
    this.instances.set(record.name, record);
    this.created.push(record.resource);
    return { record, image: image! };
  }

  /**
   * `guestAccelerators` as GCE takes them: each `acceleratorType` a partial or full URL of an
   * accelerator type in the instance's zone, a positive count; and an instance with GPUs cannot
   * live-migrate, so `scheduling.onHostMaintenance` must be TERMINATE. Kept as sent, full URLs.
   */
  private guestAccelerators(zone: string, body: Record<string, unknown>): Record<string, unknown>[] | undefined {
    if (body.guestAccelerators === undefined) return undefined;
    const list = Array.isArray(body.guestAccelerators) ? (body.guestAccelerators as Record<string, unknown>[]) : [];
    list.forEach((a, i) => {
      const type = typeof a.acceleratorType === 'string' ? a.acceleratorType : '';
      if (!new RegExp(`(^|/)zones/${zone}/acceleratorTypes/[a-z0-9-]+$`).test(type)) fail(400, `Invalid value for field 'resource.guestAccelerators[${i}].acceleratorType': '${type}'. Accelerator type must be in zone ${zone}.`);
      if (!Number.isInteger(a.acceleratorCount) || (a.acceleratorCount as number) < 1) fail(400, `Invalid value for field 'resource.guestAccelerators[${i}].acceleratorCount': '${String(a.acceleratorCount)}'. Must be a positive integer.`);
    });
    const maintenance = (body.scheduling as { onHostMaintenance?: unknown } | undefined)?.onHostMaintenance;
    if (list.length > 0 && maintenance !== 'TERMINATE') fail(400, "Invalid value for field 'resource.scheduling.onHostMaintenance': 'MIGRATE'. Instances with guest accelerators do not support live migration.");
    return list.map((a) => ({ acceleratorType: this.links.absolute(a.acceleratorType as string), acceleratorCount: a.acceleratorCount }));
  }

  /** Takes the instance to RUNNING on a real QEMU, then ends the insert operation. */
  async launch(record: InstanceRecord, image: NonNullable<ReturnType<ImageStore['get']>>, handle: OperationHandle): Promise<void> {
    handle.running();
    if (!handle.proceeds) return;
    const launchFault = this.faults.take('launch');
    if (launchFault) {
      this.instances.delete(record.name);
      return handle.done({
        code: launchFault.reason ?? 'ZONE_RESOURCE_POOL_EXHAUSTED',
        message: launchFault.message ?? `The zone 'projects/${this.links.project}/zones/${record.zone}' does not have enough resources available to fulfill the request.  Try a different zone, or try again later.`,
        httpStatus: launchFault.status ?? 503,
      });
    }
    await sleep(STEP_MS);
    if (!this.present(record)) return handle.done();
    record.resource.status = 'STAGING';
    if (this.faults.take('launch-timeout')) return handle.done(); // accepted, and never boots
    await sleep(STEP_MS);
    if (!this.present(record)) return handle.done();
    try {
      await mkdir(record.dir, { recursive: true });
      const nic = (record.resource.networkInterfaces as { networkIP: string }[])[0]!;
      record.machine = await startQemu({ dir: record.dir, disk: image.disk!, uefi: image.uefi, memoryMb: this.opts.memoryMb, networkIP: nic.networkIP, tag: `${this.opts.ownerTag}-${record.name}` });
      this.consoles.set(record.name, join(record.dir, 'serial.log'));
      if (!this.present(record)) {
        // Deleted (or the stand-in closed) while QEMU was starting: it must not outlive that.
        await record.machine.kill();
        return handle.done();
      }
    } catch (err) {
      this.instances.delete(record.name);
      return handle.done({ code: 'RESOURCE_OPERATION_FAILED', message: (err as Error).message, httpStatus: 500 });
    }
    record.resource.status = 'RUNNING';
    record.resource.lastStartTimestamp = new Date().toISOString();
    void record.machine.exited.then((exit) => {
      if (record.resource.status === 'RUNNING') {
        record.resource.status = 'TERMINATED';
        record.resource.lastStopTimestamp = new Date().toISOString();
        record.resource.statusMessage = `QEMU exited (${exit.signal ?? `code ${exit.code}`})`;
      }
    });
    handle.done();
  }

  /** Stops the machine and removes the instance, then ends the delete operation. */
  async delete(record: InstanceRecord, handle: OperationHandle): Promise<void> {
    handle.running();
    if (!handle.proceeds) return;
    record.resource.status = 'STOPPING';
    await record.machine?.kill();
    this.instances.delete(record.name);
    handle.done();
  }

  /** Stops every machine (close()). */
  async killAll(): Promise<void> {
    this.closing = true;
    await Promise.all([...this.instances.values()].map((r) => r.machine?.kill()));
  }

  private present(record: InstanceRecord): boolean {
    return !this.closing && this.instances.get(record.name) === record && record.resource.status !== 'STOPPING';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
