import { createReadStream } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FaultSwitch } from './faults.js';
import { fail, googleError, HttpFailure, sendJson } from './google-errors.js';
import type { ObjectStore, StoredObject } from './object-store.js';
import { page } from './paging.js';

/**
 * The Cloud Storage JSON API reads and deletes for the stand-in's one bucket:
 *
 * - `GET /storage/v1/b/{bucket}`: the bucket resource
 * - `GET /storage/v1/b/{bucket}/o`: objects.list with `prefix`, `delimiter` (→ `prefixes`),
 *   `maxResults` (default and max 1000) and `pageToken`, in name order
 * - `GET /storage/v1/b/{bucket}/o/{object}`: the object resource, or its bytes with `alt=media`
 *   (also at the `mediaLink`, `/download/storage/v1/...`), with `x-goog-hash` and `Range` support
 * - `DELETE /storage/v1/b/{bucket}/o/{object}`: 204
 *
 * Object names are percent-encoded in the path (`a%2Fb` for `a/b`). Uploads: storage-uploads.ts.
 */
export class StorageApi {
  constructor(private readonly store: ObjectStore, private readonly faults: FaultSwitch, private readonly origin: () => string) {}

  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const m = /^\/(?:download\/)?storage\/v1\/b\/([^/]+)(?:\/o(?:\/(.+))?)?$/.exec(url.pathname);
    if (!m) fail(404, `No Cloud Storage method at ${url.pathname}`);
    const bucket = decodeURIComponent(m![1]!);
    if (bucket !== this.store.bucket) fail(404, 'The specified bucket does not exist.');
    const objectPart = m![2];
    const isList = url.pathname.endsWith('/o');
    const method = req.method ?? 'GET';
    const media = url.searchParams.get('alt') === 'media' || url.pathname.startsWith('/download/');

    if (objectPart === undefined && !isList && method === 'GET') return sendJson(res, 200, this.bucketResource());
    if (isList && method === 'GET') return this.list(res, url.searchParams);
    if (objectPart !== undefined) {
      const name = decodeURIComponent(objectPart);
      const obj = this.store.get(name);
      if (method === 'DELETE') {
        const fault = this.faults.take('delete-object');
        if (fault) throw new HttpFailure(googleError(fault.status ?? 500, fault.message ?? 'We encountered an internal error. Please try again. (tsuite stand-in fault)', fault.reason));
        if (!obj) fail(404, `No such object: ${bucket}/${name}`);
        this.precondition(obj!, url.searchParams);
        await this.store.delete(name);
        res.writeHead(204).end();
        return;
      }
      if (method === 'GET') {
        if (!obj) fail(404, `No such object: ${bucket}/${name}`);
        this.precondition(obj!, url.searchParams);
        return media ? this.download(req, res, obj!) : sendJson(res, 200, this.store.resource(obj!, this.origin()));
      }
    }
    fail(404, `No Cloud Storage method ${method} ${url.pathname} in this stand-in`);
  }

  private list(res: ServerResponse, q: URLSearchParams): void {
    const fault = this.faults.take('list');
    if (fault) throw new HttpFailure(googleError(fault.status ?? 500, fault.message ?? 'We encountered an internal error. Please try again. (tsuite stand-in fault)', fault.reason));
    const prefix = q.get('prefix') ?? '';
    const delimiter = q.get('delimiter') ?? '';
    const entries: ({ object: StoredObject } | { prefix: string })[] = [];
    const seen = new Set<string>();
    for (const name of this.store.names()) {
      if (!name.startsWith(prefix)) continue;
      const cut = delimiter ? name.indexOf(delimiter, prefix.length) : -1;
      if (cut >= 0) {
        const p = name.slice(0, cut + delimiter.length);
        if (!seen.has(p)) entries.push({ prefix: p });
        seen.add(p);
      } else entries.push({ object: this.store.get(name)! });
    }
    const { items, nextPageToken } = page(entries, q, `objects\n${prefix}\n${delimiter}`, { default: 1000, max: 1000 });
    const objects = items.flatMap((e) => ('object' in e ? [this.store.resource(e.object, this.origin())] : []));
    const prefixes = items.flatMap((e) => ('prefix' in e ? [e.prefix] : []));
    sendJson(res, 200, { kind: 'storage#objects', ...(nextPageToken ? { nextPageToken } : {}), ...(prefixes.length ? { prefixes } : {}), ...(objects.length ? { items: objects } : {}) });
  }

  private download(req: IncomingMessage, res: ServerResponse, obj: StoredObject): void {
    const headers: Record<string, string> = {
      'content-type': obj.contentType,
      'x-goog-hash': `crc32c=${obj.crc32c},md5=${obj.md5Hash}`,
      'x-goog-generation': obj.generation,
      'x-goog-metageneration': '1',
      'x-goog-stored-content-length': String(obj.size),
      'x-goog-storage-class': 'STANDARD',
      'accept-ranges': 'bytes',
    };
    const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
    if (range && obj.size > 0 && (range[1] || range[2])) {
      const start = range[1] ? Number(range[1]) : Math.max(0, obj.size - Number(range[2]));
      const end = range[1] && range[2] ? Math.min(Number(range[2]), obj.size - 1) : obj.size - 1;
      if (start > end) {
        res.writeHead(416, { 'content-range': `bytes */${obj.size}` }).end();
        return;
      }
      res.writeHead(206, { ...headers, 'content-range': `bytes ${start}-${end}/${obj.size}`, 'content-length': String(end - start + 1) });
      createReadStream(obj.file, { start, end }).pipe(res);
      return;
    }
    res.writeHead(200, { ...headers, 'content-length': String(obj.size) });
    createReadStream(obj.file).pipe(res);
  }

  private precondition(obj: StoredObject, q: URLSearchParams): void {
    const want = q.get('ifGenerationMatch');
    if (want !== null && want !== obj.generation) fail(412, 'At least one of the pre-conditions you specified did not hold.', 'conditionNotMet');
  }

  private bucketResource(): Record<string, unknown> {
    const b = this.store.bucket;
    return {
      kind: 'storage#bucket', id: b, name: b, selfLink: `${this.origin()}/storage/v1/b/${b}`, projectNumber: '0', metageneration: '1',
      location: 'US', storageClass: 'STANDARD', locationType: 'multi-region', timeCreated: '2026-01-01T00:00:00.000Z', updated: '2026-01-01T00:00:00.000Z',
      iamConfiguration: { uniformBucketLevelAccess: { enabled: true } },
    };
  }
}
