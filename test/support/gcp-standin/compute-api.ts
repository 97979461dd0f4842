import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { FaultSwitch } from './faults.js';
import { fail, googleError, HttpFailure, sendJson } from './google-errors.js';
import type { ImageStore } from './images.js';
import type { InstanceStore } from './instances.js';
import type { ComputeLinks } from './links.js';
import type { Operations } from './operations.js';
import { page } from './paging.js';
import { parseFilter } from './filters.js';
import { readSerialWindow } from './serial-port.js';

/**
 * The Compute Engine v1 REST calls tsuite makes, under `/compute/v1/projects/{project}/`:
 *
 * - `global/images` GET (list) and POST (insert); `global/images/{image}` GET and DELETE
 * - `zones/{zone}/machineTypes/{type}` GET (every type is the stand-in's real shape)
 * - `zones/{zone}/instances` GET (list) and POST (insert); `zones/{zone}/instances/{instance}` GET
 *   and DELETE; `.../{instance}/serialPort` GET (getSerialPortOutput)
 * - `global/operations/{op}` and `zones/{zone}/operations/{op}` GET and DELETE, `.../wait` POST
 *
 * Inserts and deletes answer 200 with an Operation and do the work behind it. Lists take `filter`
 * (see filters.ts), `maxResults` (default and max 500) and `pageToken`, sorted by name.
 */
export class ComputeApi {
  constructor(
    private readonly links: ComputeLinks,
    private readonly zone: string,
    private readonly ops: Operations,
    private readonly images: ImageStore,
    private readonly instances: InstanceStore,
    private readonly faults: FaultSwitch,
    private readonly serialWindow: number,
    private readonly memoryMb: number,
  ) {}

  async handle(req: IncomingMessage, res: ServerResponse, url: URL, body: () => Promise<Record<string, unknown>>): Promise<void> {
    const m = /^\/compute\/v1\/projects\/([^/]+)\/(.*)$/.exec(url.pathname);
    if (!m) fail(404, `No Compute Engine method at ${url.pathname}`);
    if (decodeURIComponent(m![1]!) !== this.links.project) fail(404, `The resource 'projects/${m![1]}' was not found`);
    const parts = m![2]!.split('/').map(decodeURIComponent);
    const method = req.method ?? 'GET';
    const q = url.searchParams;
    // Resource names become '*': global/images/{image}, zones/{zone}/instances/{instance}/serialPort, ...
    const named = parts[0] === 'global' ? [2] : [1, 3];
    const route = `${method} ${parts.map((p, i) => (named.includes(i) ? '*' : p)).join('/')}`;

    if (parts[0] === 'zones' && parts[1] !== this.zone) fail(400, `Invalid value for field 'zone': '${parts[1]}'. Unknown zone.`);
    const zone = parts[0] === 'zones' ? this.zone : undefined;

    switch (route) {
      case 'GET global/images':
        return this.list(res, url, 'compute#imageList', `projects/${this.links.project}/global/images`, this.images.list().map((r) => r.resource));
      case 'POST global/images': {
        const record = this.images.create(await body());
        const h = this.ops.start('insert', { link: record.resource.selfLink as string, id: record.resource.id as string });
        void this.images.import(record, h);
        return sendJson(res, 200, h.op);
      }
      case 'GET global/images/*':
        return sendJson(res, 200, this.image(parts[2]!).resource);
      case 'DELETE global/images/*': {
        const record = this.image(parts[2]!);
        this.deleteFault('delete-image');
        const h = this.ops.start('delete', { link: record.resource.selfLink as string, id: record.resource.id as string });
        void this.images.delete(record.name, h);
        return sendJson(res, 200, h.op);
      }
      case 'GET zones/*/instances':
        return this.list(res, url, 'compute#instanceList', `projects/${this.links.project}/zones/${this.zone}/instances`, this.instances.list(this.zone).map((r) => r.resource));
      case 'POST zones/*/instances': {
        const { record, image } = this.instances.create(this.zone, await body());
        const h = this.ops.start('insert', { link: record.resource.selfLink as string, id: record.resource.id as string }, this.zone);
        void this.instances.launch(record, image, h);
        return sendJson(res, 200, h.op);
      }
      case 'GET zones/*/instances/*':
        return sendJson(res, 200, this.instance(parts[3]!).resource);
      case 'DELETE zones/*/instances/*': {
        const record = this.instance(parts[3]!);
        this.deleteFault('delete-instance');
        const h = this.ops.start('delete', { link: record.resource.selfLink as string, id: record.resource.id as string }, this.zone);
        void this.instances.delete(record, h);
        return sendJson(res, 200, h.op);
      }
      case 'GET zones/*/machineTypes/*':
        return sendJson(res, 200, this.machineType(parts[3]!));
      case 'GET zones/*/instances/*/serialPort':
        return this.serialPort(res, parts[3]!, q);
      case 'GET global/operations/*':
      case 'GET zones/*/operations/*':
        return sendJson(res, 200, this.operation(zone, parts[parts.length - 1]!));
      case 'POST global/operations/*/wait':
      case 'POST zones/*/operations/*/wait': {
        const name = parts[parts.length - 2]!;
        this.operation(zone, name);
        const abort = new AbortController();
        res.on('close', () => abort.abort());
        return sendJson(res, 200, await this.ops.wait(zone, name, abort.signal));
      }
      case 'DELETE global/operations/*':
      case 'DELETE zones/*/operations/*':
        this.operation(zone, parts[parts.length - 1]!);
        this.ops.delete(zone, parts[parts.length - 1]!);
        return sendJson(res, 200, {});
      default:
        fail(404, `No Compute Engine method ${method} ${url.pathname} in this stand-in`);
    }
  }

