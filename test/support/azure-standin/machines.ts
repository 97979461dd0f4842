import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import { startQemu, type QemuMachine } from '../cloud-standin/instance-qemu.js';
import { sendStorageError } from './azurite.js';
import type { FaultSwitch } from './faults.js';

/**
 * The real machines behind virtual machines, and their managed boot diagnostics. A VM boots its OS
 * disk's fixed VHD under QEMU (`-drive format=vpc`, never written: snapshot=on), OVMF for a
 * HyperV generation V2 disk, SeaBIOS for V1, on user networking in the stand-in's subnet
 * (10.0.0.0/24, gateway 10.0.0.1) with the NIC's private address.
 *
 * retrieveBootDiagnosticsData answers SAS URIs to this server (`/bootdiagnostics/...?...&sig=`):
 * GET serves the whole serial log as Azure serves its serialconsole.log blob; the `sig` must be the
 * one handed out (403 AuthenticationFailed otherwise), and a log not written yet is 404 BlobNotFound.
 */
export class Machines {
  /** Serial log path per VM name (kept after deletion, until close()). */
  readonly consoles = new Map<string, string>();
  /** Every SAS signature handed out (secrets). */
  readonly signatures: string[] = [];
  private readonly sas = new Map<string, { path: string; expires: number }>();
  private readonly live = new Set<QemuMachine>();
  closing = false;

  constructor(private readonly dir: string, private readonly ownerTag: string, private readonly memoryMb: number, private readonly faults: FaultSwitch) {}

  async boot(vmId: string, vmName: string, disk: string, uefi: boolean, networkIP: string): Promise<QemuMachine> {
    const dir = join(this.dir, vmId);
    await mkdir(dir, { recursive: true });
    const machine = await startQemu({
      dir, disk, diskFormat: 'vpc', uefi, memoryMb: this.memoryMb, networkIP,
      subnet: { cidr: '10.0.0.0/24', gateway: '10.0.0.1' }, tag: `${this.ownerTag}-${vmName}`,
    });
    this.live.add(machine);
    void machine.exited.then(() => this.live.delete(machine));
    this.consoles.set(vmName, join(dir, 'serial.log'));
    if (this.closing) await machine.kill();
    return machine;
  }

  /** SAS URIs for retrieveBootDiagnosticsData. */
  bootDiagnosticsUris(origin: string, vmId: string, vmName: string, minutes: number): { consoleScreenshotBlobUri: string; serialConsoleLogBlobUri: string } {
    const start = new Date();
    const expiry = new Date(start.getTime() + minutes * 60_000);
    const uri = (file: string) => {
      const sig = randomBytes(32).toString('base64');
      this.signatures.push(sig, encodeURIComponent(sig));
      const path = `/bootdiagnostics/${vmId}/${file}`;
      this.sas.set(sig, { path, expires: expiry.getTime() });
      const q = new URLSearchParams({ sv: '2022-11-02', st: start.toISOString().slice(0, 19) + 'Z', se: expiry.toISOString().slice(0, 19) + 'Z', sr: 'b', sp: 'r', sig });
      return `${origin}${path}?${q.toString()}`;
    };
    return {
      consoleScreenshotBlobUri: uri(`${vmName}.${vmId}.screenshot.bmp`),
      serialConsoleLogBlobUri: uri(`${vmName}.${vmId}.serialconsole.log`),
    };
  }

  /** GET /bootdiagnostics/{vmId}/{file}?...sig= */
  async serve(res: ServerResponse, url: URL): Promise<void> {
    const sig = url.searchParams.get('sig') ?? '';
    const grant = this.sas.get(sig);
    if (!grant || grant.path !== url.pathname) return sendStorageError(res, 403, 'AuthenticationFailed', 'Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.');
    if (grant.expires < Date.now()) return sendStorageError(res, 403, 'AuthenticationFailed', 'Signed expiry time must be after signed start time.');
    const [, , vmId, file] = url.pathname.split('/');
    if (file!.endsWith('.bmp')) return sendStorageError(res, 404, 'BlobNotFound', 'The specified blob does not exist.');
    const log = join(this.dir, vmId!, 'serial.log');
    if (!existsSync(log)) return sendStorageError(res, 404, 'BlobNotFound', 'The specified blob does not exist.');
    const body = this.faults.take('console-empty') ? Buffer.alloc(0) : await readFile(log);
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(body.length), 'x-ms-blob-type': 'AppendBlob', 'last-modified': new Date().toUTCString() });
    res.end(body);
  }

  async killAll(): Promise<void> {
    this.closing = true;
    await Promise.all([...this.live].map((m) => m.kill()));
  }
}
