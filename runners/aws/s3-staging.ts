import { createReadStream } from 'node:fs';
import { AbortMultipartUploadCommand, DeleteObjectCommand, HeadObjectCommand, ListMultipartUploadsCommand, paginateListObjectsV2, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { CloudPackage } from '../../kernel/images/gce-package.js';
import { NAME_PREFIX } from '../cloud/cloud-labels.js';
import type { CloudResource } from '../cloud/cloud-provider.js';
import { awsError, awsErrorCode, isNotFound } from './aws-errors.js';

/** S3's multipart parts: at least 5 MiB each (all but the last); two in flight at a time. */
const PART_BYTES = 8 * 1024 * 1024;
const PARTS_IN_FLIGHT = 2;

/**
 * The staged object of an EC2 import, in S3: the multipart upload, the listing of tsuite's objects
 * with their labels (object metadata), and deletion, which also aborts unfinished multipart uploads
 * of the key (their parts are billed too).
 */
export class S3Staging {
  constructor(private readonly s3: S3Client, private readonly bucket: string) {}

  async upload(pkg: CloudPackage, name: string, labels: Record<string, string>, signal: AbortSignal): Promise<CloudResource> {
    const what = `uploading s3://${this.bucket}/${name}`;
    signal.throwIfAborted();
    // Multipart: parts are sent (and retried by the SDK) one by one, so a multi-GiB disk survives a
    // dropped connection; on failure the library aborts the multipart upload so no parts are kept.
    const upload = new Upload({
      client: this.s3,
      params: { Bucket: this.bucket, Key: name, Body: createReadStream(pkg.path), ContentType: 'application/octet-stream', Metadata: labels },
      partSize: PART_BYTES, queueSize: PARTS_IN_FLIGHT, leavePartsOnError: false,
    });
    const onAbort = () => void upload.abort().catch(() => undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      await upload.done();
    } catch (err) {
      await this.abortUploads(name).catch(() => undefined);
      if (signal.aborted) throw signal.reason;
      throw awsError(err, what);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
    return { kind: 'object', name, labels, createdAt: new Date(), location: `s3://${this.bucket}` };
  }

  /** tsuite's objects in the bucket, with their labels; SDK errors are left to the caller. */
  async list(): Promise<CloudResource[]> {
    const out: CloudResource[] = [];
    for await (const page of paginateListObjectsV2({ client: this.s3 }, { Bucket: this.bucket, Prefix: NAME_PREFIX })) {
      for (const obj of page.Contents ?? []) {
        if (!obj.Key) continue;
        const head = await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: obj.Key })).catch((err: unknown) => {
          if (isNotFound(err)) return undefined; // deleted since it was listed
          throw err;
        });
        if (!head) continue;
        out.push({ kind: 'object', name: obj.Key, labels: head.Metadata ?? {}, createdAt: obj.LastModified, location: `s3://${this.bucket}` });
      }
    }
    return out;
  }

  /** Deletes the object and aborts unfinished multipart uploads of its key. */
  async delete(key: string, what: string): Promise<'deleted' | 'absent'> {
    const exists = await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key })).then(() => true, (err: unknown) => {
      if (isNotFound(err)) return false;
      throw awsError(err, what);
    });
    // S3's DeleteObject succeeds for a missing key too: only HeadObject can tell "absent".
    if (exists) await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    const aborted = await this.abortUploads(key);
    return exists || aborted > 0 ? 'deleted' : 'absent';
  }

  /** Aborts the unfinished multipart uploads of exactly this key; how many there were. */
  private async abortUploads(key: string): Promise<number> {
    const list = await this.s3.send(new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: key })).catch((err: unknown) => {
      // An S3-compatible server without multipart listing (s3rver) answers 501: it keeps no parts to abort.
      if (awsErrorCode(err) === 'NotImplemented') return { Uploads: [] };
      throw err;
    });
    const uploads = (list.Uploads ?? []).filter((u) => u.Key === key && u.UploadId);
    for (const u of uploads) {
      await this.s3.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: u.UploadId })).catch((err: unknown) => {
        if (!isNotFound(err)) throw err;
      });
    }
    return uploads.length;
  }
}
