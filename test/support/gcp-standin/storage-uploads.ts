import { randomBytes } from 'node:crypto';
import { appendFile, rm, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FaultSwitch } from './faults.js';
import { fail, googleError, HttpFailure, sendJson } from './google-errors.js';
import { ObjectHasher, type ObjectStore, type ObjectWrite, type StoredObject } from './object-store.js';

/** Non-final resumable chunks are persisted in whole multiples of this, as GCS does. */
const CHUNK_QUANTUM = 256 * 1024;

interface Session {
  id: string;
  name: string;
  write: ObjectWrite;
  file: string;
  hasher: ObjectHasher;
  declaredSize?: number;
  ifGenerationMatch: string | null;
  done?: StoredObject;
}

/**
 * The JSON API's three upload protocols, at `POST /upload/storage/v1/b/{bucket}/o`:
 *
 * - `uploadType=media`: the body is the object; `name` in the query.
 * - `uploadType=multipart`: `multipart/related`, a JSON metadata part then the data part.
 * - `uploadType=resumable`: the POST (metadata as JSON body, optional `X-Upload-Content-Type` and
 *   `-Length`) answers 200 with the session URI in `Location`. PUTs to it carry bytes with
 *   `Content-Range: bytes FIRST-LAST/TOTAL` (TOTAL may be `*` until the last chunk), or none for
 *   a whole upload in one request. An incomplete upload answers `308` with `Range: bytes=0-N`
 *   for what is persisted (no `Range` when nothing is), a non-final chunk being persisted only up
 *   to a multiple of 256 KiB; bytes already persisted may be sent again and are skipped. A status
 *   query (`Content-Range: bytes` star-slash-star, no body) answers the same 308, or 200 with the object
 *   once it is complete. DELETE cancels the session (499).
 *
 * A finished upload is checked against `X-Goog-Hash` (crc32c, md5) when the client sends it, and
 * against `ifGenerationMatch`; the object resource comes back with its `crc32c` and `md5Hash`.
 */
