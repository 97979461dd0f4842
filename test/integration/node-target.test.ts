import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { pack } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeRootfs } from '../../kernel/node/build-node-rootfs.js';
import { resolveBoot } from '../../kernel/resolve-boot.js';
import { qemuRunner } from '../../runners/qemu/qemu-runner.js';
import type { QemuSession } from '../../runners/qemu/qemu-session.js';
import { profileFor } from '../../runners/qemu/profiles/index.js';
import type { DockerChannel } from '../../src/channels/docker.js';
import { createProgress } from '../../src/core/progress.js';
import { findTarget } from '../../src/core/target.js';
import { parseBootReport } from '../../src/parsers/boot-report.js';
import { referenceRequest } from './reference-request.js';

/**
 * The reference container host (`qemu-x86-node`): the Debian rootfs tsuite builds (cached) booted
 * from NVMe on the reference kernel through the QEMU runner, with a real dockerd whose API is
 * forwarded to the host. Proves the boot report, the guest agent, the docker channel, a container
 * from an image imported through the API, and a published port reached from the host.
 */

const quiet = createProgress(process.stderr, true);
const LABEL = { 'tsuite.test': 'node-target' };
const IMAGE = 'tsuite-node-test/busybox:1';
const PAGE = `served by busybox httpd in the tsuite node ${process.pid}\n`;

let session: QemuSession;
let docker: DockerChannel;
let rootfs: NodeRootfs;
let release: string;

/** A one-layer rootfs tar: the host's static busybox and a page for its httpd. */
async function busyboxRootfsTar(): Promise<Buffer> {
  const tar = pack();
  const chunks: Buffer[] = [];
  tar.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise((resolve) => tar.on('end', resolve));
  tar.entry({ name: 'bin/', type: 'directory', mode: 0o755 });
  tar.entry({ name: 'bin/busybox', mode: 0o755 }, readFileSync('/bin/busybox'));
  tar.entry({ name: 'www/', type: 'directory', mode: 0o755 });
  tar.entry({ name: 'www/index.html', mode: 0o644 }, PAGE);
  tar.entry({ name: 'tmp/', type: 'directory', mode: 0o1777 });
  tar.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** Reads a progress stream of the Engine API to its end, failing on an `error` message in it. */
async function drain(stream: NodeJS.ReadableStream): Promise<void> {
  let text = '';
  for await (const c of stream) text += String(c);
  const error = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { error?: string }).find((m) => m.error);
  if (error) throw new Error(`engine: ${error.error}`);
}

/** GETs a page from the host, retrying while the server in the container starts. */
async function fetchText(url: string, attempts = 30): Promise<string> {
  let last: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(3_000) });
      if (r.ok) return await r.text();
      last = new Error(`HTTP ${r.status}`);
    } catch (err) {
      last = err;
    }
    await sleep(500);
  }
  throw new Error(`${url} did not answer: ${String(last)}`);
}

