import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkServerIdentity, connect as tlsConnect, type PeerCertificate } from 'node:tls';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProgress } from '../../src/core/progress.js';
import {
  buildImage, fillRegistries, IMAGE_DEFINITIONS, localRegistryUnavailable, pushImage, REGISTRY_KINDS, RegistryError, startLocalRegistries,
  sweepStaleRegistries, type BuiltImage, type LocalRegistries, type LocalRegistry, type PushedImage, type RegistryKind,
} from '../../oci-images/index.js';

/**
 * The local registries against the real thing: Debian's docker-registry (distribution 2.8), started
 * here, filled with tsuite's busybox image by tsuite's pusher, and checked with plain HTTP requests
 * made here with undici (not with the pusher's own client).
 */
const unavailable = localRegistryUnavailable() ?? (process.getuid?.() !== 0 ? 'building the test images needs root (file owners in the layers)' : undefined);
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

describe.skipIf(unavailable)(`local registries (plain, TLS, TLS + basic auth)${unavailable ? ` (${unavailable})` : ''}`, () => {
  let regs: LocalRegistries;
  let logDir: string;
  let busybox: BuiltImage;
  let pushed: Record<RegistryKind, Record<string, PushedImage>>;
  /** Every error message the registries' users saw, checked for the password at the end. */
  const seenErrors: string[] = [];
  const agents: Agent[] = [];

  beforeAll(async () => {
    logDir = await mkdtemp(join(tmpdir(), 'tsuite-registry-logs-'));
    regs = await startLocalRegistries({ advertise: ['10.0.2.2'], logDir });
    busybox = await buildImage(IMAGE_DEFINITIONS.busybox, 'x86_64', createProgress(process.stderr, true));
    pushed = await fillRegistries(regs.registries, [busybox]);
  }, 300_000);

  afterAll(async () => {
    await regs?.stop();
    await Promise.all(agents.map((a) => a.close()));
    if (logDir) await rm(logDir, { recursive: true, force: true });
  }, 60_000);

  /** A GET/HEAD made directly with undici: trusting the CA unless told not to, with the credentials asked for. */
  async function http(reg: LocalRegistry, path: string, opts: { auth?: 'good' | 'none' | 'wrong-password' | 'wrong-user'; trust?: boolean; method?: 'GET' | 'HEAD' } = {}) {
    const agent = new Agent(reg.scheme === 'https' && opts.trust !== false ? { connect: { ca: regs.ca.pem } } : {});
    agents.push(agent);
    const auth = opts.auth ?? (reg.kind === 'auth' ? 'good' : 'none');
    const user = auth === 'wrong-user' ? 'nobody-here' : regs.credentials.username;
    const pass = auth === 'wrong-password' ? `${regs.credentials.password}x` : regs.credentials.password;
    const headers: Record<string, string> = { accept: OCI_MANIFEST };
    if (auth !== 'none') headers.authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
    const started = Date.now();
    const res = await request(`${reg.url}${path}`, { method: opts.method ?? 'GET', headers, dispatcher: agent });
    const body = Buffer.from(await res.body.arrayBuffer());
    return { status: res.statusCode, headers: res.headers, body, ms: Date.now() - started };
  }

  it('starts three registries on their own ports: plain HTTP, TLS, TLS with basic auth', () => {
    expect(REGISTRY_KINDS.map((k) => regs.registries[k].scheme)).toEqual(['http', 'https', 'https']);
    const ports = REGISTRY_KINDS.map((k) => regs.registries[k].port);
    expect(new Set(ports).size).toBe(3);
    for (const k of REGISTRY_KINDS) {
      expect(regs.registries[k].host).toBe(`127.0.0.1:${regs.registries[k].port}`);
      expect(existsSync(regs.registries[k].logFile)).toBe(true);
    }
    expect(regs.auth.credentials.username).toBe(regs.credentials.username);
    expect(regs.ca.pem).toContain('BEGIN CERTIFICATE');
  });

  it('pushes busybox to each, under tsuite/busybox and its tsuite tag, with the manifest digest tsuite computed', () => {
    const [repo, tag] = busybox.ref.split(':');
    for (const k of REGISTRY_KINDS) {
      const p = pushed[k].busybox!;
      expect(p).toMatchObject({ repo, tag, digest: busybox.manifestDigest });
      expect(p.byTag).toBe(`${regs.registries[k].host}/${busybox.ref}`);
      expect(p.byDigest).toBe(`${regs.registries[k].host}/${repo}@${busybox.manifestDigest}`);
    }
  });

  it('serves the manifest by tag and by digest, with the pushed digest, and its blobs', async () => {
    for (const k of REGISTRY_KINDS) {
      const reg = regs.registries[k];
      const p = pushed[k].busybox!;
      for (const ref of [p.tag, p.digest]) {
        const res = await http(reg, `/v2/${p.repo}/manifests/${ref}`);
        expect(res.status, `${k} ${ref}`).toBe(200);
        expect(res.headers['docker-content-digest']).toBe(busybox.manifestDigest);
        expect(res.headers['content-type']).toBe(OCI_MANIFEST);
        expect(`sha256:${createHash('sha256').update(res.body).digest('hex')}`).toBe(busybox.manifestDigest);
      }
      const config = await http(reg, `/v2/${p.repo}/blobs/${busybox.id}`, { method: 'HEAD' });
      expect(config.status, k).toBe(200);
    }
  });

  it('pushes again without uploading a blob the registry already has', async () => {
    const reg = regs.tls;
    const uploads = async () => ((await readFile(reg.logFile, 'utf8')).match(/"(POST|PUT|PATCH) \/v2\/[^ ]*\/blobs\/uploads/g) ?? []).length;
    const before = await uploads();
    expect(before).toBeGreaterThan(0);
    const again = await pushImage(reg, { layout: busybox.layout, repo: 'tsuite/busybox', tag: pushed.tls.busybox!.tag });
    expect(again.digest).toBe(busybox.manifestDigest);
    expect(await uploads()).toBe(before);
  });

  it('mounts blobs the registry holds under another repository instead of sending them again', async () => {
    const reg = regs.auth;
    const log = async () => readFile(reg.logFile, 'utf8');
    const uploadPuts = async () => ((await log()).match(/"PUT \/v2\/[^ ]*\/blobs\/uploads/g) ?? []).length;
    const before = await uploadPuts();
    const known = new Map([busybox.id, ...JSON.parse(await readFile(join(busybox.layout, 'blobs', ...busybox.manifestDigest.split(':')), 'utf8')).layers.map((l: { digest: string }) => l.digest)]
      .map((d: string) => [d, 'tsuite/busybox']));
    const copy = await pushImage(reg, { layout: busybox.layout, repo: 'tsuite/busybox-copy', tag: 'mounted' }, known);
    expect(copy.digest).toBe(busybox.manifestDigest);
    expect(await uploadPuts()).toBe(before);
    expect(await log()).toMatch(/"POST \/v2\/tsuite\/busybox-copy\/blobs\/uploads\/\?mount=sha256:[0-9a-f]{64}&from=tsuite\/busybox HTTP\/1\.1" 201/);
    const res = await http(reg, '/v2/tsuite/busybox-copy/manifests/mounted');
    expect(res.headers['docker-content-digest']).toBe(busybox.manifestDigest);
  });

  it('the auth registry refuses no credentials, a wrong password and an unknown user with 401, at once', async () => {
    const p = pushed.auth.busybox!;
    for (const auth of ['none', 'wrong-password', 'wrong-user'] as const) {
      const res = await http(regs.auth, `/v2/${p.repo}/manifests/${p.tag}`, { auth });
      expect(res.status, auth).toBe(401);
      expect(res.headers['www-authenticate']).toMatch(/^Basic realm=/);
      expect(JSON.parse(res.body.toString()).errors[0].code).toBe('UNAUTHORIZED');
      expect(res.ms, auth).toBeLessThan(5_000);
    }
    // The pusher reports it as the registry's error, naming the registry, the repo and the status.
    const wrong = { ...regs.auth, credentials: { username: regs.credentials.username, password: 'not-the-password' } };
    const err = await pushImage(wrong, { layout: busybox.layout, repo: 'tsuite/busybox', tag: 'wrong' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect(err).toMatchObject({ status: 401, repo: 'tsuite/busybox', registry: regs.auth.url });
    expect((err as Error).message).toMatch(/rejected the credentials/);
    expect((err as Error).message).not.toContain('not-the-password');
    seenErrors.push(String(err));
    const anonymous = await pushImage({ ...regs.auth, credentials: undefined }, { layout: busybox.layout, repo: 'tsuite/busybox', tag: 'anon' }).catch((e: unknown) => e);
    expect(anonymous).toMatchObject({ status: 401, fix: expect.stringMatching(/needs credentials/) });
    seenErrors.push(String(anonymous));
  });

  it('a missing repository or tag is 404 with the registry error code', async () => {
    for (const k of REGISTRY_KINDS) {
      for (const path of ['/v2/tsuite/no-such-image/manifests/latest', `/v2/tsuite/busybox/manifests/no-such-tag`]) {
        const res = await http(regs.registries[k], path);
        expect(res.status, `${k} ${path}`).toBe(404);
        expect(['MANIFEST_UNKNOWN', 'NAME_UNKNOWN']).toContain(JSON.parse(res.body.toString()).errors[0].code);
      }
    }
    // With the right credentials, a refused push says why without the password.
    const bad = await pushImage(regs.auth, { layout: busybox.layout, repo: 'tsuite/Not_Valid', tag: 't' }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(RegistryError);
    expect((bad as Error).message).toMatch(/NAME_INVALID|NAME_UNKNOWN|HTTP 40/);
    seenErrors.push(String(bad));
  });

  it('TLS: a client that does not trust the CA is refused; the certificate names 127.0.0.1 and 10.0.2.2', async () => {
    for (const reg of [regs.tls, regs.auth]) {
      await expect(http(reg, '/v2/', { trust: false })).rejects.toThrow(/certificate/i);
      const err = await pushImage({ ...reg, caPem: undefined }, { layout: busybox.layout, repo: 'tsuite/busybox', tag: 'x' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RegistryError);
      expect((err as RegistryError).fix).toMatch(/trust the registry's CA/);
      seenErrors.push(String(err));
    }
    const cert = await new Promise<PeerCertificate>((resolve, reject) => {
      const s = tlsConnect({ host: '127.0.0.1', port: regs.tls.port, ca: regs.ca.pem }, () => {
        resolve(s.getPeerCertificate());
        s.end();
      });
      s.on('error', reject);
    });
    expect(checkServerIdentity('10.0.2.2', cert)).toBeUndefined();
    expect(checkServerIdentity('127.0.0.1', cert)).toBeUndefined();
    expect(checkServerIdentity('10.0.2.3', cert)).toBeInstanceOf(Error);
  });

  it('stop(): no registry process remains, the ports are closed, and no log or error holds the password', async () => {
    const pids = REGISTRY_KINDS.map((k) => regs.registries[k].pid);
    await regs.stop();
    for (const pid of pids) expect(existsSync(`/proc/${pid}`) && !(await readFile(`/proc/${pid}/stat`, 'utf8')).includes(') Z'), `pid ${pid}`).toBe(false);
    for (const k of REGISTRY_KINDS) expect(await portOpen(regs.registries[k].port), `${k} port`).toBe(false);
    expect(existsSync(regs.dir)).toBe(false);

    const password = regs.credentials.password;
    const token = Buffer.from(`${regs.credentials.username}:${password}`).toString('base64');
    const logs = await readdir(logDir);
    expect(logs.length).toBeGreaterThanOrEqual(3);
    for (const f of logs) {
      const text = await readFile(join(logDir, f), 'utf8');
      expect(text.length, f).toBeGreaterThan(0);
      expect(text.includes(password) || text.includes(token), f).toBe(false);
    }
    expect(seenErrors.length).toBeGreaterThanOrEqual(4);
    for (const e of seenErrors) expect(e.includes(password) || e.includes(token)).toBe(false);
    expect(JSON.stringify(regs)).not.toContain(password);
  });

  it('a later start sweeps registries whose owner died', async () => {
    const parentDir = await mkdtemp(join(tmpdir(), 'tsuite-registry-sweep-'));
    try {
      const orphan = await startLocalRegistries({ parentDir });
      // Make the owner a process that has exited: as if this one had been SIGKILLed.
      const deadPid = spawnSync('true').pid!;
      const stateFile = join(orphan.dir, 'registries.json');
      const state = JSON.parse(await readFile(stateFile, 'utf8'));
      await writeFile(stateFile, JSON.stringify({ ...state, ownerPid: deadPid }));
      const ports = REGISTRY_KINDS.map((k) => orphan.registries[k].port);
      expect(await portOpen(ports[0]!)).toBe(true);
      expect(await sweepStaleRegistries(parentDir)).toEqual([orphan.dir]);
      expect(existsSync(orphan.dir)).toBe(false);
      for (const port of ports) expect(await portOpen(port)).toBe(false);
    } finally {
      await rm(parentDir, { recursive: true, force: true });
    }
  });
});

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}
