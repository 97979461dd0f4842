import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FaultSwitch } from './faults.js';
import type { StandinTls } from './tls.js';

/**
 * Blob storage is Microsoft's own emulator, Azurite (npm `azurite` 3.35, the last release for
 * Node 20), run as a child: HTTPS with the stand-in's certificate, `--oauth basic` so that it
 * takes the bearer tokens DefaultAzureCredential gets (Azurite checks their shape: `iss` under
 * `https://sts.windows.net/`, `aud` `https://storage.azure.com`, and nbf/exp), `--skipApiVersionCheck`
 * because @azure/storage-blob 12.32 sends a newer x-ms-version than Azurite knows,
 * `--disableTelemetry` (it otherwise posts to Application Insights), `--location` a temp dir.
 *
 * Callers never reach Azurite directly: the stand-in's HTTPS server forwards `/devstoreaccount1/...`
 * to it (`blobUrl`), which is where the storage faults are injected and blobs are counted.
 */

export const ACCOUNT = 'devstoreaccount1';
const AZURITE_BIN = fileURLToPath(new URL('../../../node_modules/azurite/dist/src/blob/main.js', import.meta.url));

/**
 * Azurite runs under this shell, its process group's leader: it prints Azurite's pid and kills it
 * when the owning Node process disappears (even by SIGKILL, which no Node handler sees).
 */
const GUARD = [
  'owner=$1; shift',
  '"$@" & a=$!',
  'echo "pid $a"',
  '( while kill -0 "$owner" 2>/dev/null; do sleep 0.5; done; kill -KILL "$a" 2>/dev/null ) & w=$!',
  "trap 'kill -TERM \"$a\" 2>/dev/null' TERM",
  'while :; do wait "$a"; rc=$?; kill -0 "$a" 2>/dev/null || break; done',
  'kill "$w" 2>/dev/null',
  'exit "$rc"',
].join('\n');

const groups = new Set<number>();
process.on('exit', () => {
  for (const g of groups) {
    try {
      process.kill(-g, 'SIGKILL');
    } catch {
      // gone
    }
  }
});

export interface AzuriteProcess {
  port: number;
  pid: number;
  close(): Promise<void>;
}