describe('qemu-x86-node: the reference container host', () => {
  beforeAll(async () => {
    const def = findTarget('qemu-x86-node');
    const resolved = await resolveBoot(def, profileFor('x86_64'), quiet);
    rootfs = JSON.parse(readFileSync(join(dirname(resolved.boot.rootfs!), 'node.json'), 'utf8')) as NodeRootfs;
    release = rootfs.release;
    const req = referenceRequest('node', 'x86_64', resolved.boot, {
      cpus: def.cpus,
      memoryMb: def.memoryMb,
      bootTimeoutMs: def.bootTimeoutMs,
      agent: true,
      docker: {
        guestPort: def.docker!.port!,
        readyPattern: new RegExp(def.docker!.readyPattern!),
        readyTimeoutMs: def.docker!.readyTimeoutMs ?? 120_000,
        publishPorts: def.docker!.publishPorts ?? [],
      },
    });
    session = (await qemuRunner.provision(req, new AbortController().signal)) as QemuSession;
    await session.settling;
    docker = session.docker!;
    const landmark = session.bootMs ?? NaN;
    process.stderr.write(`node rootfs: build ${(rootfs.buildMs / 1000).toFixed(1)} s (when built), ${(rootfs.diskBytes / 2 ** 20).toFixed(0)} MiB on disk; ` +
      `machine start to landmark ${(landmark / 1000).toFixed(1)} s; landmark to dockerd ready ${(((session.dockerReadyMs ?? NaN) - landmark) / 1000).toFixed(1)} s\n`);
  }, 600_000);

  afterAll(async () => {
    await session?.[Symbol.asyncDispose]();
  });

  it('boots the rootfs from NVMe without an initramfs and prints the tsuite boot report', () => {
    expect(session.spec?.cmdline).toMatch(/\broot=\/dev\/nvme0n1\b.*\binit=\/sbin\/tsuite-node-init\b/);
    const lines = session.console.lines.map((l) => l.text);
    const report = parseBootReport(lines);
    expect(report).toMatchObject({ version: 1, release, arch: 'x86_64', cpus: 2, cmdline: session.spec!.cmdline });
    // 2048 MiB given; the kernel keeps some for itself.
    expect(report!.memTotalKb!).toBeGreaterThan(1_800_000);
    expect(lines).toContainEqual(expect.stringContaining('tsuite-boot: agent=qemu-ga'));
  });

  it('serves the guest agent from the Debian userland, on the root disk tsuite built', async () => {
    expect(session.agentProblem).toBeUndefined();
    await session.agent!.ping();
    const os = await session.agent!.osInfo();
    expect(os).toMatchObject({ id: 'debian', kernelRelease: release, machine: 'x86_64' });
    const root = await session.agent!.exec(['/usr/bin/findmnt', '-n', '-o', 'SOURCE,FSTYPE', '/']);
    expect(root.stdout.toString('utf8').trim().split(/\s+/)).toEqual(['/dev/nvme0n1', 'ext4']);
    const serial = await session.agent!.exec(['/bin/cat', '/sys/block/nvme0n1/device/serial']);
    expect(serial.stdout.toString('utf8').trim()).toBe('tsuite-root');
  });

  it('has the docker channel: Debian\'s dockerd 20.10 on cgroup v2 and overlay2, on the reference kernel', () => {
    expect(session.dockerProblem).toBeUndefined();
    expect(session.channels.has('docker')).toBe(true);
    expect(session.console.lines.map((l) => l.text)).toContainEqual(expect.stringMatching(/tsuite-node: dockerd ready/));
    expect(docker.info).toMatchObject({ apiVersion: '1.41', os: 'linux', arch: 'amd64', cgroupVersion: '2', storageDriver: 'overlay2', kernelVersion: release });
    expect(docker.info.engineVersion).toMatch(/^20\.10\./);
    expect(rootfs.packages).toContainEqual(expect.stringMatching(/^docker\.io=20\.10\./));
  });

  it('runs a container from an image imported through the API, in its own cgroup', async () => {
    await drain(await docker.api.importImage(Readable.from(await busyboxRootfsTar()), { repo: IMAGE.split(':')[0], tag: '1' }));
    const c = await docker.api.createContainer({
      Image: IMAGE, Labels: LABEL,
      Cmd: ['/bin/busybox', 'sh', '-c', 'echo "answer=$((6 * 7))"; cat /proc/self/cgroup; exit 3'],
    });
    try {
      await c.start();
      const { StatusCode } = (await c.wait()) as { StatusCode: number };
      const logs = (await c.logs({ stdout: true, stderr: true })).toString('utf8');
      expect(StatusCode).toBe(3);
      expect(logs).toContain('answer=42');
      // cgroup v2 with a private cgroup namespace: the container sees itself at the root.
      expect(logs).toContain('0::/');
    } finally {
      await c.remove({ force: true });
    }
  });

  it('publishes a container port that the host reaches through the forward', async () => {
    const port = docker.reservePort();
    const c = await docker.api.createContainer({
      Image: IMAGE, Labels: LABEL,
      Cmd: ['/bin/busybox', 'httpd', '-f', '-p', '8080', '-h', '/www'],
      ExposedPorts: { '8080/tcp': {} },
      HostConfig: { PortBindings: { '8080/tcp': [{ HostPort: port.hostPort }] } },
    });
    try {
      await c.start();
      const published = (await c.inspect()).NetworkSettings.Ports['8080/tcp']?.[0]?.HostPort;
      expect(published).toBe(port.hostPort);
      const { host, port: hostPort } = docker.reach(Number(published));
      expect(await fetchText(`http://${host}:${hostPort}/index.html`)).toBe(PAGE);
    } finally {
      await c.remove({ force: true });
      port.release();
      await docker.api.getImage(IMAGE).remove();
    }
  });

  it('powers off cleanly on request', async () => {
    const exit = await session.shutdown('test done');
    expect(exit).toMatchObject({ kind: 'clean' });
    expect(session.console.lines.map((l) => l.text)).toContainEqual(expect.stringContaining('tsuite-node: powering off'));
  });
});
