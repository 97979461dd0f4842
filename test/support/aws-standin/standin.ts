import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ec2Api } from './ec2-api.js';
import { Ec2Error, ec2Fail, parseQuery, sendEc2Error } from './ec2-wire.js';
import { FaultSwitch, type AwsFaultOptions, type AwsFaultStep } from './faults.js';
import { ImageStore } from './images.js';
import { InstanceStore } from './instances.js';
import { S3Front } from './s3-front.js';
import { SnapshotStore } from './snapshots.js';
import { assumeRoleWithWebIdentity } from './sts.js';

export const PLANTED = 'TSUITE-PLANTED-SECRET';
/** The role CI assumes with its OIDC token (the stand-in's STS trusts this one only). */
export const ROLE_ARN = 'arn:aws:iam::123456789012:role/tsuite-ci';

export interface AwsStandinOptions {
  region: string;
  bucket: string;
  /** The one subnet that exists (172.31.0.0/20, gateway 172.31.0.1); default a generated id. */
  subnetId?: string;
  /** Where objects, snapshots and instance folders go; default a temp dir removed by close(). */
  dir?: string;
  /** Guest memory of every instance; default 768. */
  memoryMb?: number;
  /** How long an import task stays active; default 1500 ms. */
  importMs?: number;
  /** How long `pending` states last (image, instance, shutting-down); default 300 ms. */
  stepMs?: number;
  /** When the console is first posted after `running`; default 3000 ms. */
  consolePostMs?: number;
  /** Which 64 KiB of the log the posted console holds (see console-output.ts); default 'head'. */
  postedConsole?: 'head' | 'tail';
  accountId?: string;
}

export interface AwsStandinRequest {
  service: 'ec2' | 's3';
  /** EC2: the Action; S3: method and path with query. */
  action: string;
  at: number;
  status?: number;
}

export interface AwsInventory {
  instances: string[];
  images: string[];
  snapshots: string[];
  volumes: string[];
  objects: string[];
  importTasks: string[];
}

/**
 * A local stand-in for the parts of Amazon EC2 and S3 tsuite's aws runner uses, reached by the AWS
 * SDK for JavaScript v3 through its `endpoint` option, with real QEMU machines behind its
 * instances (see README.md). QEMU command lines carry `tsuite-qemu-<pid>-aws`.
 */
export class AwsStandin {
  /** Every call received, in arrival order (status once answered). */
  readonly requests: AwsStandinRequest[];
  readonly faultsFired: readonly AwsFaultStep[];
  readonly secrets: readonly string[];

  private constructor(
    private readonly server: Server,
    private readonly s3: S3Front,
    private readonly dir: string,
    private readonly ownsDir: boolean,
    private readonly faults: FaultSwitch,
    private readonly snapshots: SnapshotStore,
    private readonly images: ImageStore,
    private readonly instances: InstanceStore,
    readonly ec2Url: string,
    readonly subnetId: string,
    private readonly creds: { accessKeyId: string; secretAccessKey: string; sessionToken: string; region: string; webIdentityToken: string },
    requests: AwsStandinRequest[],
  ) {
    this.requests = requests;
    this.faultsFired = faults.fired;
    this.secrets = [creds.secretAccessKey, creds.sessionToken, creds.webIdentityToken];
  }

  get s3Url(): string {
    return this.s3.url;
  }