export async function startAzurite(dir: string, tls: StandinTls): Promise<AzuriteProcess> {
  const args = [
    '--blobHost', '127.0.0.1', '--blobPort', '0', '--location', dir, '--skipApiVersionCheck', '--disableTelemetry',
    '--oauth', 'basic', '--cert', tls.certFile, '--key', tls.keyFile, '--loose', '--silent',
    '--debug', join(dir, 'debug.log'),
  ];
  const child: ChildProcess = spawn('sh', ['-c', GUARD, 'tsuite-azurite-guard', String(process.pid), process.execPath, AZURITE_BIN, ...args], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pgid = child.pid!;
  groups.add(pgid);
  const exited = new Promise<void>((r) => child.on('exit', () => { groups.delete(pgid); r(); }));
  let out = '';
  const started = await new Promise<{ port: number; pid: number }>((resolvePort, reject) => {
    let pid = 0;
    const onData = (d: Buffer) => {
      out += d.toString();
      pid ||= Number(/^pid (\d+)$/m.exec(out)?.[1] ?? 0);
      const m = /successfully listens on https:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m && pid) resolvePort({ port: Number(m[1]), pid });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then(() => reject(new Error(`azurite-blob exited before listening:\n${out}`)));
    setTimeout(() => reject(new Error(`azurite-blob did not listen within 30 s:\n${out}`)), 30_000).unref();
  }).catch(async (err: unknown) => {
    try { process.kill(-pgid, 'SIGKILL'); } catch { /* gone */ }
    throw err;
  });
  return {
    ...started,
    close: async () => {
      if (!groups.has(pgid)) return;
      try { process.kill(-pgid, 'SIGTERM'); } catch { /* gone */ }
      const t = setTimeout(() => { try { process.kill(-pgid, 'SIGKILL'); } catch { /* gone */ } }, 3000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** Azure Storage's XML error, with the code also in `x-ms-error-code`. */
export function sendStorageError(res: ServerResponse, status: number, code: string, message: string): void {
  const requestId = randomUUID();
  const body = `\uFEFF<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${message}\nRequestId:${requestId}\nTime:${new Date().toISOString()}</Message></Error>`;
  res.writeHead(status, { 'content-type': 'application/xml', 'x-ms-error-code': code, 'x-ms-request-id': requestId, 'content-length': String(Buffer.byteLength(body)) });
  res.end(body);
}

/**
 * Forwards one blob request to Azurite, unless a fault takes it; keeps the set of blobs that exist
 * (`container/name`) from what Azurite answered.
 */
export class BlobProxy {
  readonly blobs = new Set<string>();

  constructor(private readonly azuritePort: number, private readonly tls: StandinTls, private readonly faults: FaultSwitch) {}

  handle(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const q = url.searchParams;
    const [, , container, ...rest] = url.pathname.split('/');
    const blob = rest.length ? `${container}/${decodeURIComponent(rest.join('/'))}` : undefined;
    if (req.method === 'PUT' && q.get('comp') === 'page' && req.headers['x-ms-page-write'] === 'update') {
      const f = this.faults.take('upload');
      if (f) return this.refuse(req, res, f.status ?? 503, f.code ?? 'ServerBusy', f.message ?? 'The server is busy.');
    }
    if (req.method === 'DELETE' && blob && !q.has('comp')) {
      const f = this.faults.take('delete-blob');
      if (f) return this.refuse(req, res, f.status ?? 500, f.code ?? 'InternalError', f.message ?? 'Server encountered an internal error. Please try again after some time.');
    }
    if (req.method === 'GET' && q.get('restype') === 'container' && q.get('comp') === 'list') {
      const f = this.faults.take('list');
      if (f) return this.refuse(req, res, f.status ?? 500, f.code ?? 'InternalError', f.message ?? 'Server encountered an internal error. Please try again after some time.');
    }
    const upstream = httpsRequest({
      host: '127.0.0.1', port: this.azuritePort, method: req.method, path: url.pathname + url.search,
      headers: req.headers, ca: this.tls.ca,
    }, (up) => {
      const status = up.statusCode ?? 502;
      if (blob && req.method === 'PUT' && !q.has('comp') && req.headers['x-ms-blob-type'] && status === 201) this.blobs.add(blob);
      if (blob && req.method === 'DELETE' && !q.has('comp') && (status === 202 || status === 404)) this.blobs.delete(blob);
      res.writeHead(status, up.headers);
      up.pipe(res);
    });
    upstream.on('error', (err) => {
      if (!res.headersSent) sendStorageError(res, 502, 'InternalError', `stand-in could not reach Azurite: ${err.message}`);
      else res.destroy();
    });
    req.pipe(upstream);
  }

  /** Answers with Azure's XML error after reading (and dropping) the request body. */
  private refuse(req: IncomingMessage, res: ServerResponse, status: number, code: string, message: string): void {
    req.resume();
    req.on('end', () => sendStorageError(res, status, code, message));
  }
}

/** A request the stand-in itself makes to Azurite (reading a VHD for an image, creating the container). */
export function azuriteFetch(port: number, tls: StandinTls, token: string, method: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: IncomingMessage['headers']; body: IncomingMessage }> {
  return new Promise((resolvePromise, reject) => {
    const r = httpsRequest({
      host: '127.0.0.1', port, method, path, ca: tls.ca,
      headers: { authorization: `Bearer ${token}`, 'x-ms-version': '2025-01-05', 'x-ms-date': new Date().toUTCString(), ...headers },
    }, (res) => resolvePromise({ status: res.statusCode ?? 0, headers: res.headers, body: res }));
    r.on('error', reject);
    r.end();
  });
}
