/**
 * DockerChannel.connect against a fake Engine API (a small HTTP server), so negotiation, retries
 * and the error contract are checked without a dockerd.
 */
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DockerChannel, DockerConnectError } from '../../src/channels/docker.js';
import { UsageError } from '../../src/core/errors.js';
import { freePort } from '../../src/core/ports.js';

interface FakeEngine {
  url: string;
  paths: string[];
  close(): Promise<void>;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function engineHandler(apiVersion: string, paths: string[], opts: { info?: boolean } = {}) {
  return createServer((req, res) => {
    paths.push(req.url ?? '');
    res.setHeader('Content-Type', 'application/json');
    if (req.url === '/version') {
      res.end(JSON.stringify({
        Version: '99.0.0-fake', ApiVersion: apiVersion, MinAPIVersion: '1.12', Os: 'linux', Arch: 'amd64', KernelVersion: '6.1.0-fake',
        Components: [{ Name: 'Engine', Version: '99.0.0-fake' }],
      }));
    } else if (opts.info !== false && /^\/v[\d.]+\/info$/.test(req.url ?? '')) {
      res.end(JSON.stringify({ CgroupVersion: '2', CgroupDriver: 'cgroupfs', Driver: 'overlay2' }));
    } else if (/^\/v[\d.]+\/_ping$/.test(req.url ?? '')) {
      res.setHeader('Content-Type', 'text/plain');
      res.end('OK');
    } else {
      res.statusCode = 404;
      res.end(JSON.stringify({ message: `no route ${req.url}` }));
    }
  });
}

async function listen(server: Server, where: { port: number } | { path: string }): Promise<void> {
  await new Promise<void>((resolve) => ('path' in where ? server.listen(where.path, resolve) : server.listen(where.port, '127.0.0.1', resolve)));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
}

async function fakeEngine(apiVersion = '1.41'): Promise<FakeEngine> {
  const paths: string[] = [];
  const server = engineHandler(apiVersion, paths);
  const port = await freePort();
  await listen(server, { port });
  return { url: `tcp://127.0.0.1:${port}`, paths, close: () => new Promise((r) => server.close(() => r())) };
}

async function connect(url: string, timeoutMs = 5_000) {
  const ch = await DockerChannel.connect({ url }, { timeoutMs });
  cleanups.push(() => ch.close());
  return ch;
}

describe('DockerChannel.connect', () => {
  it('negotiates down to 1.41 and pins the client to it', async () => {
    const engine = await fakeEngine('1.45');
    const ch = await connect(engine.url);
    expect(ch.info).toMatchObject({
      apiVersion: '1.41', serverApiVersion: '1.45', minApiVersion: '1.12', engineVersion: '99.0.0-fake', os: 'linux', arch: 'amd64',
      kernelVersion: '6.1.0-fake', cgroupVersion: '2', cgroupDriver: 'cgroupfs', storageDriver: 'overlay2',
      components: [{ name: 'Engine', version: '99.0.0-fake' }],
    });
    expect(String(await ch.api.ping())).toBe('OK');
    // /version is asked unversioned; everything after goes to the negotiated version.
    expect(engine.paths).toEqual(['/version', '/v1.41/info', '/v1.41/_ping']);
  });

  it('connects to an API that serves no /info, leaving those facts unknown', async () => {
    const port = await freePort();
    await listen(engineHandler('1.41', [], { info: false }), { port });
    const ch = await connect(`tcp://127.0.0.1:${port}`);
    expect(ch.info.engineVersion).toBe('99.0.0-fake');
    expect(ch.info.cgroupVersion).toBeUndefined();
    expect(ch.info.storageDriver).toBeUndefined();
  });

  it("uses an older engine's version", async () => {
    const engine = await fakeEngine('1.40');
    const ch = await connect(engine.url);
    expect(ch.info.apiVersion).toBe('1.40');
    expect(engine.paths).toContain('/v1.40/info');
    expect(ch.cliEnv().DOCKER_API_VERSION).toBe('1.40');
  });

  it('fails at once, naming the endpoint, for an engine below API 1.24', async () => {
    const engine = await fakeEngine('1.23');
    const err = await DockerChannel.connect({ url: engine.url }, { timeoutMs: 60_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DockerConnectError);
    expect(err).toMatchObject({ kind: 'version', endpoint: engine.url });
    expect((err as Error).message).toContain(engine.url);
    expect((err as Error).message).toMatch(/1\.23.*1\.24/);
    expect(engine.paths).toEqual(['/version']);
  });

  it('fails at once when something other than a Docker engine answers with an error', async () => {
    const paths: string[] = [];
    const server = createServer((req, res) => {
      paths.push(req.url ?? '');
      res.statusCode = 404;
      res.end('not here');
    });
    const port = await freePort();
    await listen(server, { port });
    const err = await DockerChannel.connect({ url: `tcp://127.0.0.1:${port}` }, { timeoutMs: 60_000 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'refused' });
    expect((err as Error).message).toMatch(/answered with an error: \(HTTP code 404\)/);
    expect(paths).toHaveLength(1);
  });

  it('retries until an engine that starts late answers', async () => {
    const port = await freePort();
    const paths: string[] = [];
    setTimeout(() => void listen(engineHandler('1.41', paths), { port }), 1_200);
    const ch = await connect(`tcp://127.0.0.1:${port}`, 20_000);
    expect(ch.info.apiVersion).toBe('1.41');
  });

  it('gives up on a connection that is accepted but never answered, and retries (QEMU user-mode forwards do this)', async () => {
    // The first connection is held open silently; later ones reach the engine.
    const port = await freePort();
    const engine = engineHandler('1.41', []);
    let held: Socket | undefined;
    const front = createTcpServer((sock) => {
      if (!held) {
        held = sock;
        return;
      }
      engine.emit('connection', sock);
    });
    await new Promise<void>((r) => front.listen(port, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => { held?.destroy(); front.close(() => r()); }));
    const ch = await connect(`tcp://127.0.0.1:${port}`, 20_000);
    expect(held).toBeDefined();
    expect(ch.info.engineVersion).toBe('99.0.0-fake');
  });

  it('names the endpoint and the last error when nothing answers in time', async () => {
    const port = await freePort();
    const err = await DockerChannel.connect({ url: `tcp://127.0.0.1:${port}` }, { timeoutMs: 1_000 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'unreachable', endpoint: `tcp://127.0.0.1:${port}` });
    expect((err as Error).message).toMatch(new RegExp(`tcp://127\\.0\\.0\\.1:${port} did not answer within 1000 ms .*last error: connect ECONNREFUSED`));
  });

  it('stops waiting when its signal aborts', async () => {
    const port = await freePort();
    const ac = new AbortController();
    const reason = new Error('run interrupted');
    setTimeout(() => ac.abort(reason), 300);
    await expect(DockerChannel.connect({ url: `tcp://127.0.0.1:${port}` }, { timeoutMs: 60_000, signal: ac.signal })).rejects.toBe(reason);
  });

  it('talks over a unix socket, ignoring DOCKER_* settings in its own environment', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tsuite-docker-unit-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const paths: string[] = [];
    await listen(engineHandler('1.41', paths), { path: join(dir, 'docker.sock') });
    const saved = { ...process.env };
    cleanups.push(() => {
      for (const k of ['DOCKER_HOST', 'DOCKER_TLS_VERIFY', 'DOCKER_CERT_PATH']) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
    });
    // docker-modem fills unset options from these; they must not win over the endpoint.
    Object.assign(process.env, { DOCKER_HOST: 'tcp://192.0.2.123:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: join(dir, 'missing') });
    const ch = await connect(`unix://${join(dir, 'docker.sock')}`);
    expect(ch.info.apiVersion).toBe('1.41');
    expect(ch.reach(8080)).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(paths).toEqual(['/version', '/v1.41/info']);
  });

  it('rejects a cert folder that lacks the client material, naming the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tsuite-docker-unit-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const err = await DockerChannel.connect({ url: 'tcp://127.0.0.1:1', certPath: dir }, { timeoutMs: 1_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    // All three are missing: each is named, in a fixed order (once a race between the reads).
    expect((err as Error).message).toContain(`${join(dir, 'ca.pem')} (ENOENT), ${join(dir, 'cert.pem')} (ENOENT), ${join(dir, 'key.pem')} (ENOENT)`);
    await writeFile(join(dir, 'ca.pem'), 'x');
    await writeFile(join(dir, 'key.pem'), 'x');
    const one = await DockerChannel.connect({ url: 'tcp://127.0.0.1:1', certPath: dir }, { timeoutMs: 1_000 }).catch((e: unknown) => e);
    expect((one as Error).message).toBe(`TLS client material cannot be read: ${join(dir, 'cert.pem')} (ENOENT)`);
  });
});
