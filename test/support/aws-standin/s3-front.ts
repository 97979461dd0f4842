import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createWriteStream, existsSync, readdirSync, rmSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { join, relative, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { escapeXml } from './ec2-wire.js';
import type { FaultSwitch } from './faults.js';

/**
 * S3 is npm's s3rver (3.7.1) on a private folder, behind a small proxy of ours. The proxy is what
 * callers reach: it checks the SigV4 Authorization header names the stand-in's access key (s3rver
 * checks only that the key exists and verifies no V4 signature), logs each request, answers the
 * armed faults with S3's XML error, and refuses a body in the SDK's `aws-chunked` framing, which
 * s3rver would store verbatim (framing and trailing checksum inside the object) instead of
 * decoding. Everything else is s3rver's own behaviour.
 */

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverClass = new (opts: Record<string, unknown>) => S3rverInstance;
interface S3rverAccount {
  createKeyPair(id: string, secret: string): void;
  revokeAccessKey(id: string): void;
}

const require = createRequire(import.meta.url);
const OBJECT_SUFFIX = '._S3rver_object';

export interface S3Request {
  method: string;
  path: string;
  status?: number;
}

export class S3Front {
  private constructor(
    private readonly s3rver: S3rverInstance,
    private readonly proxy: Server,
    private readonly account: S3rverAccount,
    private readonly accessKeyId: string,
    readonly url: string,
    readonly backendUrl: string,
    private readonly dir: string,
    readonly bucket: string,
  ) {}

  static async start(opts: {
    dir: string;
    bucket: string;
    accessKeyId: string;
    secretAccessKey: string;
    sessionToken: string;
    faults: FaultSwitch;
    log: (entry: { action: string }) => { status?: number };
  }): Promise<S3Front> {
    const S3rver = require('s3rver') as S3rverClass;
    const account = (require('s3rver/lib/models/account') as { DUMMY_ACCOUNT: S3rverAccount }).DUMMY_ACCOUNT;
    account.createKeyPair(opts.accessKeyId, opts.secretAccessKey);
    const s3rver = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: opts.dir, configureBuckets: [{ name: opts.bucket, configs: [] }] });
    const backend = await s3rver.run();
    const backendUrl = `http://127.0.0.1:${backend.port}`;
    const proxy = createServer((req, res) => {
      const entry = opts.log({ action: `${req.method} ${req.url}` });
      res.on('finish', () => (entry.status = res.statusCode));
      forward(req, res, backend.port, { ...opts, s3dir: opts.dir }).catch((err: unknown) => {
        if (res.headersSent) return void res.destroy();
        s3Error(res, 500, 'InternalError', `stand-in proxy error: ${(err as Error).message}`);
      });
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    return new S3Front(s3rver, proxy, account, opts.accessKeyId, url, backendUrl, opts.dir, opts.bucket);
  }

  /**
   * Copies an object's bytes into `file` through s3rver itself (the import's read of S3); resolves
   * to their sha256, what tests compare with the package that was uploaded.
   */
  async readObject(bucket: string, key: string, file: string): Promise<string> {
    const res = await fetch(`${this.backendUrl}/${encodeURIComponent(bucket)}/${key.split('/').map(encodeURIComponent).join('/')}`);
    if (res.status !== 200 || !res.body) {
      const code = /<Code>([^<]*)<\/Code>/.exec(await res.text())?.[1] ?? `HTTP ${res.status}`;
      throw new Error(code);
    }
    const hash = createHash('sha256');
    await pipeline(res.body, async function* (chunks: AsyncIterable<Uint8Array>) {
      for await (const c of chunks) {
        hash.update(c);
        yield c;
      }
    }, createWriteStream(file));
    return hash.digest('hex');
  }

  /** The keys stored in the bucket now (s3rver's folder, read directly). */
  objects(): string[] {
    const root = join(this.dir, this.bucket);
    const out: string[] = [];
    const walk = (d: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.name.endsWith(OBJECT_SUFFIX)) out.push(relative(root, p).slice(0, -OBJECT_SUFFIX.length).split(sep).join('/'));
      }
    };
    try {
      walk(root);
    } catch {
      // no bucket folder yet
    }
    return out.sort();
  }

  async close(): Promise<void> {
    this.proxy.closeAllConnections();
    await new Promise<void>((resolve) => this.proxy.close(() => resolve()));
    await this.s3rver.close();
    this.account.revokeAccessKey(this.accessKeyId);
  }
}

