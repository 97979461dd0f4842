import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { protos } from '@google-cloud/compute';
import { packageForGce, unpackGcePackage, type CloudPackage } from '../../kernel/images/gce-package.js';
import type { Progress } from '../../src/core/progress.js';
import type { GcpTargetSettings, TargetDef } from '../../src/core/target.js';
import { NAME_PREFIX } from '../cloud/cloud-labels.js';
import { CloudApiError, type CloudInstance, type CloudPlace, type CloudProvider, type CloudResource, type SerialChunk } from '../cloud/cloud-provider.js';
import { gcpClients, type GcpClients } from './gcp-clients.js';
import { googleError, isNotFound } from './gcp-errors.js';
import { waitForOperation } from './gcp-operations.js';
import { gcpInstanceResource } from './gcp-instance.js';
import { gcpGuestAccelerators } from './gcp-accelerator.js';
import type { AcceleratorDef } from '../../src/core/accelerator.js';

type Operation = protos.google.cloud.compute.v1.IOperation;

export const GCP_DEFAULT_MACHINE_TYPE = 'e2-small';
const DEFAULT_OPERATION_TIMEOUT_MS = 15 * 60_000;
/** Only tsuite's own resources are listed: its names all start with this (GCE's regex filter syntax). */
const NAME_FILTER = `name eq ${NAME_PREFIX}.*`;
/** A multiple of 256 KiB, as GCS requires of every chunk but the last. */
const UPLOAD_CHUNK_BYTES = 8 * 1024 * 1024;
/** The async iterators page by themselves; saying so keeps the library from warning on every list. */
const LIST_OPTIONS = { autoPaginate: false } as const;

/** What to do when a step fails on GCP. */
const GCP_FIXES = {
  credentials: 'set GOOGLE_APPLICATION_CREDENTIALS, run `gcloud auth application-default login`, or use workload identity federation in CI (see "Cloud targets" in the README)',
  sweep: 'check that the credentials may list instances, images and objects (see "Cloud targets" in the README)',
  upload: 'check the bucket exists and the credentials may create objects in it; then run again',
  launch: "check the zone's quota and that the machine type exists there; the credentials need compute.instances.create",
  console: 'the serial port could not be read: check compute.instances.getSerialPortOutput is allowed; the console read so far is in console.log',
} as const;

/**
 * Google Compute Engine through Google's official libraries: the package staged in Cloud Storage,
 * imported as a UEFI image, launched with no external IP and no service account; the console
 * from getSerialPortOutput. Every failure is a redacted CloudApiError.
 */
export class GcpProvider implements CloudProvider {
  readonly place: CloudPlace;
  readonly packageExtension = 'tar.gz';
  readonly fixes = GCP_FIXES;
  private readonly project: string;
  private readonly zone: string;
  private readonly bucket: string;
  private readonly machineType: string;
  private clientsCache?: GcpClients;

  constructor(private readonly settings: GcpTargetSettings, private readonly operationTimeoutMs = DEFAULT_OPERATION_TIMEOUT_MS, private readonly accelerator?: AcceleratorDef) {
    const { project, zone, bucket } = settings;
    // The config check refuses such a target first; this guards any other caller.
    if (!project || !zone || !bucket) throw new CloudApiError('gcp needs an explicit project, zone and bucket: tsuite assumes no default');
    this.project = project;
    this.zone = zone;
    this.bucket = bucket;
    this.machineType = settings.machineType ?? GCP_DEFAULT_MACHINE_TYPE;
    // Attached GPUs make another machine (results, bench fingerprints): they are part of its name.
    const attached = gcpGuestAccelerators(zone, this.machineType, accelerator).length > 0 && accelerator;
    const shape = attached ? `${this.machineType} + ${attached.count} × ${attached.type}` : this.machineType;
    this.place = { provider: 'gcp', where: { project, zone, bucket: `gs://${bucket}` }, machineType: shape, firmware: 'uefi' };
  }

  private get clients(): GcpClients {
    this.clientsCache ??= gcpClients({ ...this.settings, project: this.project });
    return this.clientsCache;
  }

  async close(): Promise<void> {
    await this.clientsCache?.close();
  }

  async checkCredentials(): Promise<void> {
    try {
      // The libraries resolve credentials lazily and, when there are none, reject where no caller
      // can catch it: asking for a token first turns "no credentials" into an ordinary error.
      await this.clients.images.auth.getAccessToken();
    } catch (err) {
      throw new CloudApiError(`no usable Google credentials: ${googleError(err, 'getting an access token').message}`, undefined, 'NO_CREDENTIALS');
    }
  }

