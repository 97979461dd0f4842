import type Dockerode from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerChannel } from '../../src/channels/docker.js';
import { InfraError } from '../../src/core/errors.js';
import { hostArch } from '../../kernel/reference/foreign-apt.js';
import { buildTestImages, ensureTestImages, IMAGE_NAMES, loadImage, NGINX_MARKER, type BuiltImages, type TestImages } from '../../oci-images/index.js';
import { demuxBuffer } from '../../suites/containers/streams.js';
import { hostDockerdUnavailable, startHostDockerd, type HostDockerd } from '../support/host-dockerd.js';

/**
 * tsuite's test images against a real engine: Debian's dockerd 20.10, started on this host for
 * these tests. Every image must load through POST /images/load with the id tsuite computed, and
 * each custom image must run and report ok.
 */
const quiet = { step: <T>(_l: string, work: () => Promise<T>) => work() };
const RUN_LABEL = { 'tsuite.run': 'test-oci-images' };
const unavailable = hostDockerdUnavailable();

describe.skipIf(unavailable)(`tsuite's OCI images on a host dockerd${unavailable ? ` (${unavailable})` : ''}`, () => {
  let dockerd: HostDockerd;
  let channel: DockerChannel;
  let built: BuiltImages;
  let images: TestImages;
  const created: Dockerode.Container[] = [];

  beforeAll(async () => {
    dockerd = await startHostDockerd();
    channel = await DockerChannel.connect({ url: dockerd.url }, { timeoutMs: 30_000 });
    built = await buildTestImages(hostArch(), quiet);
    images = await ensureTestImages(channel, hostArch(), 'local');
  }, 600_000);

  afterAll(async () => {
    for (const c of created) await c.remove({ force: true }).catch(() => undefined);
    channel?.close();
    await dockerd?.stop();
  }, 60_000);

  /** Runs `cmd` in a fresh container of `image` to its end: exit code and demuxed output. */
  async function run(image: string, cmd: string[], host: Dockerode.HostConfig = {}) {
    const c = await channel.api.createContainer({ Image: image, Cmd: cmd, Labels: RUN_LABEL, HostConfig: host });
    created.push(c);
    await c.start();
    const { StatusCode } = (await c.wait()) as { StatusCode: number };
    const out = await demuxBuffer(channel.api, (await c.logs({ stdout: true, stderr: true })) as Buffer);
    return { code: StatusCode, stdout: out.stdout.toString(), stderr: out.stderr.toString() };
  }
  const report = (s: string) => JSON.parse(s.trim().split('\n').pop()!) as Record<string, unknown>;

  it('loads every image with the id tsuite computed, under its ref', async () => {
    expect(Object.keys(images).sort()).toEqual([...IMAGE_NAMES].sort());
    for (const name of IMAGE_NAMES) {
      expect(images[name]).toBe(built[name].ref);
      const info = await channel.api.getImage(built[name].ref).inspect();
      expect(info.Id, name).toBe(built[name].id);
      expect(info.Architecture).toBe(built[name].arch);
    }
  });

  it('re-tags an image the engine still has by id, without loading it again', async () => {
    const img = built.busybox;
    await channel.api.getImage(img.id).tag({ repo: 'tsuite/keep', tag: 'x' });
    await channel.api.getImage(img.ref).remove();
    await expect(channel.api.getImage(img.ref).inspect()).rejects.toMatchObject({ statusCode: 404 });
    await loadImage(channel, img);
    expect((await channel.api.getImage(img.ref).inspect()).Id).toBe(img.id);
    await channel.api.getImage('tsuite/keep:x').remove();
  });

  it('busybox: a shell, applets, and the users root, nobody and tsuite', async () => {
    const r = await run(images.busybox, ['sh', '-c', 'id -u tsuite; id -u nobody; ls /bin/sh /usr/bin/awk; echo ok']);
    expect(r).toMatchObject({ code: 0 });
    expect(r.stdout.split('\n')).toEqual(['1000', '65534', '/bin/sh', '/usr/bin/awk', 'ok', '']);
  });

  it('memstress: touches every page of the MiB it is asked for', async () => {
    const r = await run(images.memstress, ['24']);
    expect(r.code, r.stderr).toBe(0);
    const rep = report(r.stdout);
    expect(rep).toMatchObject({ allocated_mib: 24, ok: true });
    expect(rep.touched_pages).toBe((24 << 20) / (rep.page_size as number));
  });

  it('fsio: writes, fsyncs, reads back and verifies; a second container verifies the same data on a volume', async () => {
    const vol = await channel.api.createVolume({ Name: `tsuite-oci-fsio-${process.pid}`, Labels: RUN_LABEL });
    try {
      const w = await run(images.fsio, ['/data', '4'], { Binds: [`${vol.Name}:/data`] });
      expect(w.code, w.stderr).toBe(0);
      expect(report(w.stdout)).toMatchObject({ written: 4 << 20, read: 4 << 20, verified: true });
      const v = await run(images.fsio, ['/data', '4', 'verify'], { Binds: [`${vol.Name}:/data`] });
      expect(report(v.stdout)).toMatchObject({ read: 4 << 20, verified: true, crc: report(w.stdout).crc });
    } finally {
      for (const c of created.splice(0)) await c.remove({ force: true });
      await channel.api.getVolume(vol.Name).remove();
    }
  });

  it('procs: is pid 1 in its container, sees only itself and its children, and reaps them all', async () => {
    const r = await run(images.procs, ['3'], {});
    expect(r.code, r.stderr).toBe(0);
    const rep = report(r.stdout);
    expect(rep).toMatchObject({ pid: 1, spawned: 3, signalled: 3, reaped: 3, ok: true });
    expect((rep.visible_pids as number[]).length).toBe(4);
    expect(rep.visible_pids).toContain(1);
  });

  it('net: a client reaches a server by name on a user-defined network and gets its echo', async () => {
    const net = await channel.api.createNetwork({ Name: `tsuite-oci-net-${process.pid}`, Labels: RUN_LABEL });
    try {
      const server = await channel.api.createContainer({ Image: images.net, Cmd: ['serve', '7000'], name: `tsuite-oci-echo-${process.pid}`, Labels: RUN_LABEL, HostConfig: { NetworkMode: net.id } });
      created.push(server);
      await server.start();
      const r = await run(images.net, ['call', `tsuite-oci-echo-${process.pid}`, '7000', 'ping-42'], { NetworkMode: net.id });
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(report(r.stdout)).toEqual({ sent: 7, received: 7, reply: 'ping-42', ok: true });
      const logs = (await demuxBuffer(channel.api, (await server.logs({ stdout: true })) as Buffer)).stdout;
      expect(report(logs.split('\n')[0]!)).toEqual({ listening: 7000 });
    } finally {
      for (const c of created.splice(0)) await c.remove({ force: true });
      await net.remove();
    }
  });

  it('nginx: serves its page on a published port, fetched from this host', async () => {
    const port = channel.reservePort();
    try {
      const c = await channel.api.createContainer({
        Image: images.nginx,
        Labels: RUN_LABEL,
        ExposedPorts: { '80/tcp': {} },
        HostConfig: { PortBindings: { '80/tcp': [{ HostPort: port.hostPort }] } },
      });
      created.push(c);
      await c.start();
      const bound = Number((await c.inspect()).NetworkSettings.Ports['80/tcp']?.[0]?.HostPort);
      const { host, port: reached } = channel.reach(bound);
      let body = '';
      for (let i = 0; i < 50 && !body.includes(NGINX_MARKER); i++) {
        body = await fetch(`http://${host}:${reached}/`).then((r) => r.text()).catch(() => '');
        if (!body) await new Promise((r) => setTimeout(r, 100));
      }
      expect(body).toContain(NGINX_MARKER);
      const logs = await demuxBuffer(channel.api, (await c.logs({ stdout: true, stderr: true })) as Buffer);
      expect(logs.stdout.toString()).toMatch(/"GET \/ HTTP\/1.1" 200/);
    } finally {
      port.release();
    }
  });

  it('probes: carries the syscall probes, which print KTAP', async () => {
    const r = await run(images.probes, ['/opt/tsuite/probes/random']);
    expect(r.stdout.split('\n')[0]).toBe('KTAP version 1');
    expect(r.stdout).toMatch(/^ok \d+ /m);
  });

  it('upstream images: pulled by reference where a registry answers; otherwise an error naming the engine, the ref and the way out', async () => {
    const got = await ensureTestImages(channel, hostArch(), 'upstream').then(
      (refs) => ({ refs }),
      (err: unknown) => ({ err: err as InfraError }),
    );
    if ('refs' in got) {
      expect(got.refs).toMatchObject({ busybox: 'busybox:1.36', nginx: 'nginx:1.27-alpine', alpine: 'alpine:3.20', memstress: built.memstress.ref });
      return;
    }
    // This machine has no registry: the error must say so plainly.
    expect(got.err).toBeInstanceOf(InfraError);
    expect(got.err.message).toMatch(new RegExp(`engine at ${dockerd.url.replace(/[.]/g, '\\.')} cannot pull busybox:1\\.36: .+`));
    expect(got.err.fix).toMatch(/--container-images local/);
  }, 120_000);
});
