/**
 * The `docker` channel and runner against real engines: Debian's dockerd started on this host by
 * the harness, once on plain TCP and once with TLS client certificates.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type Dockerode from 'dockerode';
import { pack } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerChannel, DockerConnectError } from '../../src/channels/docker.js';
import { InfraError } from '../../src/core/errors.js';
import { exec } from '../../src/core/exec.js';
import type { ProvisionRequest } from '../../src/core/runner.js';
import { LINUX_EVENT_PATTERNS } from '../../src/parsers/kernel-events.js';
import { runnerFor } from '../../runners/index.js';
import { makeCa, makeClientDir } from '../support/docker-tls.js';
import { hostDockerdUnavailable, startHostDockerd, type HostDockerd } from '../support/host-dockerd.js';

const unavailable = hostDockerdUnavailable({ tls: true });
const BUSYBOX = '/bin/busybox';
const DEBIAN_CLI = '/usr/bin/docker';

/** The engine version Debian's dockerd reports, e.g. "20.10.24+dfsg1". */
function installedDockerdVersion(): string {
  return /Docker version ([^,\s]+)/.exec(execFileSync('/usr/sbin/dockerd', ['--version'], { encoding: 'utf8' }))![1]!;
}

/** A one-file image (the host's static busybox) imported through the API: no registry needed. */
async function importBusybox(api: Dockerode, ref: string): Promise<void> {
  const tar = pack();
  tar.entry({ name: 'bin/', type: 'directory', mode: 0o755 });
  tar.entry({ name: 'bin/busybox', mode: 0o755 }, readFileSync(BUSYBOX));
  tar.finalize();
  const [repo, tag] = ref.split(':');
  const progress = await api.importImage(Readable.from(tar), { repo, tag });
  await new Promise((resolve, reject) => api.modem.followProgress(progress, (err: unknown, out: unknown) => (err ? reject(err) : resolve(out))));
}

async function logsOf(c: Dockerode.Container): Promise<string> {
  return (await c.logs({ stdout: true, stderr: true })).toString('utf8');
}

function provisionRequest(dir: string, url: string, certPath?: string, bootTimeoutMs = 15_000): ProvisionRequest {
  return {
    sessionId: 'docker-it', dir, arch: 'x86_64', boot: { kernel: '', cmdline: '' }, cpus: 1, memoryMb: 1, accel: 'auto',
    landmark: /never/, bootTimeoutMs, eventPatterns: LINUX_EVENT_PATTERNS, endpoint: { url, certPath },
  };
}

