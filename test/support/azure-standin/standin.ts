import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArmApi } from './arm-api.js';
import { ArmFailure, sendArmError, sendJson } from './arm-errors.js';
import { ACCOUNT, azuriteFetch, BlobProxy, sendStorageError, startAzurite, type AzuriteProcess } from './azurite.js';
import { EntraId } from './entra.js';
import { FaultSwitch, type AzureFaultOptions, type AzureFaultStep } from './faults.js';
import { Machines } from './machines.js';
import { Operations } from './operations.js';
import { ArmStore } from './resources.js';
import { makeStandinTls, type StandinTls } from './tls.js';

export interface AzureStandinOptions {
  subscriptionId: string;
  location: string;
  /** Azurite's only account. */
  storageAccount: 'devstoreaccount1';
  /** Created at start, as CI's staging container exists before a run. */
  container: string;
  /** Where Azurite's data, VHD copies and VM folders go; default a temp dir removed by close(). */
  dir?: string;
  /** Guest memory of every VM; default 768. */
  memoryMb?: number;
  /** Sent as Retry-After on running operations when set (Azure sends one); default none. */
  retryAfterSeconds?: number;
  /** How long a VM from a generalized image waits for a provisioning agent before failing; default 20000 (Azure: ~20 min). */
  osProvisioningTimeoutMs?: number;
}

export interface StandinRequest {
  method: string;
  path: string;
  at: number;
  status?: number;
}

/**
 * A local stand-in for the parts of Azure tsuite's `azure` runner uses — Entra ID, Resource
 * Manager (resource groups, images, disks, NICs, VMs, boot diagnostics) and blob storage (Azurite
 * behind a fault-injecting proxy) — on one HTTPS server, reached by the official SDKs. VMs are real
 * QEMU machines booting the uploaded VHD. See README.md.
 */
export class AzureStandin {
  readonly requests: StandinRequest[];
  readonly faultsFired: readonly AzureFaultStep[];
  readonly subnetId: string;
  readonly storageAccountId: string;

  private constructor(
    readonly origin: string,
    readonly caFile: string,
    private readonly opts: AzureStandinOptions,
    private readonly server: Server,
    private readonly dir: string,
    private readonly ownsDir: boolean,
    private readonly faults: FaultSwitch,
    private readonly entra: EntraId,
    private readonly store: ArmStore,
    private readonly ops: Operations,
    private readonly machines: Machines,
    private readonly azurite: AzuriteProcess,
    private readonly proxy: BlobProxy,
    private readonly federatedTokenFile: string,
    private readonly tls: StandinTls,
    init: { requests: StandinRequest[]; subnetId: string; storageAccountId: string },
  ) {
    this.requests = init.requests;
    this.faultsFired = faults.fired;
    this.subnetId = init.subnetId;
    this.storageAccountId = init.storageAccountId;
  }

  /** ARM's endpoint: the SDK clients' `endpoint` option. */
  get armUrl(): string {
    return this.origin;
  }

  /** The storage account's blob endpoint: BlobServiceClient's URL. */
  get blobUrl(): string {
    return `${this.origin}/${ACCOUNT}`;
  }

  /** Entra ID's authority host: AZURE_AUTHORITY_HOST / the credential's `authorityHost`. */
  get authorityHost(): string {
    return this.origin;
  }

  get tenantId(): string {
    return this.entra.tenantId;
  }

  get clientId(): string {
    return this.entra.clientId;
  }

  /** The CA the stand-in's certificate chains to, as PEM text (for `tlsOptions.ca` in-process). */
  get ca(): string {
    return this.tls.ca.toString('utf8');
  }

  /** Client secret, federated token, every access token issued, every SAS signature handed out. */
  get secrets(): string[] {
    return [this.entra.clientSecret, this.entra.federatedToken, ...this.entra.tokens, ...this.machines.signatures];
  }