  private list(res: ServerResponse, url: URL, kind: string, id: string, all: Record<string, unknown>[]): void {
    const fault = this.faults.take('list');
    if (fault) throw new HttpFailure(googleError(fault.status ?? 500, fault.message ?? 'Internal error. Please try again or contact Google Support. (tsuite stand-in fault)', fault.reason));
    const q = url.searchParams;
    const match = parseFilter(q.get('filter'));
    const { items, nextPageToken } = page(all.filter(match), q, `${id}\n${q.get('filter') ?? ''}`, { default: 500, max: 500 });
    sendJson(res, 200, { kind, id, ...(items.length ? { items } : {}), ...(nextPageToken ? { nextPageToken } : {}), selfLink: `https://www.googleapis.com/compute/v1/${id}` });
  }

  private async serialPort(res: ServerResponse, name: string, q: URLSearchParams): Promise<void> {
    const record = this.instance(name);
    const port = Number(q.get('port') ?? 1);
    if (!Number.isInteger(port) || port < 1 || port > 4) fail(400, `Invalid value for field 'port': '${q.get('port')}'. Must be between 1 and 4.`);
    const fault = this.faults.take('serial');
    if (fault) throw new HttpFailure(googleError(fault.status ?? 500, fault.message ?? 'Internal error. Please try again or contact Google Support. (tsuite stand-in fault)', fault.reason));
    // Only the first port is wired; the others exist and stay silent.
    const file = port === 1 && record.machine ? join(record.dir, 'serial.log') : undefined;
    const out = await readSerialWindow(file, this.serialWindow, q.get('start'));
    sendJson(res, 200, { kind: 'compute#serialPortOutput', contents: out.contents, start: String(out.start), next: String(out.next), selfLink: `${record.resource.selfLink as string}/serialPort` });
  }

  private deleteFault(step: 'delete-image' | 'delete-instance'): void {
    const fault = this.faults.take(step);
    if (fault) throw new HttpFailure(googleError(fault.status ?? 500, fault.message ?? 'Internal error. Please try again or contact Google Support. (tsuite stand-in fault)', fault.reason));
  }

  /**
   * machineTypes.get. Every type has the stand-in's real shape (1 vCPU, the configured memory), so
   * what a caller reads about the machine is what the guest finds; a name that no machine family
   * could have is a 404.
   */
  private machineType(name: string): Record<string, unknown> {
    if (!/^[a-z][a-z0-9]*-[a-z0-9-]*[a-z0-9]$/.test(name)) fail(404, `The resource 'projects/${this.links.project}/zones/${this.zone}/machineTypes/${name}' was not found`);
    return {
      kind: 'compute#machineType',
      id: String(9_000_000 + [...name].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 1_000_000, 0)),
      creationTimestamp: '2026-01-01T00:00:00.000-08:00',
      name,
      description: `1 vCPU, ${this.memoryMb} MB RAM (tsuite stand-in)`,
      guestCpus: 1,
      memoryMb: this.memoryMb,
      imageSpaceGb: 0,
      maximumPersistentDisks: 128,
      maximumPersistentDisksSizeGb: '263168',
      zone: this.zone,
      selfLink: `${this.links.zone(this.zone)}/machineTypes/${name}`,
      isSharedCpu: false,
      architecture: 'X86_64',
    };
  }

  private image(name: string) {
    const r = this.images.get(name);
    if (!r) fail(404, `The resource 'projects/${this.links.project}/global/images/${name}' was not found`);
    return r!;
  }

  private instance(name: string) {
    const r = this.instances.get(this.zone, name);
    if (!r) fail(404, `The resource 'projects/${this.links.project}/zones/${this.zone}/instances/${name}' was not found`);
    return r!;
  }

  private operation(zone: string | undefined, name: string) {
    const op = this.ops.get(zone, name);
    if (!op) fail(404, `The resource 'projects/${this.links.project}/${zone ? `zones/${zone}` : 'global'}/operations/${name}' was not found`);
    return op!;
  }
}