describe.skipIf(unavailable !== undefined)(`docker target on a host dockerd${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  let plain: HostDockerd;
  let tls: HostDockerd;
  let scratch: string;

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'tsuite-docker-it-'));
    [plain, tls] = await Promise.all([startHostDockerd(), startHostDockerd({ tls: true })]);
  });
  afterAll(async () => {
    await Promise.all([plain?.stop(), tls?.stop()]);
    await rm(scratch, { recursive: true, force: true });
  });

  it('connects over plain TCP, negotiates the API version and reads the engine facts', async () => {
    const ch = await DockerChannel.connect({ url: plain.url }, { timeoutMs: 10_000 });
    try {
      expect(String(await ch.api.ping())).toBe('OK');
      expect(ch.info).toMatchObject({
        apiVersion: '1.41', serverApiVersion: '1.41', engineVersion: installedDockerdVersion(), os: 'linux', arch: 'amd64',
        kernelVersion: release(), storageDriver: 'overlay2',
      });
      expect(ch.info.cgroupDriver).toMatch(/^(cgroupfs|systemd)$/);
      expect(ch.info.components?.map((c) => c.name)).toEqual(expect.arrayContaining(['Engine', 'containerd', 'runc']));
      // What the engine says through the pinned client agrees.
      const version = await ch.api.version();
      expect(version.ApiVersion).toBe(ch.info.serverApiVersion);
      const info = (await ch.api.info()) as { ServerVersion: string };
      expect(info.ServerVersion).toBe(ch.info.engineVersion);
    } finally {
      ch.close();
    }
  });

  it('the same engine answers on its unix socket', async () => {
    const ch = await DockerChannel.connect({ url: plain.socketUrl }, { timeoutMs: 10_000 });
    try {
      expect(String(await ch.api.ping())).toBe('OK');
      expect(ch.info.engineVersion).toBe(installedDockerdVersion());
    } finally {
      ch.close();
    }
  });

  it("runs containers with bridge networking: a published port is reached from this host, and containers on a user network reach each other by name", async () => {
    const ch = await DockerChannel.connect({ url: plain.url }, { timeoutMs: 10_000 });
    const ref = 'tsuite-it/busybox:1';
    const created: Dockerode.Container[] = [];
    let network: Dockerode.Network | undefined;
    try {
      await importBusybox(ch.api, ref);
      const serve = ['/bin/busybox', 'sh', '-c', '/bin/busybox mkdir /www && echo hello-from-$HOSTNAME > /www/index.html && exec /bin/busybox httpd -f -p 80 -h /www'];
      network = await ch.api.createNetwork({ Name: 'tsuite-it-net' });
      const reservation = ch.reservePort();
      const srv = await ch.api.createContainer({
        Image: ref, Cmd: serve, Hostname: 'srv', name: 'tsuite-it-srv', ExposedPorts: { '80/tcp': {} },
        HostConfig: { NetworkMode: 'tsuite-it-net', PortBindings: { '80/tcp': [{ HostPort: reservation.hostPort }] } },
      });
      created.push(srv);
      await srv.start();
      const bound = (await srv.inspect()).NetworkSettings.Ports['80/tcp']?.[0]?.HostPort;
      expect(bound).toMatch(/^\d+$/);
      const where = ch.reach(Number(bound));
      let page = '';
      for (let i = 0; i < 40 && !page; i++) {
        page = await fetch(`http://${where.host}:${where.port}/`).then((r) => r.text(), () => '');
        if (!page) await new Promise((r) => setTimeout(r, 250));
      }
      reservation.release();
      expect(page.trim()).toBe('hello-from-srv');

      const client = await ch.api.createContainer({
        // By name, through the engine's embedded DNS. (No wget -T: Debian's static busybox 1.35 crashes with it.)
        Image: ref,
        Cmd: ['/bin/busybox', 'wget', '-q', '-O', '-', 'http://tsuite-it-srv/'],
        HostConfig: { NetworkMode: 'tsuite-it-net' },
      });
      created.push(client);
      await client.start();
      const { StatusCode } = (await client.wait()) as { StatusCode: number };
      const out = await logsOf(client);
      expect({ StatusCode, out: out.replace(/[^\x20-\x7e\n]/g, '').trim() }).toEqual({ StatusCode: 0, out: 'hello-from-srv' });
    } finally {
      for (const c of created) await c.remove({ force: true });
      await network?.remove();
      await ch.api.getImage(ref).remove({ force: true }).catch(() => undefined);
      ch.close();
    }
  });

  it('connects with TLS client certificates', async () => {
    const ch = await DockerChannel.connect({ url: tls.url, certPath: tls.certPath }, { timeoutMs: 10_000 });
    try {
      expect(String(await ch.api.ping())).toBe('OK');
      expect(ch.info.apiVersion).toBe('1.41');
      expect(ch.cliEnv()).toMatchObject({ DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: tls.certPath });
    } finally {
      ch.close();
    }
  });

  it('the TLS engine refuses a client without a certificate, one with a certificate from another CA, and plain HTTP', async () => {
    const u = new URL(tls.url.replace(/^tcp:/, 'https:'));
    const noCert = await new Promise<string>((resolve) => {
      const req = httpsRequest({ host: u.hostname, port: u.port, path: '/_ping', ca: readFileSync(join(tls.certPath!, 'ca.pem')) }, (res) => {
        res.resume();
        resolve(`answered ${res.statusCode}`);
      });
      req.on('error', (e: NodeJS.ErrnoException) => resolve(`refused: ${e.code ?? e.message}`));
      req.end();
    });
    expect(noCert).toMatch(/^refused: /);

    const other = await makeCa(join(scratch, 'other-ca'), 'not-the-engines-ca');
    const untrusted = await makeClientDir(join(scratch, 'untrusted'), other, join(tls.certPath!, 'ca.pem'));
    const bad = await DockerChannel.connect({ url: tls.url, certPath: untrusted }, { timeoutMs: 10_000 }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(DockerConnectError);
    expect(bad).toMatchObject({ kind: 'refused', endpoint: tls.url });
    expect((bad as Error).message).toMatch(/bad certificate|certificate/i);

    const cleartext = await DockerChannel.connect({ url: tls.url }, { timeoutMs: 10_000 }).catch((e: unknown) => e);
    expect(cleartext).toMatchObject({ kind: 'refused' });
    expect((cleartext as Error).message).toContain(tls.url);
  });

  it.skipIf(!existsSync(DEBIAN_CLI))("Debian's docker CLI reaches both engines with cliEnv()", async () => {
    for (const d of [plain, tls]) {
      const ch = await DockerChannel.connect({ url: d.url, certPath: d.certPath }, { timeoutMs: 10_000 });
      try {
        const r = await exec(DEBIAN_CLI, ['version', '--format', '{{.Server.Version}} {{.Client.APIVersion}}'], { env: { ...process.env, ...ch.cliEnv() } });
        expect({ code: r.code, out: r.stdout.trim(), err: r.stderr.trim() }).toEqual({ code: 0, out: `${ch.info.engineVersion} 1.41`, err: '' });
      } finally {
        ch.close();
      }
    }
  });

  it('the docker runner provisions a session on the TLS endpoint', async () => {
    const dir = join(scratch, 'session');
    const session = await runnerFor('docker').provision(provisionRequest(dir, tls.url, tls.certPath), new AbortController().signal);
    try {
      expect([...session.channels]).toEqual(['docker']);
      expect(String(await session.docker!.api.ping())).toBe('OK');
      const evidence = JSON.parse(await readFile(join(dir, 'endpoint.json'), 'utf8'));
      expect(evidence).toMatchObject({ endpoint: tls.url, tls: true, apiVersion: '1.41', engineVersion: installedDockerdVersion() });
    } finally {
      await session[Symbol.asyncDispose]();
    }
    expect(session.exit?.kind).toBe('clean');
  });

  it('an endpoint that does not answer is an InfraError naming it', async () => {
    const url = `${plain.url.replace(/:\d+$/, '')}:1`;
    const err = await runnerFor('docker').provision(provisionRequest(join(scratch, 'dead'), url, undefined, 2_000), new AbortController().signal).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InfraError);
    expect((err as InfraError).message).toContain(url);
  });

  it('stop() ends dockerd and removes its namespace, veth and temp dir', async () => {
    const d = await startHostDockerd();
    const netns = (await exec('ip', ['netns', 'list'])).stdout;
    const veths = (await exec('ip', ['-o', 'link', 'show'])).stdout;
    const name = /^(tshd\d+)\b/m.exec(netns.split('\n').find((l) => l.startsWith(`tshd${d.url.split(':').pop()}`)) ?? '')?.[1];
    expect(name, netns).toBeDefined();
    expect(veths).toContain(`${name}h`);
    await d.stop();
    expect(() => process.kill(d.pid, 0)).toThrow();
    expect(existsSync(d.dir)).toBe(false);
    expect((await exec('ip', ['netns', 'list'])).stdout).not.toContain(name!);
    expect((await exec('ip', ['-o', 'link', 'show'])).stdout).not.toContain(`${name}h`);
  });
});