async function forward(
  req: IncomingMessage,
  res: ServerResponse,
  port: number,
  opts: { accessKeyId: string; sessionToken: string; faults: FaultSwitch; s3dir: string },
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://s3');
  const [, bucket, ...keyParts] = url.pathname.split('/');
  const key = keyParts.join('/');
  const auth = /^AWS4-HMAC-SHA256 Credential=([^/]+)\//.exec(req.headers.authorization ?? '');
  if (!auth) return drainThen(req, () => s3Error(res, 403, 'AccessDenied', 'Access Denied'));
  if (auth[1] !== opts.accessKeyId) return drainThen(req, () => s3Error(res, 403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.'));
  if (req.headers['x-amz-security-token'] !== opts.sessionToken) {
    return drainThen(req, () => s3Error(res, 400, 'InvalidToken', 'The provided token is malformed or otherwise invalid.'));
  }
  const chunked = String(req.headers['content-encoding'] ?? '').includes('aws-chunked') || String(req.headers['x-amz-content-sha256'] ?? '').startsWith('STREAMING-');
  if (chunked) {
    return drainThen(req, () => s3Error(res, 501, 'NotImplemented',
      "The stand-in's s3rver cannot decode aws-chunked bodies: configure the S3 client with requestChecksumCalculation: 'WHEN_REQUIRED' (see test/support/aws-standin/README.md)."));
  }
  const step = req.method === 'PUT' && key && !req.headers['x-amz-copy-source'] ? 'upload'
    : req.method === 'DELETE' && key && !url.searchParams.has('uploadId') ? 'delete-object'
      : req.method === 'GET' && bucket && !key && !url.searchParams.has('uploads') ? 'list'
        : undefined;
  const fault = step ? opts.faults.take(step) : undefined;
  if (fault) return drainThen(req, () => s3Error(res, fault.status ?? 500, fault.code ?? 'InternalError', fault.message ?? 'We encountered an internal error. Please try again.'));
  const uploadId = url.searchParams.get('uploadId');
  if (req.method === 'DELETE' && key && uploadId !== null) return abortMultipartUpload(req, res, join(opts.s3dir, bucket ?? '', UPLOADS_DIR), uploadId);
  await new Promise<void>((resolve, reject) => {
    const out = request({ host: '127.0.0.1', port, method: req.method, path: req.url, headers: req.headers }, (back) => {
      res.writeHead(back.statusCode ?? 502, back.headers);
      back.pipe(res);
      back.on('end', resolve);
      back.on('error', reject);
    });
    out.on('error', reject);
    req.pipe(out);
  });
}

/** Where s3rver keeps a bucket's unfinished multipart uploads, one folder per upload id. */
const UPLOADS_DIR = '._S3rver_uploads';

/**
 * AbortMultipartUpload, which s3rver 3.7 does not serve (it answers 405 MethodNotAllowed, and
 * lib-storage then reports that instead of the error that made it abort): the upload's parts are
 * removed and S3's 204 answered, or 404 NoSuchUpload for an id that is not there.
 */
function abortMultipartUpload(req: IncomingMessage, res: ServerResponse, uploadsDir: string, uploadId: string): void {
  drainThen(req, () => {
    const dir = join(uploadsDir, uploadId);
    if (!/^[0-9a-f]+$/.test(uploadId) || !existsSync(dir)) {
      return s3Error(res, 404, 'NoSuchUpload', 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.');
    }
    rmSync(dir, { recursive: true, force: true });
    res.writeHead(204, { 'x-amz-request-id': randomUUID().replace(/-/g, '').slice(0, 16).toUpperCase() });
    res.end();
  });
}

function drainThen(req: IncomingMessage, answer: () => void): void {
  req.resume();
  req.on('end', answer);
}

function s3Error(res: ServerResponse, status: number, code: string, message: string): void {
  const requestId = randomUUID().replace(/-/g, '').slice(0, 16).toUpperCase();
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message><RequestId>${requestId}</RequestId><HostId>${randomBytes(24).toString('base64')}</HostId></Error>`;
  res.writeHead(status, { 'content-type': 'application/xml', 'x-amz-request-id': requestId, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
