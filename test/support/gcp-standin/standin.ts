import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ComputeApi } from './compute-api.js';
import { FaultSwitch, type GcpFaultOptions, type GcpFaultStep } from './faults.js';
import { fail, googleError, HttpFailure, sendError } from './google-errors.js';
import { ImageStore } from './images.js';
import { InstanceStore } from './instances.js';
import { ComputeLinks } from './links.js';
import { ObjectStore } from './object-store.js';
import { Operations } from './operations.js';
import { StorageApi } from './storage-api.js';
import { StorageUploads } from './storage-uploads.js';
import { TokenService } from './sts.js';

export type { GcpFaultStep } from './faults.js';

export interface GcpStandinOptions {
  project: string;
  zone: string;
  bucket: string;
  /** Where objects, unpacked images and instance folders go; default a temp dir removed by close(). */
  dir?: string;
  /** Serial output retained per instance, as GCE's 1 MB buffer; default 1 MiB. */
  serialWindowBytes?: number;
  /** Guest memory of every instance; default 768. */
  memoryMb?: number;
  /** Longest a zoneOperations/globalOperations wait holds before answering (GCE: ~2 min); default 5000. */
  operationWaitMs?: number;
}

export interface StandinRequest {
  method: string;
  /** Path and query as sent. */
  path: string;
  at: number;
  status?: number;
}

/**
 * A local stand-in for Google Compute Engine, Cloud Storage and Google STS, reached by the official
 * Node libraries over real HTTP, with real QEMU machines behind its instances (see README.md).
 * QEMU command lines carry `tsuite-qemu-<pid>-gcp`: tsuite's orphan sweep and `pgrep -f` find them.
 */
export class GcpStandin {
  readonly url: string;
  readonly port: number;
  readonly credentialsFile: string;
  readonly secrets: readonly string[];
  /** Every call received, STS included, in arrival order (status once answered). */
  readonly requests: StandinRequest[];
  /** Every fault that fired, in order. */
  readonly faultsFired: readonly GcpFaultStep[];

  private constructor(
    private readonly server: Server,
    private readonly dir: string,
    private readonly ownsDir: boolean,
    private readonly faults: FaultSwitch,
    private readonly sts: TokenService,
    private readonly objects: ObjectStore,
    private readonly images: ImageStore,
    private readonly instances: InstanceStore,
    private readonly ops: Operations,
    init: { url: string; port: number; credentialsFile: string; requests: StandinRequest[] },
  ) {
    this.requests = init.requests;
    this.url = init.url;
    this.port = init.port;
    this.credentialsFile = init.credentialsFile;
    this.secrets = [sts.subjectToken, sts.accessToken];
    this.faultsFired = faults.fired;
  }

  static async start(opts: GcpStandinOptions): Promise<GcpStandin> {
    const ownsDir = opts.dir === undefined;
    // Named like tsuite's own QEMU temp dirs, so a run killed outright leaves nothing a sweep misses.
    const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), `tsuite-qemu-${process.pid}-gcp-`)));
    await mkdir(dir, { recursive: true });
    const faults = new FaultSwitch();
    const links = new ComputeLinks(opts.project);
    const sts = new TokenService(opts.project, faults);
    const objects = new ObjectStore(opts.bucket, join(dir, 'objects'));
    const images = new ImageStore(links, objects, faults, join(dir, 'images'));
    const ownerTag = `tsuite-qemu-${process.pid}-gcp-${dir.replace(/[^A-Za-z0-9]/g, '')}`;
    const memoryMb = opts.memoryMb ?? 768;
    const instances = new InstanceStore(links, images, faults, { dir: join(dir, 'instances'), memoryMb, ownerTag });
    const ops = new Operations(links, faults, `tsuite-ci@${opts.project}.iam.gserviceaccount.com`, opts.operationWaitMs ?? 5000);
    let origin = '';
    const compute = new ComputeApi(links, opts.zone, ops, images, instances, faults, opts.serialWindowBytes ?? 1024 * 1024, memoryMb);
    const storage = new StorageApi(objects, faults, () => origin);
    const uploads = new StorageUploads(objects, faults, () => origin);
    const requests: StandinRequest[] = [];

    const route = async (req: IncomingMessage, res: ServerResponse) => {
      const url = new URL(req.url ?? '/', origin);
      const body = await readBody(req);
      if (url.pathname === '/v1/token' && req.method === 'POST') return sts.exchange(new URLSearchParams(body.toString('utf8')), res);
      const api = /^\/(compute|storage|download\/storage|upload\/storage)\/v1\//.exec(url.pathname)?.[1];
      if (!api) fail(404, `Nothing at ${url.pathname}: this stand-in serves /compute/v1, /storage/v1, /upload/storage/v1 and /v1/token`);
      // A resumable session URI is itself the credential (GCS documents that its PUTs need no
      // Authorization); every other call needs the access token.
      const sessionPut = api === 'upload/storage' && url.searchParams.has('upload_id') && !req.headers.authorization;
      if (!sessionPut && !sts.authorize(req, res)) return;
      if (api === 'compute') return compute.handle(req, res, url, async () => json(body));
      if (api === 'upload/storage') return uploads.handle(req, res, url, body);
      return storage.handle(req, res, url);
    };
    const server = createServer((req, res) => {
      const entry: StandinRequest = { method: req.method ?? '', path: req.url ?? '', at: Date.now() };
      requests.push(entry);
      res.on('finish', () => (entry.status = res.statusCode));
      route(req, res).catch((err: unknown) => {
        if (res.headersSent) return void res.destroy();
        if (err instanceof HttpFailure) sendError(res, err.body);
        else sendError(res, googleError(500, `stand-in error: ${(err as Error).stack ?? String(err)}`));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    origin = `http://127.0.0.1:${port}`;
    const credentialsFile = await sts.writeCredentials(dir, origin);
    return new GcpStandin(server, dir, ownsDir, faults, sts, objects, images, instances, ops, { url: origin, port, credentialsFile, requests });
  }

  fail(step: GcpFaultStep, opts?: GcpFaultOptions): void {
    this.faults.arm(step, opts);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  inventory(): { instances: string[]; images: string[]; objects: string[] } {
    return {
      instances: this.instances.all().map((r) => r.name).sort(),
      images: this.images.list().map((r) => r.name),
      objects: this.objects.names(),
    };
  }

  /**
   * The instance's serial log on disk (QEMU writes it), once its machine has started; still there
   * after the instance is deleted, until close().
   */
  consolePath(instance: string): string | undefined {
    return this.instances.consoles.get(instance);
  }

  /** Every instance resource inserted, as sent (labels, NICs, service accounts, metadata), kept after deletion. */
  get instancesCreated(): readonly Record<string, unknown>[] {
    return this.instances.created;
  }

  /** The QEMU pid behind an instance, for tests that check it is gone. */
  qemuPid(instance: string): number | undefined {
    return this.instances.all().find((i) => i.name === instance)?.machine?.pid;
  }

  async close(): Promise<void> {
    this.ops.releaseAll();
    await this.instances.killAll();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    if (this.ownsDir) await rm(this.dir, { recursive: true, force: true });
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function json(body: Buffer): Record<string, unknown> {
  if (body.length === 0) return {};
  try {
    const v = JSON.parse(body.toString('utf8')) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // fall through
  }
  return fail(400, 'Invalid JSON payload received.', 'parseError');
}