  packageImage(rawDisk: string, progress: Progress): Promise<CloudPackage> {
    return packageForGce(rawDisk, progress);
  }

  unpackImage(pkg: CloudPackage, intoDir: string): Promise<string> {
    return unpackGcePackage(pkg.path, intoDir);
  }

  async upload(pkg: CloudPackage, name: string, labels: Record<string, string>, signal: AbortSignal): Promise<CloudResource> {
    const file = this.clients.storage.bucket(this.bucket).file(name);
    const metadata = { contentType: 'application/gzip', metadata: labels };
    // Only if no such object exists: with a precondition the library may retry a failed chunk.
    const preconditionOpts = { ifGenerationMatch: 0 };
    try {
      // Resumable: a multi-GiB package survives a dropped connection; labels ride as object metadata.
      // The session is opened first, by an authenticated call; its URI (itself a credential, never
      // printed) then carries the bytes.
      const [uri] = await file.createResumableUpload({ metadata, preconditionOpts });
      // In chunks: the library keeps one chunk in memory and sends it again after a 5xx or a
      // dropped connection, instead of giving up on a stream it cannot rewind.
      await pipeline(createReadStream(pkg.path), file.createWriteStream({ uri, resumable: true, metadata, preconditionOpts, chunkSize: UPLOAD_CHUNK_BYTES }), { signal });
    } catch (err) {
      if (signal.aborted) throw err;
      throw googleError(err, `uploading gs://${this.bucket}/${name}`);
    }
    return { kind: 'object', name, labels, createdAt: new Date(), location: `gs://${this.bucket}` };
  }

  async importImage(object: CloudResource, name: string, labels: Record<string, string>, signal: AbortSignal): Promise<CloudResource> {
    const what = `importing image ${name}`;
    const op = await this.call(what, () => this.clients.images.insert({
      project: this.project,
      imageResource: {
        name, labels, architecture: 'X86_64',
        description: 'tsuite test image (deleted at the end of its run)',
        rawDisk: { source: `https://storage.googleapis.com/${this.bucket}/${object.name}` },
        // Without it GCE boots the image with BIOS; tsuite's disks are GPT + EFI system partition.
        guestOsFeatures: [{ type: 'UEFI_COMPATIBLE' }],
      },
    }));
    await this.waitGlobal(op, what, signal);
    return { kind: 'image', name, labels, createdAt: new Date(), location: `project ${this.project}` };
  }

  async launch(image: CloudResource, name: string, labels: Record<string, string>, signal: AbortSignal): Promise<CloudInstance> {
    const what = `launching instance ${name}`;
    const shape = await this.call(`reading machine type ${this.machineType}`, () =>
      this.clients.machineTypes.get({ project: this.project, zone: this.zone, machineType: this.machineType }));
    const op = await this.call(what, () => this.clients.instances.insert({
      project: this.project,
      zone: this.zone,
      instanceResource: gcpInstanceResource({ name, labels, image: image.name, zone: this.zone, machineType: this.machineType, settings: this.settings, ...(this.accelerator && { accelerator: this.accelerator }) }),
    }));
    await this.waitZone(op, what, signal);
    const deadline = Date.now() + this.operationTimeoutMs;
    for (;;) {
      const vm = await this.call(`reading instance ${name}`, () => this.clients.instances.get({ project: this.project, zone: this.zone, instance: name }));
      if (vm.status === 'RUNNING') {
        return {
          resource: { kind: 'instance', name, labels, createdAt: new Date(), location: `zone ${this.zone}` },
          privateIp: vm.networkInterfaces?.[0]?.networkIP ?? undefined,
          cpus: shape.guestCpus ?? undefined,
          memoryMb: shape.memoryMb ?? undefined,
        };
      }
      if (Date.now() >= deadline) throw new CloudApiError(`${what}: the instance stayed ${vm.status} for ${this.operationTimeoutMs} ms without running`, undefined, 'LAUNCH_TIMEOUT');
      await sleep(2_000, undefined, { signal });
    }
  }

  async readSerial(instance: CloudResource, start: number): Promise<SerialChunk> {
    const out = await this.call(`reading the serial console of ${instance.name}`, () =>
      this.clients.instances.getSerialPortOutput({ project: this.project, zone: this.zone, instance: instance.name, port: 1, start }));
    return { contents: out.contents ?? '', start: Number(out.start ?? start), next: Number(out.next ?? start) };
  }

  async instanceState(instance: CloudResource): Promise<string | undefined> {
    try {
      const [vm] = await this.clients.instances.get({ project: this.project, zone: this.zone, instance: instance.name });
      return vm.status ?? undefined;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw googleError(err, `reading instance ${instance.name}`);
    }
  }