export class StorageUploads {
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly store: ObjectStore, private readonly faults: FaultSwitch, private readonly origin: () => string) {}

  async handle(req: IncomingMessage, res: ServerResponse, url: URL, body: Buffer): Promise<void> {
    const m = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(url.pathname);
    if (!m) fail(404, `No Cloud Storage upload method at ${url.pathname}`);
    if (decodeURIComponent(m![1]!) !== this.store.bucket) fail(404, 'The specified bucket does not exist.');
    const q = url.searchParams;
    const method = req.method ?? 'POST';
    const uploadId = q.get('upload_id');
    if (uploadId !== null) {
      const session = this.sessions.get(uploadId);
      if (!session) fail(404, 'No such upload session: it was cancelled, completed long ago, or never existed.');
      if (method === 'PUT' || method === 'POST') return this.chunk(req, res, session!, body);
      if (method === 'DELETE') {
        this.sessions.delete(session!.id);
        await rm(session!.file, { force: true });
        res.writeHead(499, { 'content-length': '0' }).end();
        return;
      }
    }
    if (method !== 'POST') fail(405, `Method ${method} is not allowed here.`);
    switch (q.get('uploadType')) {
      case 'media': {
        this.dataFault();
        const name = q.get('name');
        if (!name) fail(400, 'Required parameter: name', 'required');
        return this.finish(res, name!, body, { contentType: req.headers['content-type'] }, req, q.get('ifGenerationMatch'));
      }
      case 'multipart': {
        this.dataFault();
        const { metadata, data, dataType } = parseMultipart(req.headers['content-type'] ?? '', body);
        const name = q.get('name') ?? (typeof metadata.name === 'string' ? metadata.name : undefined);
        if (!name) fail(400, 'Required parameter: name', 'required');
        const write = { contentType: (metadata.contentType as string | undefined) ?? dataType, metadata: metadata.metadata as Record<string, string> | undefined };
        return this.finish(res, name!, data, write, req, q.get('ifGenerationMatch'));
      }
      case 'resumable':
        return this.startSession(req, res, q, body);
      default:
        fail(400, `Invalid upload type '${q.get('uploadType')}': use media, multipart or resumable.`);
    }
  }

  private async startSession(req: IncomingMessage, res: ServerResponse, q: URLSearchParams, body: Buffer): Promise<void> {
    let metadata: Record<string, unknown> = {};
    if (body.length) {
      try {
        metadata = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
      } catch {
        fail(400, 'Parse Error: the resumable upload request body must be the object metadata as JSON.', 'parseError');
      }
    }
    const name = q.get('name') ?? (typeof metadata.name === 'string' ? metadata.name : undefined);
    if (!name) fail(400, 'Required parameter: name', 'required');
    const id = `ADPycd${randomBytes(24).toString('base64url')}`;
    const declared = req.headers['x-upload-content-length'];
    const session: Session = {
      id,
      name: name!,
      write: {
        contentType: (req.headers['x-upload-content-type'] as string | undefined) ?? (metadata.contentType as string | undefined),
        metadata: metadata.metadata as Record<string, string> | undefined,
      },
      file: this.store.scratchPath(`session-${id}`),
      hasher: new ObjectHasher(),
      ...(declared !== undefined ? { declaredSize: Number(declared) } : {}),
      ifGenerationMatch: q.get('ifGenerationMatch'),
    };
    await writeFile(session.file, '');
    this.sessions.set(id, session);
    const location = `${this.origin()}/upload/storage/v1/b/${this.store.bucket}/o?uploadType=resumable&name=${encodeURIComponent(session.name)}&upload_id=${id}`;
    res.writeHead(200, { location, 'x-guploader-uploadid': id, 'content-length': '0' }).end();
  }

  private async chunk(req: IncomingMessage, res: ServerResponse, s: Session, body: Buffer): Promise<void> {
    if (body.length > 0) this.dataFault();
    if (s.done) return sendJson(res, 200, this.store.resource(s.done, this.origin()));
    const range = req.headers['content-range'];
    const received = s.hasher.size;
    let first: number;
    let total: number | undefined;
    let final: boolean;
    if (range === undefined) {
      // The whole object in this one request.
      first = 0;
      total = body.length;
      final = true;
    } else {
      const status = /^bytes \*\/(\d+|\*)$/.exec(range);
      const data = /^bytes (\d+)-(\d+|\*)\/(\d+|\*)$/.exec(range);
      if (status) {
        if (body.length) fail(400, `Content-Range '${range}' says no data, but the request has ${body.length} bytes.`);
        if (status[1] !== '*' && Number(status[1]) === received) return this.complete(res, s, req);
        if (status[1] !== '*' && Number(status[1]) !== received) fail(400, `Content-Range '${range}': ${received} bytes were persisted, not ${status[1]}.`);
        return this.incomplete(res, s);
      }
      if (!data) fail(400, `Invalid Content-Range '${range}'.`);
      first = Number(data![1]);
      const last = data![2] === '*' ? first + body.length - 1 : Number(data![2]);
      if (last - first + 1 !== body.length) fail(400, `Content-Range '${range}' names ${last - first + 1} bytes, the request has ${body.length}.`);
      total = data![3] === '*' ? undefined : Number(data![3]);
      // `bytes N-*/*`: a client streaming everything in one request without knowing the size.
      final = total !== undefined ? last + 1 === total : data![2] === '*';
      if (final && total === undefined) total = last + 1;
    }
    if (first > received) fail(400, `Content-Range starts at byte ${first}, but only ${received} bytes are persisted: bytes may not be skipped.`);
    if (total !== undefined && first + body.length > total) fail(400, `Content-Range goes past the declared total of ${total} bytes.`);
    let end = first + body.length;
    if (!final) end = Math.max(received, end - (end % CHUNK_QUANTUM));
    if (end > received) {
      const fresh = body.subarray(received - first, end - first);
      await appendFile(s.file, fresh);
      s.hasher.update(fresh);
    }
    if (final && s.hasher.size === total) return this.complete(res, s, req);
    return this.incomplete(res, s);
  }

  private incomplete(res: ServerResponse, s: Session): void {
    const headers: Record<string, string> = { 'content-length': '0', 'x-guploader-uploadid': s.id };
    if (s.hasher.size > 0) headers.range = `bytes=0-${s.hasher.size - 1}`;
    res.writeHead(308, headers).end();
  }

  private async complete(res: ServerResponse, s: Session, req: IncomingMessage): Promise<void> {
    this.checkHashes(req, s.hasher);
    this.checkGeneration(s.name, s.ifGenerationMatch);
    s.done = await this.store.putFile(s.name, s.file, s.hasher, s.write);
    sendJson(res, 200, this.store.resource(s.done, this.origin()));
  }

  private async finish(res: ServerResponse, name: string, data: Buffer, write: ObjectWrite, req: IncomingMessage, ifGenerationMatch: string | null): Promise<void> {
    const hasher = new ObjectHasher();
    hasher.update(data);
    this.checkHashes(req, hasher);
    this.checkGeneration(name, ifGenerationMatch);
    const obj = await this.store.putBuffer(name, data, write);
    sendJson(res, 200, this.store.resource(obj, this.origin()));
  }

  /** `X-Goog-Hash: crc32c=…,md5=…` from the client must match what arrived. */
  private checkHashes(req: IncomingMessage, hasher: ObjectHasher): void {
    const header = req.headers['x-goog-hash'];
    if (!header) return;
    const got = hasher.digest();
    for (const part of String(header).split(',')) {
      const [kind, value] = part.trim().split(/=(.*)/s);
      if (kind === 'crc32c' && value !== got.crc32c) fail(400, `Provided CRC32C "${value}" doesn't match calculated CRC32C "${got.crc32c}".`);
      if (kind === 'md5' && value !== got.md5Hash) fail(400, `Provided MD5 hash "${value}" doesn't match calculated MD5 hash "${got.md5Hash}".`);
    }
  }

  private checkGeneration(name: string, want: string | null): void {
    if (want === null) return;
    const have = this.store.get(name)?.generation ?? '0';
    if (want !== have) fail(412, 'At least one of the pre-conditions you specified did not hold.', 'conditionNotMet');
  }

  private dataFault(): void {
    const fault = this.faults.take('upload');
    if (fault) throw new HttpFailure(googleError(fault.status ?? 503, fault.message ?? 'Service Unavailable (tsuite stand-in fault)', fault.reason));
  }
}