  static async start(opts: AzureStandinOptions): Promise<AzureStandin> {
    if (opts.storageAccount !== ACCOUNT) throw new Error(`Azurite serves only the account ${ACCOUNT}`);
    const ownsDir = opts.dir === undefined;
    const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), `tsuite-qemu-${process.pid}-azure-`)));
    await mkdir(join(dir, 'tls'), { recursive: true });
    await mkdir(join(dir, 'azurite'), { recursive: true });
    const tls = await makeStandinTls(join(dir, 'tls'));
    const faults = new FaultSwitch();
    const entra = new EntraId(faults);
    const store = new ArmStore(opts.subscriptionId);
    const ops = new Operations(opts.subscriptionId, faults, opts.retryAfterSeconds);
    const ownerTag = `tsuite-qemu-${process.pid}-azure-${dir.replace(/[^A-Za-z0-9]/g, '')}`;
    const memoryMb = opts.memoryMb ?? 768;
    const machines = new Machines(join(dir, 'vms'), ownerTag, memoryMb, faults);
    const subnetId = `/subscriptions/${opts.subscriptionId}/resourceGroups/tsuite-network/providers/Microsoft.Network/virtualNetworks/tsuite-vnet/subnets/default`;
    const storageAccountId = `/subscriptions/${opts.subscriptionId}/resourceGroups/tsuite-storage/providers/Microsoft.Storage/storageAccounts/${ACCOUNT}`;
    const azurite = await startAzurite(join(dir, 'azurite'), tls);
    const proxy = new BlobProxy(azurite.port, tls, faults);
    let origin = '';
    let storageToken = '';
    const arm = new ArmApi({
      store, ops, faults, machines, tls, location: opts.location, subnetId, storageAccountId, dir,
      azuritePort: () => azurite.port, storageToken: () => storageToken, origin: () => origin, blobUrl: () => `${origin}/${ACCOUNT}`,
      osProvisioningTimeoutMs: opts.osProvisioningTimeoutMs ?? 20_000, memoryMb,
    });
    const requests: StandinRequest[] = [];

    const route = async (req: IncomingMessage, res: ServerResponse) => {
      const url = new URL(req.url ?? '/', origin);
      if (url.pathname === `/${ACCOUNT}` || url.pathname.startsWith(`/${ACCOUNT}/`)) {
        const auth = req.headers.authorization;
        if (auth) {
          const ok = entra.check(req, 'https://storage.azure.com');
          if (!ok.ok) return sendStorageError(res, 401, 'InvalidAuthenticationInfo', `Authentication information is not given in the correct format. ${ok.message}`);
        }
        return proxy.handle(req, res, url);
      }
      const body = await readBody(req);
      if (entra.handle(req, res, url, body, origin)) return;
      if (url.pathname.startsWith('/bootdiagnostics/') && req.method === 'GET') return machines.serve(res, url);
      if (!/^\/subscriptions\//i.test(url.pathname)) return sendJson(res, 404, { error: { code: 'NotFound', message: `Nothing at ${url.pathname}.` } });
      const ok = entra.check(req, 'https://management.azure.com');
      if (!ok.ok) {
        return sendJson(res, 401, { error: { code: ok.code, message: ok.message } }, {
          'www-authenticate': `Bearer authorization_uri="${origin}/${entra.tenantId}", error="invalid_token", error_description="${ok.message.replace(/"/g, "'")}"`,
        });
      }
      return arm.handle(req, res, url, () => json(body));
    };
    const server = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
      const entry: StandinRequest = { method: req.method ?? '', path: req.url ?? '', at: Date.now() };
      requests.push(entry);
      res.on('finish', () => (entry.status = res.statusCode));
      route(req, res).catch((err: unknown) => {
        if (res.headersSent) return void res.destroy();
        if (err instanceof ArmFailure) sendArmError(res, err);
        else sendJson(res, 500, { error: { code: 'InternalServerError', message: `stand-in error: ${(err as Error).stack ?? String(err)}` } });
      });
    });
    try {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
      storageToken = entra.internalToken('https://storage.azure.com');
      const made = await azuriteFetch(azurite.port, tls, storageToken, 'PUT', `/${ACCOUNT}/${encodeURIComponent(opts.container)}?restype=container`, { 'content-length': '0' });
      made.body.resume();
      if (made.status !== 201) throw new Error(`Azurite refused to create container ${opts.container}: HTTP ${made.status}`);
    } catch (err) {
      server.close();
      await azurite.close();
      throw err;
    }
    const federatedTokenFile = join(dir, 'federated-token');
    await writeFile(federatedTokenFile, entra.federatedToken, { mode: 0o600 });
    const standin = new AzureStandin(origin, tls.caFile, opts, server, dir, ownsDir, faults, entra, store, ops, machines, azurite, proxy, federatedTokenFile, tls, { requests, subnetId, storageAccountId });
    return standin;
  }

  /**
   * The environment a child process (the tsuite CLI) needs: DefaultAzureCredential's variables —
   * workload identity (a federated token file, what CI uses) by default, or a client secret — the
   * authority host, and the CA to trust.
   */
  env(auth: 'federated' | 'secret' = 'federated'): NodeJS.ProcessEnv {
    return {
      AZURE_TENANT_ID: this.entra.tenantId,
      AZURE_CLIENT_ID: this.entra.clientId,
      ...(auth === 'federated' ? { AZURE_FEDERATED_TOKEN_FILE: this.federatedTokenFile } : { AZURE_CLIENT_SECRET: this.entra.clientSecret }),
      AZURE_AUTHORITY_HOST: this.origin,
      NODE_EXTRA_CA_CERTS: this.caFile,
    };
  }

  fail(step: AzureFaultStep, opts?: AzureFaultOptions): void {
    this.faults.arm(step, opts);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  inventory(): { groups: string[]; images: string[]; vms: string[]; nics: string[]; disks: string[]; blobs: string[] } {
    const names = (kind: Parameters<ArmStore['list']>[0]) => this.store.list(kind).map((r) => `${r.group}/${r.name}`).sort();
    return {
      groups: [...this.store.groups.values()].map((g) => g.name).sort(),
      images: names('images'),
      vms: names('virtualMachines'),
      nics: names('networkInterfaces'),
      disks: names('disks'),
      blobs: [...this.proxy.blobs].sort(),
    };
  }

  /** The VM's serial log on disk (QEMU writes it), kept after the VM is deleted, until close(). */
  consolePath(vm: string): string | undefined {
    return this.machines.consoles.get(vm);
  }

  /** Azurite's pid (tests check it is gone after close()). */
  get azuritePid(): number {
    return this.azurite.pid;
  }

  async close(): Promise<void> {
    this.ops.releaseAll();
    await this.machines.killAll();
    await this.azurite.close();
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
  throw new ArmFailure(400, { code: 'InvalidRequestContent', message: 'The request content was invalid and could not be deserialized.' });
}
