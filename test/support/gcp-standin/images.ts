import { execFile } from 'node:child_process';
import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { FaultSwitch } from './faults.js';
import { fail } from './google-errors.js';
import type { ComputeLinks } from './links.js';
import type { ObjectStore } from './object-store.js';
import type { OperationHandle } from './operations.js';

const run = promisify(execFile);
const GiB = 1024 ** 3;
export const NAME_RE = /^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$/;

/**
 * Custom images imported the way Compute Engine documents for a raw disk: `rawDisk.source` names a
 * Cloud Storage object (`https://storage.googleapis.com/BUCKET/OBJECT`, or `gs://BUCKET/OBJECT`)
 * that is a gzip-compressed tar holding one file, `disk.raw`, whose size is a whole number of GiB.
 * The import really unpacks it (`tar -xzSf`, keeping holes): a package GCE would refuse fails the
 * operation here too, with `INVALID_IMAGE_FILE`. The image is PENDING while that runs, then READY.
 * `guestOsFeatures` are kept: instances boot under UEFI only from a `UEFI_COMPATIBLE` image.
 */
export interface ImageRecord {
  name: string;
  /** The package's object name in the bucket. */
  object: string;
  resource: Record<string, unknown> & { status: 'PENDING' | 'READY' | 'DELETING' };
  /** The unpacked disk, once READY. */
  disk?: string;
  uefi: boolean;
}

export class ImageStore {
  private readonly images = new Map<string, ImageRecord>();
  private nextId = 7_000_000_000_000_000_000n;

  constructor(private readonly links: ComputeLinks, private readonly objects: ObjectStore, private readonly faults: FaultSwitch, private readonly dir: string) {}

  get(name: string): ImageRecord | undefined {
    return this.images.get(name);
  }

  list(): ImageRecord[] {
    return [...this.images.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /** Validates an images.insert body and records the PENDING image; the import runs with `op`. */
  create(body: Record<string, unknown>): ImageRecord {
    const name = body.name;
    if (typeof name !== 'string' || !NAME_RE.test(name)) fail(400, `Invalid value for field 'resource.name': '${String(name)}'. Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'`);
    if (this.images.has(name as string)) fail(409, `The resource '${this.links.image(name as string).replace(/^.*\/projects\//, 'projects/')}' already exists`, 'alreadyExists');
    const rawDisk = body.rawDisk as { source?: unknown } | undefined;
    if (typeof rawDisk?.source !== 'string') fail(400, "Invalid value for field 'resource': no image source. This stand-in imports only from 'rawDisk.source'.");
    const source = rawDisk!.source as string;
    const object = this.objectName(source);
    const features = Array.isArray(body.guestOsFeatures) ? (body.guestOsFeatures as { type?: string }[]) : [];
    const labels = (body.labels ?? undefined) as Record<string, string> | undefined;
    const record: ImageRecord = {
      name: name as string,
      object,
      uefi: features.some((f) => f.type === 'UEFI_COMPATIBLE'),
      resource: {
        kind: 'compute#image',
        id: String(++this.nextId),
        creationTimestamp: new Date().toISOString(),
        name: name as string,
        ...(typeof body.description === 'string' ? { description: body.description } : {}),
        ...(typeof body.family === 'string' ? { family: body.family } : {}),
        sourceType: 'RAW',
        rawDisk: { source, containerType: 'TAR' },
        status: 'PENDING',
        archiveSizeBytes: String(this.objects.get(object)?.size ?? 0),
        selfLink: this.links.image(name as string),
        ...(labels ? { labels, labelFingerprint: fingerprint(labels) } : {}),
        guestOsFeatures: features,
        architecture: typeof body.architecture === 'string' ? body.architecture : 'X86_64',
        storageLocations: ['us'],
      },
    };
    this.images.set(record.name, record);
    return record;
  }

  /** Unpacks the package and ends the operation; the image vanishes if the import fails. */
  async import(record: ImageRecord, handle: OperationHandle): Promise<void> {
    handle.running();
    if (!handle.proceeds) return;
    const failImport = async (message: string, code = 'INVALID_IMAGE_FILE') => {
      this.images.delete(record.name);
      await rm(join(this.dir, record.name), { recursive: true, force: true });
      handle.done({ code, message, httpStatus: 400 });
    };
    const fault = this.faults.take('import');
    if (fault) return failImport(fault.message ?? `The image file in ${(record.resource.rawDisk as { source: string }).source} is not a valid disk image (tsuite stand-in fault).`, fault.reason);
    const obj = this.objects.get(record.object);
    if (!obj) return failImport(`The resource 'gs://${this.objects.bucket}/${record.object}' was not found`, 'RESOURCE_NOT_FOUND');
    const out = join(this.dir, record.name);
    try {
      const listing = (await run('tar', ['-tzf', obj.file], { maxBuffer: 1 << 20 })).stdout.split('\n').filter(Boolean);
      if (listing.length !== 1 || listing[0] !== 'disk.raw') return failImport(`The image archive must hold exactly one file named disk.raw; it holds: ${listing.slice(0, 5).join(', ') || 'nothing'}.`);
      await mkdir(out, { recursive: true });
      await run('tar', ['-xzSf', obj.file, '-C', out, 'disk.raw']);
    } catch (err) {
      return failImport(`The image file could not be read as a gzip-compressed tar: ${(err as { stderr?: string }).stderr?.trim() || (err as Error).message}`);
    }
    const disk = join(out, 'disk.raw');
    const size = (await stat(disk)).size;
    if (size === 0 || size % GiB !== 0) return failImport(`The disk.raw size (${size} bytes) is not a multiple of 1 GB.`);
    if (!this.images.has(record.name)) return; // deleted while importing
    record.disk = disk;
    record.resource.status = 'READY';
    record.resource.diskSizeGb = String(size / GiB);
    handle.done();
  }

  async delete(name: string, handle: OperationHandle): Promise<void> {
    const record = this.images.get(name);
    handle.running();
    if (!record || !handle.proceeds) return;
    record.resource.status = 'DELETING';
    this.images.delete(name);
    // A running instance keeps its open file; unlinking does not disturb it.
    await rm(join(this.dir, name), { recursive: true, force: true });
    handle.done();
  }

  /** The object a rawDisk.source names in this stand-in's bucket; a 400 for anything else. */
  private objectName(source: string): string {
    const m = /^(?:gs:\/\/|https:\/\/storage\.(?:googleapis|cloud\.google)\.com\/)([^/]+)\/(.+)$/.exec(source);
    if (!m || m[1] !== this.objects.bucket) {
      fail(400, `Invalid value for field 'resource.rawDisk.source': '${source}'. It must name an object in bucket '${this.objects.bucket}' as https://storage.googleapis.com/BUCKET/OBJECT or gs://BUCKET/OBJECT.`);
    }
    const object = decodeURIComponent(m![2]!);
    if (!this.objects.get(object)) fail(400, `Invalid value for field 'resource.rawDisk.source': '${source}'. The object does not exist.`);
    return object;
  }
}

/** Label and metadata fingerprints: opaque, changing with the content, as GCE's are. */
export function fingerprint(value: unknown): string {
  let h = 5381n;
  for (const c of JSON.stringify(value ?? null)) h = (h * 33n + BigInt(c.charCodeAt(0))) & 0xffffffffffffffffn;
  return Buffer.from(h.toString(16).padStart(16, '0'), 'hex').toString('base64');
}
