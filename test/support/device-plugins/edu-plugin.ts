/**
 * A test device plugin for the resource tsuite.dev/edu, run as its own process (see main.ts): two
 * devices backed by files in a temp folder, real gRPC on unix sockets, re-registration when
 * kubelet.sock is recreated, and a device's health flipped on SIGUSR1 (the harness's health
 * trigger). `rule` makes it break one rule of the contract (broken-rules.ts).
 */
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { AllocateResponse, ContainerPreferredAllocationRequest, Device, DevicePluginOptions, ListAndWatchResponse } from '../../../suites/gpu/device-plugin/api.js';
import type { BrokenRule } from './broken-rules.js';

export const ENDPOINT = 'tsuite-edu.sock';
export const RESOURCE = 'tsuite.dev/edu';
const POLL_MS = 50;

type Call<Req> = grpc.ServerUnaryCall<Req, unknown>;
type Done = grpc.sendUnaryData<unknown>;

export interface EduPluginSettings {
  pluginDir: string;
  rule?: BrokenRule;
  /** false: advertises neither GetPreferredAllocation nor PreStartContainer. */
  advertiseOptions: boolean;
  services: { Registration: grpc.ServiceClientConstructor; DevicePlugin: grpc.ServiceClientConstructor };
}

export class EduPlugin {
  private server: grpc.Server | undefined;
  private streams = new Set<grpc.ServerWritableStream<unknown, ListAndWatchResponse>>();
  private devices: Device[] = [];
  private devDir = '';
  private registeredAs: string | undefined;
  private registrations = 0;
  private poller: NodeJS.Timeout | undefined;

  constructor(private readonly s: EduPluginSettings) {}

  private get rule(): BrokenRule | undefined {
    return this.s.rule;
  }

  private get options(): DevicePluginOptions {
    const on = this.s.advertiseOptions;
    return { pre_start_required: on, get_preferred_allocation_available: on };
  }

  async start(): Promise<void> {
    this.devDir = await mkdtemp(join(tmpdir(), 'tsuite-edu-'));
    await mkdir(join(this.devDir, 'lib'));
    for (const id of ['edu-0', 'edu-1']) await writeFile(join(this.devDir, id), '');
    this.devices = ['edu-0', 'edu-1'].map((ID) => ({ ID, health: 'Healthy', topology: null }));
    if (this.rule === 'duplicate-ids') this.devices.push({ ID: 'edu-0', health: 'Healthy', topology: null });
    if (this.rule === 'bad-health') this.devices[1]!.health = 'OK';
    if (this.rule === 'no-devices') this.devices = [];
    // Like a real plugin: serve, then register whenever a (new) kubelet.sock appears.
    this.poller = setInterval(() => void this.watchKubelet().catch((err) => console.error('edu-plugin:', err)), POLL_MS);
  }

  /** SIGUSR1: the first device turns Unhealthy (or back) and every watcher hears it. */
  flipHealth(): void {
    const d = this.devices[0];
    if (!d || this.rule === 'no-health-update') return;
    d.health = d.health === 'Healthy' ? 'Unhealthy' : 'Healthy';
    for (const s of this.streams) s.write({ devices: this.devices });
  }

  async stop(): Promise<void> {
    clearInterval(this.poller);
    this.server?.forceShutdown();
    await rm(join(this.s.pluginDir, ENDPOINT), { force: true });
    await rm(this.devDir, { recursive: true, force: true });
  }

  private busy = false;

