import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crc32cBase64, crc32cUpdate } from '../support/gcp-standin/crc32c.js';
import { parseFilter } from '../support/gcp-standin/filters.js';
import { HttpFailure } from '../support/gcp-standin/google-errors.js';
import { GcpStandin } from '../support/gcp-standin/index.js';
import { readSerialWindow } from '../support/gcp-standin/serial-port.js';

/**
 * The GCP stand-in's wire contract in the details the official libraries do not exercise (they are
 * covered by test/integration/gcp-standin.test.ts): raw HTTP against the documented shapes, plus
 * its pure parts. No QEMU here.
 */

const PROJECT = 'tsuite-unit';
const BUCKET = 'tsuite-unit-bucket';
let standin: GcpStandin;
let token: string;
const KiB = 1024;

const call = (path: string, init: RequestInit & { auth?: string | null } = {}) => {
  const headers = new Headers(init.headers);
  const auth = init.auth === undefined ? token : init.auth;
  if (auth) headers.set('authorization', `Bearer ${auth}`);
  return fetch(`${standin.url}${path}`, { ...init, headers, redirect: 'manual' });
};

beforeAll(async () => {
  standin = await GcpStandin.start({ project: PROJECT, zone: 'europe-west1-b', bucket: BUCKET });
  const creds = JSON.parse(readFileSync(standin.credentialsFile, 'utf8')) as { audience: string };
  const res = await fetch(`${standin.url}/v1/token`, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      audience: creds.audience,
      scope: 'https://www.googleapis.com/auth/cloud-platform',
      requested_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      subject_token: standin.secrets[0]!,
      subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
    }),
  });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { access_token: string; token_type: string; issued_token_type: string; expires_in: number };
  expect(body).toMatchObject({ token_type: 'Bearer', issued_token_type: 'urn:ietf:params:oauth:token-type:access_token' });
  expect(body.access_token).toBe(standin.secrets[1]);
  token = body.access_token;
});
afterAll(() => standin.close());

describe('STS and auth', () => {
  it('refuses a wrong subject token or audience with OAuth errors, and the sts fault', async () => {
    const form = (over: Record<string, string>) => new URLSearchParams({
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', audience: 'x', requested_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      subject_token: 'nope', subject_token_type: 'urn:ietf:params:oauth:token-type:jwt', ...over,
    });
    const wrongAudience = await fetch(`${standin.url}/v1/token`, { method: 'POST', body: form({ subject_token: standin.secrets[0]! }) });
    expect([wrongAudience.status, ((await wrongAudience.json()) as { error: string }).error]).toEqual([400, 'invalid_target']);
    standin.fail('sts', { status: 503, reason: 'temporarily_unavailable' });
    const faulted = await fetch(`${standin.url}/v1/token`, { method: 'POST', body: form({}) });
    expect([faulted.status, ((await faulted.json()) as { error: string }).error]).toEqual([503, 'temporarily_unavailable']);
  });

  it('answers 401 in Google\'s shape without the token or with another one, on both APIs', async () => {
    for (const path of [`/compute/v1/projects/${PROJECT}/global/images`, `/storage/v1/b/${BUCKET}/o`]) {
      const none = await call(path, { auth: null });
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toMatch(/^Bearer realm=/);
      expect(await none.json()).toMatchObject({ error: { code: 401, status: 'UNAUTHENTICATED', errors: [{ reason: 'required', domain: 'global' }] } });
      const wrong = await call(path, { auth: 'ya29.someone-else' });
      expect(await wrong.json()).toMatchObject({ error: { code: 401, errors: [{ reason: 'authError' }] } });
    }
  });
});