/** A `multipart/related` body: the JSON metadata part and the data part. */
function parseMultipart(contentType: string, body: Buffer): { metadata: Record<string, unknown>; data: Buffer; dataType?: string } {
  const boundary = /boundary="?([^";]+)"?/i.exec(contentType)?.[1];
  if (!/^multipart\/related/i.test(contentType) || !boundary) fail(400, 'A multipart upload needs Content-Type multipart/related with a boundary.');
  const delim = Buffer.from(`--${boundary}`);
  const parts: { headers: string; data: Buffer }[] = [];
  let at = body.indexOf(delim);
  while (at >= 0) {
    const from = at + delim.length;
    if (body.subarray(from, from + 2).toString() === '--') break;
    const next = body.indexOf(delim, from);
    if (next < 0) break;
    const part = body.subarray(from, next);
    const split = part.indexOf('\r\n\r\n');
    if (split < 0) fail(400, 'A multipart part has no header/body separator.');
    let data = part.subarray(split + 4);
    if (data.subarray(-2).toString() === '\r\n') data = data.subarray(0, -2);
    parts.push({ headers: part.subarray(0, split).toString('utf8'), data });
    at = next;
  }
  if (parts.length !== 2) fail(400, `A multipart upload has exactly two parts (metadata, data); this one has ${parts.length}.`);
  let metadata: Record<string, unknown>;
  try {
    metadata = JSON.parse(parts[0]!.data.toString('utf8')) as Record<string, unknown>;
  } catch {
    return fail(400, 'Parse Error: the first multipart part must be the object metadata as JSON.', 'parseError');
  }
  const dataType = /content-type:\s*([^\r\n]+)/i.exec(parts[1]!.headers)?.[1]?.trim();
  return { metadata, data: parts[1]!.data, ...(dataType ? { dataType } : {}) };
}