  /**
   * Registers when kubelet.sock is new (another inode or birth time) or when our own socket went:
   * a restarting kubelet removes every socket in the folder, and a quick restart can hand the new
   * kubelet.sock the old inode number.
   */
  private async watchKubelet(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const k = await stat(join(this.s.pluginDir, 'kubelet.sock')).catch(() => undefined);
      if (!k) return;
      const identity = `${k.ino}:${k.birthtimeMs}:${k.ctimeMs}`;
      const own = await stat(join(this.s.pluginDir, ENDPOINT)).catch(() => undefined);
      if (identity === this.registeredAs && own) return;
      if (this.rule === 'no-register' || (this.rule === 'no-reregister' && this.registrations > 0)) return;
      if (!own || !this.server) await this.serve();
      await this.register();
      this.registeredAs = identity;
      this.registrations++;
    } finally {
      this.busy = false;
    }
  }

  private async serve(): Promise<void> {
    this.server?.forceShutdown();
    this.streams.clear();
    const path = join(this.s.pluginDir, ENDPOINT);
    await rm(path, { force: true });
    const server = new grpc.Server();
    server.addService(this.s.services.DevicePlugin.service, {
      GetDevicePluginOptions: (_c: Call<unknown>, done: Done) =>
        done(null, this.rule === 'options-mismatch' ? { pre_start_required: false, get_preferred_allocation_available: false } : this.options),
      ListAndWatch: (call: grpc.ServerWritableStream<unknown, ListAndWatchResponse>) => {
        this.streams.add(call);
        call.write({ devices: this.devices });
        call.on('cancelled', () => this.streams.delete(call));
      },
      GetPreferredAllocation: (c: Call<{ container_requests: ContainerPreferredAllocationRequest[] }>, done: Done) =>
        done(null, { container_responses: c.request.container_requests.map((r) => ({ deviceIDs: this.prefer(r) })) }),
      Allocate: (c: Call<{ container_requests: { devices_ids: string[] }[] }>, done: Done) => {
        const known = new Set(this.devices.map((d) => d.ID));
        const unknown = c.request.container_requests.flatMap((r) => r.devices_ids).filter((id) => !known.has(id));
        if (this.rule === 'allocate-refuses') return done({ code: grpc.status.INTERNAL, details: 'edu: allocation is broken on purpose' });
        if (unknown.length && this.rule !== 'accepts-unknown-device') return done({ code: grpc.status.INVALID_ARGUMENT, details: `edu: no such device ${unknown.join(', ')}` });
        const response: AllocateResponse = { container_responses: c.request.container_requests.map((r) => this.allocateOne(r.devices_ids)) };
        done(null, response);
      },
      PreStartContainer: (c: Call<{ devices_ids: string[] }>, done: Done) => {
        if (this.rule === 'pre-start-fails') return done({ code: grpc.status.INTERNAL, details: 'edu: reset failed on purpose' });
        done(null, {});
      },
    });
    await new Promise<void>((resolve, reject) => server.bindAsync(`unix://${path}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
    this.server = server;
  }

  private prefer(r: ContainerPreferredAllocationRequest): string[] {
    if (this.rule === 'bad-preferred-allocation') return r.available_deviceIDs;
    const picked = [...r.must_include_deviceIDs];
    for (const id of r.available_deviceIDs) if (picked.length < r.allocation_size && !picked.includes(id)) picked.push(id);
    return picked;
  }

  private allocateOne(ids: string[]) {
    const hostPath = (id: string) => (this.rule === 'missing-host-path' ? join(this.devDir, `gone-${id}`) : join(this.devDir, id));
    return {
      envs: { [this.rule === 'bad-env-name' ? '' : 'TSUITE_EDU_DEVICES']: ids.join(',') },
      mounts: [{ container_path: '/usr/local/edu', host_path: this.rule === 'missing-mount-path' ? join(this.devDir, 'no-lib') : join(this.devDir, 'lib'), read_only: true }],
      devices: ids.map((id) => ({ container_path: `/dev/${id}`, host_path: hostPath(id), permissions: 'rw' })),
      annotations: { 'tsuite.dev/edu': ids.join(',') },
      cdi_devices: ids.map((id) => ({ name: this.rule === 'bad-cdi-name' ? id : `tsuite.dev/edu=${id}` })),
    };
  }

  private async register(): Promise<void> {
    const client = new this.s.services.Registration(`unix://${join(this.s.pluginDir, 'kubelet.sock')}`, grpc.credentials.createInsecure()) as grpc.Client &
      Record<string, (req: object, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null) => void) => void>;
    const request = {
      version: this.rule === 'version' ? 'v1alpha1' : 'v1beta1',
      endpoint: this.rule === 'endpoint-missing' ? 'missing.sock' : ENDPOINT,
      resource_name: this.rule === 'resource-name' ? 'kubernetes.io/edu' : RESOURCE,
      options: this.rule === 'options-mismatch' ? { pre_start_required: true, get_preferred_allocation_available: true } : this.options,
    };
    try {
      await new Promise<void>((resolve, reject) => client.Register!(request, { deadline: Date.now() + 5_000 }, (err) => (err ? reject(err) : resolve())));
    } catch (err) {
      // A refused plugin ends, as the contract asks.
      console.error(`edu-plugin: registration refused: ${(err as Error).message}`);
      await this.stop();
      process.exit(1);
    } finally {
      client.close();
    }
  }
}