describe('Cloud Storage uploads and reads', () => {
  it('takes a media upload and serves it back with hashes, ranges and 404s', async () => {
    const data = Buffer.from('0123456789abcdef');
    const up = await call(`/upload/storage/v1/b/${BUCKET}/o?uploadType=media&name=${encodeURIComponent('dir/a b.txt')}`, { method: 'POST', body: data, headers: { 'content-type': 'text/plain' } });
    const obj = (await up.json()) as Record<string, string>;
    expect(up.status).toBe(200);
    expect(obj).toMatchObject({ kind: 'storage#object', name: 'dir/a b.txt', bucket: BUCKET, size: '16', contentType: 'text/plain', md5Hash: createHash('md5').update(data).digest('base64') });
    const media = await call(`/storage/v1/b/${BUCKET}/o/${encodeURIComponent('dir/a b.txt')}?alt=media`);
    expect(Buffer.from(await media.arrayBuffer()).equals(data)).toBe(true);
    expect(media.headers.get('x-goog-hash')).toBe(`crc32c=${obj.crc32c},md5=${obj.md5Hash}`);
    const part = await call(`/storage/v1/b/${BUCKET}/o/${encodeURIComponent('dir/a b.txt')}?alt=media`, { headers: { range: 'bytes=2-4' } });
    expect([part.status, await part.text(), part.headers.get('content-range')]).toEqual([206, '234', 'bytes 2-4/16']);
    const missing = await call(`/storage/v1/b/${BUCKET}/o/nothing`);
    expect(await missing.json()).toMatchObject({ error: { code: 404, errors: [{ reason: 'notFound' }] } });
    const otherBucket = await call('/storage/v1/b/someone-elses/o');
    expect(otherBucket.status).toBe(404);
  });

  it('refuses a body whose X-Goog-Hash does not match, and ifGenerationMatch=0 on an existing name', async () => {
    const bad = await call(`/upload/storage/v1/b/${BUCKET}/o?uploadType=media&name=h.txt`, { method: 'POST', body: 'abc', headers: { 'x-goog-hash': 'md5=AAAAAAAAAAAAAAAAAAAAAA==' } });
    expect(bad.status).toBe(400);
    await call(`/upload/storage/v1/b/${BUCKET}/o?uploadType=media&name=h.txt`, { method: 'POST', body: 'abc' });
    const again = await call(`/upload/storage/v1/b/${BUCKET}/o?uploadType=media&name=h.txt&ifGenerationMatch=0`, { method: 'POST', body: 'abc' });
    expect(await again.json()).toMatchObject({ error: { code: 412, errors: [{ reason: 'conditionNotMet' }] } });
  });

  it('runs a resumable session: 308 with Range, 256 KiB persistence, status queries, resent bytes skipped', async () => {
    const data = Buffer.alloc(700 * KiB);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
    const start = await call(`/upload/storage/v1/b/${BUCKET}/o?uploadType=resumable`, {
      method: 'POST', body: JSON.stringify({ name: 'r.bin', metadata: { run: 'u1' } }), headers: { 'content-type': 'application/json', 'x-upload-content-type': 'application/gzip' },
    });
    expect(start.status).toBe(200);
    const session = new URL(start.headers.get('location')!);
    expect(session.searchParams.get('upload_id')).toBeTruthy();
    const put = (body: Buffer, range: string | undefined, auth: string | null = null) =>
      call(`${session.pathname}${session.search}`, { method: 'PUT', body, auth, headers: range ? { 'content-range': range } : {} });

    const empty = await put(Buffer.alloc(0), 'bytes */*');
    expect([empty.status, empty.headers.get('range')]).toEqual([308, null]);
    // 300 KiB, not the last chunk: only the first 256 KiB are persisted, as GCS does.
    const first = await put(data.subarray(0, 300 * KiB), `bytes 0-${300 * KiB - 1}/*`);
    expect([first.status, first.headers.get('range')]).toEqual([308, `bytes=0-${256 * KiB - 1}`]);
    const status = await put(Buffer.alloc(0), 'bytes */*');
    expect(status.headers.get('range')).toBe(`bytes=0-${256 * KiB - 1}`);
    const gap = await put(data.subarray(600 * KiB), `bytes ${600 * KiB}-${700 * KiB - 1}/${700 * KiB}`);
    expect(gap.status).toBe(400);
    // The rest from 200 KiB: the 56 KiB already persisted are skipped.
    standin.fail('upload');
    expect((await put(data.subarray(200 * KiB), `bytes ${200 * KiB}-${700 * KiB - 1}/${700 * KiB}`)).status).toBe(503);
    const last = await put(data.subarray(200 * KiB), `bytes ${200 * KiB}-${700 * KiB - 1}/${700 * KiB}`);
    expect(last.status).toBe(200);
    const obj = (await last.json()) as Record<string, unknown>;
    expect(obj).toMatchObject({ name: 'r.bin', size: String(data.length), contentType: 'application/gzip', metadata: { run: 'u1' }, md5Hash: createHash('md5').update(data).digest('base64') });
    expect(obj.crc32c).toBe(crc32cBase64(crc32cUpdate(0, data)));
    const done = await put(Buffer.alloc(0), 'bytes */*');
    expect(done.status).toBe(200);
    const cancelled = await call(`/upload/storage/v1/b/${BUCKET}/o?uploadType=resumable&name=c.bin`, { method: 'POST' });
    const cancel = new URL(cancelled.headers.get('location')!);
    expect((await call(`${cancel.pathname}${cancel.search}`, { method: 'DELETE' })).status).toBe(499);
  });

  it('lists with prefix, delimiter and page tokens, and refuses a made-up token', async () => {
    for (const name of ['p/1', 'p/2', 'p/q/3']) await call(`/upload/storage/v1/b/${BUCKET}/o?uploadType=media&name=${encodeURIComponent(name)}`, { method: 'POST', body: name });
    const delim = (await (await call(`/storage/v1/b/${BUCKET}/o?prefix=p/&delimiter=/`)).json()) as { items: { name: string }[]; prefixes: string[] };
    expect([delim.items.map((i) => i.name), delim.prefixes]).toEqual([['p/1', 'p/2'], ['p/q/']]);
    const page1 = (await (await call(`/storage/v1/b/${BUCKET}/o?prefix=p/&maxResults=2`)).json()) as { items: { name: string }[]; nextPageToken: string };
    const page2 = (await (await call(`/storage/v1/b/${BUCKET}/o?prefix=p/&maxResults=2&pageToken=${page1.nextPageToken}`)).json()) as { items: { name: string }[]; nextPageToken?: string };
    expect([...page1.items, ...page2.items].map((i) => i.name)).toEqual(['p/1', 'p/2', 'p/q/3']);
    expect(page2.nextPageToken).toBeUndefined();
    expect((await call(`/storage/v1/b/${BUCKET}/o?pageToken=bogus`)).status).toBe(400);
  });
});