  isStopped(state: string): boolean {
    return state === 'TERMINATED' || state === 'STOPPED' || state === 'SUSPENDED';
  }

  async list(): Promise<CloudResource[]> {
    const out: CloudResource[] = [];
    try {
      for await (const vm of this.clients.instances.listAsync({ project: this.project, zone: this.zone, filter: NAME_FILTER }, LIST_OPTIONS)) {
        out.push({ kind: 'instance', name: vm.name ?? '', labels: vm.labels ?? {}, createdAt: date(vm.creationTimestamp), location: `zone ${this.zone}` });
      }
      for await (const img of this.clients.images.listAsync({ project: this.project, filter: NAME_FILTER }, LIST_OPTIONS)) {
        out.push({ kind: 'image', name: img.name ?? '', labels: img.labels ?? {}, createdAt: date(img.creationTimestamp), location: `project ${this.project}` });
      }
      const [files] = await this.clients.storage.bucket(this.bucket).getFiles({ prefix: NAME_PREFIX });
      for (const f of files) {
        const meta = (f.metadata.metadata ?? {}) as Record<string, string>;
        out.push({ kind: 'object', name: f.name, labels: meta, createdAt: date(f.metadata.timeCreated), location: `gs://${this.bucket}` });
      }
    } catch (err) {
      throw googleError(err, `listing tsuite's resources in project ${this.project}`);
    }
    return out.filter((r) => r.name.startsWith(NAME_PREFIX));
  }

  async delete(resource: Pick<CloudResource, 'kind' | 'name'>, signal?: AbortSignal): Promise<'deleted' | 'absent'> {
    const what = `deleting ${resource.kind} ${resource.name}`;
    try {
      if (resource.kind === 'group' || resource.kind === 'snapshot') return 'absent';
      if (resource.kind === 'object') {
        await this.clients.storage.bucket(this.bucket).file(resource.name).delete();
      } else if (resource.kind === 'image') {
        const [op] = await this.clients.images.delete({ project: this.project, image: resource.name });
        await this.waitGlobal(op.latestResponse as Operation, what, signal);
      } else {
        const [op] = await this.clients.instances.delete({ project: this.project, zone: this.zone, instance: resource.name });
        await this.waitZone(op.latestResponse as Operation, what, signal);
      }
      return 'deleted';
    } catch (err) {
      if (isNotFound(err)) return 'absent';
      throw googleError(err, what);
    }
  }

  deleteCommand(resource: Pick<CloudResource, 'kind' | 'name'>): string {
    switch (resource.kind) {
      case 'instance':
        return `gcloud compute instances delete ${resource.name} --project ${this.project} --zone ${this.zone} --quiet`;
      case 'image':
        return `gcloud compute images delete ${resource.name} --project ${this.project} --quiet`;
      case 'object':
        return `gcloud storage rm gs://${this.bucket}/${resource.name}`;
      default:
        return `(gcp creates no ${resource.kind}s; nothing to delete)`;
    }
  }

  /** One API call whose failure becomes a CloudApiError; an insert's operation is its first element. */
  private async call<T>(what: string, run: () => Promise<[T, ...unknown[]]>): Promise<T extends { latestResponse: unknown } ? Operation : T> {
    try {
      const [value] = await run();
      const lro = value as { latestResponse?: Operation };
      return (lro && typeof lro === 'object' && 'latestResponse' in lro ? lro.latestResponse : value) as T extends { latestResponse: unknown } ? Operation : T;
    } catch (err) {
      throw googleError(err, what);
    }
  }

  private waitGlobal(op: Operation, what: string, signal?: AbortSignal): Promise<Operation> {
    const name = op.name ?? '';
    return waitForOperation(name, () => this.call(what, () => this.clients.globalOperations.wait({ project: this.project, operation: name })), this.operationTimeoutMs, what, signal);
  }

  private waitZone(op: Operation, what: string, signal?: AbortSignal): Promise<Operation> {
    const name = op.name ?? '';
    return waitForOperation(name, () => this.call(what, () => this.clients.zoneOperations.wait({ project: this.project, zone: this.zone, operation: name })), this.operationTimeoutMs, what, signal);
  }
}

/** The provider of a `gcp` target, from its settings. */
export function gcpProvider(def: TargetDef): GcpProvider {
  return new GcpProvider(def.gcp ?? {}, def.cloud?.operationTimeoutMs, def.accelerator);
}

function date(value: string | null | undefined): Date | undefined {
  return value ? new Date(value) : undefined;
}
