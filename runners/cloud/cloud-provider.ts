import type { CloudPackage } from '../../kernel/images/gce-package.js';
import type { Progress } from '../../src/core/progress.js';
import type { CloudStep } from './provenance.js';

/**
 * The kinds of thing a cloud run creates: a staged object, an image (and on AWS the snapshot under
 * it), an instance, and on Azure the resource group that holds a session's image and machine.
 */
export type CloudResourceKind = 'group' | 'object' | 'snapshot' | 'image' | 'instance';

/** One thing in the provider's account that tsuite made (or that looks like it did). */
export interface CloudResource {
  kind: CloudResourceKind;
  /** The provider's name for it (object name inside the bucket, image or instance name). */
  name: string;
  /** tsuite's labels on it (object metadata for a stored object); empty on a half-created one. */
  labels: Readonly<Record<string, string>>;
  /** When the provider says it was created; absent when it does not say. */
  createdAt?: Date;
  /** Where it lives, for messages and delete commands: `gs://bucket`, `zone us-central1-a`, ... */
  location: string;
}

/** One read of the serial console: the provider's byte offsets, as documented for GCE's getSerialPortOutput. */
export interface SerialChunk {
  contents: string;
  /** Where the returned contents start: later than asked when older output was discarded. */
  start: number;
  /** The offset to ask for next. */
  next: number;
  /**
   * Set when output was lost before `start` but the provider does not say how much (EC2's two
   * 64 KB windows, a replaced Azure serial log): the gap is then marked without a byte count.
   */
  lossUnknown?: boolean;
}

/** A launched instance: what tests and evidence need of it. */
export interface CloudInstance {
  resource: CloudResource;
  /** The address inside the instance's network (it has no external one). */
  privateIp?: string;
  /** The machine's shape, as the provider states it for the machine type. */
  cpus?: number;
  memoryMb?: number;
}

/** What a provider says about where it runs, for the plan printout and the provenance record. */
export interface CloudPlace {
  provider: string;
  /** e.g. `project my-project, zone us-central1-a, bucket my-bucket`. */
  where: Readonly<Record<string, string>>;
  machineType: string;
  firmware: 'uefi';
}

/** `project p, zone z, bucket gs://b`: where a provider creates things, for messages. */
export function describePlace(place: CloudPlace): string {
  return Object.entries(place.where).map(([k, v]) => `${k} ${v}`).join(', ');
}

/** Whether a run's step may be retried: an API error the provider calls transient. */
export class CloudApiError extends Error {
  constructor(
    /** Already redacted: no token, credential or signed URL. */
    message: string,
    readonly status?: number,
    readonly reason?: string,
    readonly transient = false,
  ) {
    super(message);
    this.name = 'CloudApiError';
  }
}

/**
 * How one provider does each step of the lifecycle. It knows its SDK and nothing else: the lifecycle
 * (cloud-lifecycle.ts) decides the order, records evidence and owns teardown on every path. Every
 * method fails with a CloudApiError whose message is safe to print.
 */
export interface CloudProvider {
  readonly place: CloudPlace;
  /** The staged object's extension, after the package's format (`tar.gz`, `raw`, `vhd`). */
  readonly packageExtension: string;
  /** What to do about a step's failure, in this provider's words (IAM role, CLI, quota page). */
  readonly fixes?: Partial<Record<CloudStep, string>>;
  /**
   * Which kinds live inside the session's group (see createGroup): they go when the group goes,
   * so teardown deletes the group alone.
   */
  readonly groupHolds?: readonly CloudResourceKind[];
  /** The provider posts console output when the machine stops (EC2): read it once more after teardown. */
  readonly consoleAfterTermination?: boolean;
  /**
   * For a provider with resource containers (an Azure resource group): creates the session's
   * container, tagged, before anything else is created in the account.
   */
  createGroup?(name: string, labels: Record<string, string>, signal: AbortSignal): Promise<CloudResource>;
  /** Gets a token from the standard credential chain once, before anything else is called. */
  checkCredentials(): Promise<void>;
  /** The provider's image package (format, size and alignment as it requires), cached by content. */
  packageImage(rawDisk: string, progress: Progress): Promise<CloudPackage>;
  /** The disk inside a package, unpacked from its very bytes: what the local proof boots. */
  unpackImage(pkg: CloudPackage, intoDir: string): Promise<string>;
  /** Stages the package (resumable upload). */
  upload(pkg: CloudPackage, name: string, labels: Record<string, string>, signal: AbortSignal): Promise<CloudResource>;
  /** Imports the staged package as a UEFI-bootable image. */
  importImage(object: CloudResource, name: string, labels: Record<string, string>, signal: AbortSignal): Promise<CloudResource>;
  /** Launches an instance from the image: no external IP, no service account, serial port on; resolves once it runs. */
  launch(image: CloudResource, name: string, labels: Record<string, string>, signal: AbortSignal): Promise<CloudInstance>;
  /** Reads the first serial port from `start`. */
  readSerial(instance: CloudResource, start: number, signal?: AbortSignal): Promise<SerialChunk>;
  /** The instance's state in the provider's words (RUNNING, TERMINATED, ...); undefined when it is gone. */
  instanceState(instance: CloudResource): Promise<string | undefined>;
  /** Whether a state means the machine has stopped by itself. */
  isStopped(state: string): boolean;
  /** Every resource of every kind it creates that carries tsuite's labels or name prefix. */
  list(): Promise<CloudResource[]>;
  /** Deletes one resource and waits until it is gone; resolves `absent` when there was nothing to delete. */
  delete(resource: Pick<CloudResource, 'kind' | 'name'>, signal?: AbortSignal): Promise<'deleted' | 'absent'>;
  /** The provider's own CLI command that deletes it, for the loud list of leftovers. */
  deleteCommand(resource: Pick<CloudResource, 'kind' | 'name'>): string;
}