describe('Compute Engine requests', () => {
  const base = `/compute/v1/projects/${PROJECT}`;
  const post = (path: string, body: unknown) => call(`${base}/${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });

  it('refuses bad names, foreign sources, unknown images and unparseable filters with 4xx in Google\'s shape', async () => {
    expect(await (await post('global/images', { name: 'Bad_Name', rawDisk: { source: `gs://${BUCKET}/h.txt` } })).json()).toMatchObject({ error: { code: 400, status: 'INVALID_ARGUMENT' } });
    expect((await post('global/images', { name: 'ok', rawDisk: { source: 'gs://other-bucket/x.tar.gz' } })).status).toBe(400);
    const noImage = await post('zones/europe-west1-b/instances', { name: 'vm', machineType: 'zones/europe-west1-b/machineTypes/e2-small', disks: [{ boot: true, initializeParams: { sourceImage: 'global/images/none' } }] });
    expect(await noImage.json()).toMatchObject({ error: { code: 404, errors: [{ reason: 'notFound' }] } });
    expect((await call(`${base}/zones/elsewhere-1-a/instances`)).status).toBe(400);
    expect((await call(`${base}/zones/europe-west1-b/instances?filter=${encodeURIComponent('(labels.a = b')}`)).status).toBe(400);
    expect((await call(`${base}/global/operations/operation-none`)).status).toBe(404);
    expect((await call('/compute/v1/projects/other-project/global/images')).status).toBe(404);
  });

  it('runs an image insert whose package is not a tar to DONE with INVALID_IMAGE_FILE, visible to get and wait', async () => {
    const op = (await (await post('global/images', { name: 'not-a-tar', rawDisk: { source: `https://storage.googleapis.com/${BUCKET}/h.txt` } })).json()) as Record<string, string>;
    expect(op).toMatchObject({ kind: 'compute#operation', operationType: 'insert', targetLink: `https://www.googleapis.com/compute/v1/projects/${PROJECT}/global/images/not-a-tar` });
    expect(['PENDING', 'RUNNING']).toContain(op.status);
    const waited = (await (await call(`${base}/global/operations/${op.name}/wait`, { method: 'POST' })).json()) as Record<string, unknown>;
    expect(waited).toMatchObject({ status: 'DONE', httpErrorStatusCode: 400, error: { errors: [{ code: 'INVALID_IMAGE_FILE' }] } });
    expect((await call(`${base}/global/images/not-a-tar`)).status).toBe(404);
  });
});