  static async start(opts: AwsStandinOptions): Promise<AwsStandin> {
    const ownsDir = opts.dir === undefined;
    const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), `tsuite-qemu-${process.pid}-aws-`)));
    await mkdir(join(dir, 's3'), { recursive: true });
    const creds = {
      accessKeyId: `ASIA${randomBytes(8).toString('hex').toUpperCase()}`,
      secretAccessKey: `${PLANTED}-secret-${randomBytes(12).toString('hex')}`,
      sessionToken: `IQoJb3JpZ2luX2Vj${PLANTED}-session-${randomBytes(16).toString('hex')}`,
      region: opts.region,
    };
    // GitHub's OIDC token in CI: a JWT-shaped planted secret, written where the SDK reads it.
    const webIdentityToken = `eyJhbGciOiJSUzI1NiJ9.${Buffer.from('{"sub":"repo:your-org/your-kernel","aud":"sts.amazonaws.com"}').toString('base64url')}.${PLANTED}-${randomBytes(32).toString('base64url')}`;
    await writeFile(join(dir, 'web-identity-token'), webIdentityToken, { mode: 0o600 });
    const faults = new FaultSwitch();
    const requests: AwsStandinRequest[] = [];
    const s3 = await S3Front.start({
      dir: join(dir, 's3'), bucket: opts.bucket, ...creds, faults,
      log: ({ action }) => {
        const entry: AwsStandinRequest = { service: 's3', action, at: Date.now() };
        requests.push(entry);
        return entry;
      },
    });
    const stepMs = opts.stepMs ?? 300;
    const snapshots = new SnapshotStore(join(dir, 'snapshots'), (b, k, f) => {
      if (b !== opts.bucket) return Promise.reject(new Error('NoSuchBucket'));
      return s3.readObject(b, k, f);
    }, faults, opts.importMs ?? 1500);
    const images = new ImageStore(snapshots, stepMs);
    const subnetId = opts.subnetId ?? `subnet-0${randomBytes(8).toString('hex')}`;
    const ownerTag = `tsuite-qemu-${process.pid}-aws-${dir.replace(/[^A-Za-z0-9]/g, '')}`;
    const instances = new InstanceStore(images, snapshots, faults, {
      dir: join(dir, 'instances'),
      memoryMb: opts.memoryMb ?? 768,
      ownerTag,
      availabilityZone: `${opts.region}a`,
      subnet: { id: subnetId, vpcId: `vpc-0${randomBytes(8).toString('hex')}`, cidr: '172.31.0.0/20', gateway: '172.31.0.1' },
      stepMs,
      consolePostMs: opts.consolePostMs ?? 3000,
      postedWindow: opts.postedConsole ?? 'head',
    });
    const api = new Ec2Api(snapshots, images, instances, faults, opts.accountId ?? '123456789012');

    const server = createServer((req, res) => {
      const entry: AwsStandinRequest = { service: 'ec2', action: '', at: Date.now() };
      requests.push(entry);
      res.on('finish', () => (entry.status = res.statusCode));
      (async () => {
        const body = (await readBody(req)).toString('utf8');
        const form = new URLSearchParams(req.method === 'POST' ? body : new URL(req.url ?? '/', 'http://x').search);
        entry.action = form.get('Action') ?? '';
        // STS shares the Query endpoint (AWS_ENDPOINT_URL_STS points here): its one call is unsigned.
        if (entry.action === 'AssumeRoleWithWebIdentity') return assumeRoleWithWebIdentity(form, { roleArn: ROLE_ARN, token: webIdentityToken, credentials: creds }, faults, res);
        authorize(req, creds);
        if (!entry.action) ec2Fail(400, 'MissingAction', 'The request must contain the parameter Action');
        if (!form.get('Version')) ec2Fail(400, 'MissingParameter', 'The request must contain the parameter Version');
        await api.handle(entry.action, parseQuery(form), res);
      })().catch((err: unknown) => {
        if (res.headersSent) return void res.destroy();
        sendEc2Error(res, err instanceof Ec2Error ? err : new Ec2Error(500, 'InternalError', `stand-in error: ${(err as Error).stack ?? String(err)}`));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const ec2Url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return new AwsStandin(server, s3, dir, ownsDir, faults, snapshots, images, instances, ec2Url, subnetId, { ...creds, webIdentityToken }, requests);
  }

  /**
   * The variables the SDK's default credential chain reads: static keys with a session token (both
   * planted secrets), the region, and AWS_EC2_METADATA_DISABLED so the chain never reaches
   * 169.254.169.254. Use as `{ ...process.env, ...standin.env() }` for a child, or set them.
   */
  env(): NodeJS.ProcessEnv {
    return {
      AWS_ACCESS_KEY_ID: this.creds.accessKeyId,
      AWS_SECRET_ACCESS_KEY: this.creds.secretAccessKey,
      AWS_SESSION_TOKEN: this.creds.sessionToken,
      AWS_REGION: this.creds.region,
      AWS_EC2_METADATA_DISABLED: 'true',
    };
  }

  /**
   * The variables of CI's keyless sign-in instead: a web identity token file and a role, which the
   * SDK's default chain exchanges at STS (AssumeRoleWithWebIdentity, here through
   * AWS_ENDPOINT_URL_STS) for the session credentials; no key in the environment at all.
   */
  webIdentityEnv(): NodeJS.ProcessEnv {
    return {
      AWS_WEB_IDENTITY_TOKEN_FILE: join(this.dir, 'web-identity-token'),
      AWS_ROLE_ARN: ROLE_ARN,
      AWS_ROLE_SESSION_NAME: 'tsuite-nightly',
      AWS_ENDPOINT_URL_STS: this.ec2Url,
      AWS_REGION: this.creds.region,
      AWS_EC2_METADATA_DISABLED: 'true',
    };
  }

  fail(step: AwsFaultStep, opts?: AwsFaultOptions): void {
    this.faults.arm(step, opts);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  /** What exists now: instances not terminated, images, snapshots, volumes, objects, active import tasks. */
  inventory(): AwsInventory {
    return {
      instances: [...this.instances.instances.values()].filter((i) => i.state !== 'terminated').map((i) => i.id).sort(),
      images: [...this.images.images.keys()].sort(),
      snapshots: [...this.snapshots.snapshots.keys()].sort(),
      volumes: [...this.instances.volumes.keys()].sort(),
      objects: this.s3.objects(),
      importTasks: [...this.snapshots.tasks.values()].filter((t) => t.status === 'active').map((t) => t.id).sort(),
    };
  }

  /**
   * Each object an import task read, in order: its key, size and the sha256 of its bytes as S3
   * served them (kept after the object and the task are gone: tests compare it with the package).
   */
  importedObjects(): { taskId: string; key: string; bytes: number; sha256: string }[] {
    return [...this.snapshots.tasks.values()].filter((t) => t.sha256 !== undefined)
      .map((t) => ({ taskId: t.id, key: t.key, bytes: t.diskImageSize ?? 0, sha256: t.sha256! }));
  }

  /** The instance's serial log (QEMU writes it; a test may write it itself); kept until close(). */
  consolePath(instanceId: string): string | undefined {
    return this.instances.instances.get(instanceId)?.console.path;
  }

  /** Posts the instance's console now, as EC2 does at a state change (tests of the posted view). */
  async postConsole(instanceId: string): Promise<void> {
    await this.instances.get(instanceId).console.post();
  }

  /** The QEMU pid behind an instance, for tests that check it is gone. */
  qemuPid(instanceId: string): number | undefined {
    return this.instances.instances.get(instanceId)?.machine?.pid;
  }

  async close(): Promise<void> {
    await this.instances.killAll();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await this.s3.close();
    if (this.ownsDir) await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * EC2 takes SigV4 (`AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/ec2/aws4_request, ...`). The
 * stand-in checks the key, the scope's region and service, and the session token; it does not
 * recompute the signature.
 */
function authorize(req: IncomingMessage, creds: { accessKeyId: string; sessionToken: string; region: string }): void {
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request,/.exec(req.headers.authorization ?? '');
  if (!m) ec2Fail(401, 'AuthFailure', 'AWS was not able to validate the provided access credentials');
  if (m![1] !== creds.accessKeyId) ec2Fail(401, 'AuthFailure', 'AWS was not able to validate the provided access credentials');
  if (m![3] !== 'ec2' || m![2] !== creds.region) ec2Fail(401, 'AuthFailure', `Credential should be scoped to a valid region and service ec2 (got ${m![2]}/${m![3]}).`);
  if (req.headers['x-amz-security-token'] !== creds.sessionToken) ec2Fail(401, 'AuthFailure', 'AWS was not able to validate the provided access credentials');
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