describe('pure parts', () => {
  const r = (name: string, labels?: Record<string, string>, status = 'RUNNING') => ({ name, status, ...(labels ? { labels } : {}) });
  const all = [r('tsuite-a-1', { run: 'a' }), r('tsuite-b-1', { run: 'b' }, 'TERMINATED'), r('other')];
  const names = (f: string) => all.filter(parseFilter(f)).map((x) => x.name);

  it('filters as Compute documents: presence, equality, regex full match, groups with AND/OR', () => {
    expect(names('')).toEqual(['tsuite-a-1', 'tsuite-b-1', 'other']);
    expect(names('labels.run:*')).toEqual(['tsuite-a-1', 'tsuite-b-1']);
    expect(names('labels.run = "b"')).toEqual(['tsuite-b-1']);
    expect(names('labels.run != b')).toEqual(['tsuite-a-1', 'other']);
    expect(names("name eq 'tsuite-.*'")).toEqual(['tsuite-a-1', 'tsuite-b-1']);
    expect(names('name eq tsuite')).toEqual([]); // the whole value must match
    expect(names('name ne tsuite-.*')).toEqual(['other']);
    expect(names('(labels.run:*) (status = RUNNING)')).toEqual(['tsuite-a-1']);
    expect(names('(labels.run = a) OR (name = other)')).toEqual(['tsuite-a-1', 'other']);
    expect(names('name:tsuite-*')).toEqual(['tsuite-a-1', 'tsuite-b-1']);
    expect(() => parseFilter('(a = b) XOR (c = d)')).toThrow(HttpFailure);
    expect(() => parseFilter('name eq (')).toThrow(HttpFailure);
  });

  it('computes CRC-32C as GCS writes it', () => {
    expect(crc32cBase64(crc32cUpdate(0, Buffer.from('123456789')))).toBe(Buffer.from([0xe3, 0x06, 0x92, 0x83]).toString('base64'));
    expect(crc32cUpdate(crc32cUpdate(0, Buffer.from('1234')), Buffer.from('56789'))).toBe(0xe3069283);
  });

  it('serves serial output from a window: start moved up to the oldest byte, negative start, whole UTF-8 characters', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsuite-serial-'));
    const file = join(dir, 'serial.log');
    writeFileSync(file, Buffer.concat([Buffer.from('a'.repeat(100)), Buffer.from('é', 'utf8').subarray(0, 1)]));
    expect(await readSerialWindow(file, 1000, '10')).toEqual({ contents: 'a'.repeat(90), start: 10, next: 100 });
    expect(await readSerialWindow(file, 50, '0')).toMatchObject({ start: 51, next: 100 });
    expect(await readSerialWindow(file, 1000, '-5')).toEqual({ contents: 'aaaa', start: 96, next: 100 });
    expect(await readSerialWindow(file, 1000, '500')).toEqual({ contents: '', start: 500, next: 500 });
    expect(await readSerialWindow(undefined, 1000, null)).toEqual({ contents: '', start: 0, next: 0 });
    await expect(readSerialWindow(file, 1000, 'x')).rejects.toThrow(HttpFailure);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('machines and their owner', () => {
  it('kills a machine whose owning process is killed outright (SIGKILL runs no handler)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsuite-owner-'));
    writeFileSync(join(dir, 'disk.raw'), Buffer.alloc(1024 * 1024));
    const module = fileURLToPath(new URL('../support/cloud-standin/instance-qemu.ts', import.meta.url));
    const script = join(dir, 'owner.ts');
    writeFileSync(script, `import { startQemu } from ${JSON.stringify(module)};
const m = await startQemu({ dir: ${JSON.stringify(dir)}, disk: ${JSON.stringify(join(dir, 'disk.raw'))}, uefi: false, memoryMb: 64, networkIP: '10.128.0.9', tag: 'tsuite-owner-test' });
console.log(m.pid);
setInterval(() => undefined, 1000);
`);
    const jiti = fileURLToPath(new URL('../../node_modules/.bin/jiti', import.meta.url));
    const owner = spawn(jiti, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const qemu = await new Promise<number>((resolve, reject) => {
      owner.stdout!.on('data', (d: Buffer) => resolve(Number(d.toString().trim())));
      owner.on('exit', (code) => reject(new Error(`owner exited ${code}`)));
    });
    try {
      expect(readFileSync(`/proc/${qemu}/cmdline`, 'utf8')).toContain('qemu-system-x86_64');
      owner.kill('SIGKILL');
      let alive = true;
      for (let i = 0; i < 40 && alive; i++) {
        await sleep(100);
        alive = existsSync(`/proc/${qemu}`) && !readFileSync(`/proc/${qemu}/stat`, 'utf8').includes(') Z ');
      }
      expect(alive).toBe(false);
    } finally {
      for (const pid of [qemu, owner.pid]) {
        try {
          if (pid) process.kill(pid, 'SIGKILL');
        } catch {
          // gone, as it should be
        }
      }
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
