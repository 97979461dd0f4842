/**
 * Exec, Attach and PortForward over the streaming server of Debian's containerd 1.6 (its built-in
 * CRI plugin) on this host: a pod with a busybox container that sleeps and serves an echo on 8080,
 * and a second container running an interactive `sh` on a terminal, for attach.
 */
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, IMAGE_DEFINITIONS } from '../../oci-images/index.js';
import { CriChannel } from '../../src/channels/cri.js';
import { criPortForward } from '../../src/channels/cri-port-forward.js';
import { criAttach, criExec, CriStreamError, openExec } from '../../src/channels/cri-streams.js';
import { execOk } from '../../src/core/exec.js';
import type { Progress } from '../../src/core/progress.js';
import { CRI_NAMESPACE, hostContainerdUnavailable, startHostContainerd, type HostContainerd } from '../support/host-containerd.js';

const unavailable = hostContainerdUnavailable();
const silent: Progress = { step: (_label, work) => work() };
const T = { timeoutMs: 30_000 };

describe.skipIf(unavailable)(`CRI streaming on Debian's containerd on this host${unavailable ? ` (${unavailable})` : ''}`, () => {
  let hc: HostContainerd | undefined;
  let cri: CriChannel;
  let podId: string;
  let sleeper: string;
  let shell: string;

  beforeAll(async () => {
    hc = await startHostContainerd();
    const busybox = await buildImage(IMAGE_DEFINITIONS.busybox, process.arch === 'arm64' ? 'aarch64' : 'x86_64', silent);
    await execOk('ctr', ['--address', hc.socketPath, '-n', CRI_NAMESPACE, 'images', 'import', busybox.archive]);
    const image = `docker.io/${busybox.ref}`;
    cri = await CriChannel.connect({ url: hc.endpoint }, { timeoutMs: 30_000 });
    const podConfig = { metadata: { name: 'streams', uid: randomUUID(), namespace: 'tsuite', attempt: 0 }, hostname: 'streams', linux: {} };
    podId = (await cri.runtime<{ pod_sandbox_id: string }>('RunPodSandbox', { config: podConfig }, { timeoutMs: 120_000 })).pod_sandbox_id;
    const start = async (name: string, extra: object) => {
      const config = { metadata: { name, attempt: 0 }, image: { image }, linux: {}, ...extra };
      const { container_id } = await cri.runtime<{ container_id: string }>('CreateContainer', { pod_sandbox_id: podId, config, sandbox_config: podConfig });
      await cri.runtime('StartContainer', { container_id });
      return container_id;
    };
    // busybox nc -ll -e cat: an echo server that serves one connection after another.
    sleeper = await start('sleeper', { command: ['sh', '-c', 'nc -ll -p 8080 -e cat & exec sleep 3600'] });
    shell = await start('shell', { command: ['sh'], stdin: true, tty: true });
  }, 300_000);

  afterAll(async () => {
    cri?.close();
    await hc?.stop();
  }, 120_000);

  it('exec splits stdout from stderr and reports the exit code from the v4 status', async () => {
    const failing = await criExec(cri, { container_id: sleeper, cmd: ['sh', '-c', 'echo out; echo err >&2; exit 3'] }, T);
    expect(failing.protocol).toBe('v4.channel.k8s.io');
    const r = await failing.wait();
    expect(r).toMatchObject({ exitCode: 3, stdout: 'out\n', stderr: 'err\n' });
    expect(r.status).toMatchObject({ status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '3' }] } });

    const ok = await (await criExec(cri, { container_id: sleeper, cmd: ['true'] }, T)).wait();
    expect(ok).toMatchObject({ exitCode: 0, status: { status: 'Success' }, stdout: '', stderr: '' });
  });

  it('exec of a missing program ends with a failure status, not an exit code', async () => {
    const missing = await criExec(cri, { container_id: sleeper, cmd: ['/no/such/program'] }, T);
    const err = await missing.wait().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CriStreamError);
    expect(err).toMatchObject({ kind: 'failure', details: { status: { status: 'Failure', reason: 'InternalError' } } });
  });

  it('exec with stdin and no tty round-trips lines interactively; stdin cannot be closed alone over v4', async () => {
    const script = 'while read line; do echo "got:$line"; [ "$line" = quit ] && exit 7; done; echo eof';
    const ex = await criExec(cri, { container_id: sleeper, cmd: ['sh', '-c', script], stdin: true }, T);
    ex.write('hello\n');
    await ex.waitFor(/got:hello\n/);
    // The second line is written only after the first answer came back.
    ex.write('again\n');
    await ex.waitFor(/got:again\n/);
    expect(() => ex.closeStdin()).toThrow(/cannot close stdin alone/);
    ex.write('quit\n');
    expect(await ex.wait()).toMatchObject({ exitCode: 7, stdout: 'got:hello\ngot:again\ngot:quit\n' });
  });

  it('exec with a tty applies a resize, ends stdin with Ctrl-D and keeps the exit code', async () => {
    const ex = await criExec(cri, { container_id: sleeper, cmd: ['sh'], stdin: true, tty: true }, T);
    ex.resize({ width: 123, height: 45 });
    // The resize travels apart from stdin (its own channel, then the shim's console): ask until it shows.
    const sizeBecomes = async (want: string) => {
      let size = '';
      for (let i = 0; i < 20 && size !== want; i++) {
        ex.write('stty size\n');
        const m = await ex.waitFor(/^(\d+ \d+)\r$/m, { timeoutMs: 1_000 }).catch(() => undefined);
        size = m?.[1] ?? '';
      }
      return size;
    };
    expect(await sizeBecomes('45 123')).toBe('45 123');
    // And again while the shell runs: `rows columns`.
    ex.resize({ width: 80, height: 24 });
    expect(await sizeBecomes('24 80')).toBe('24 80');
    ex.write('exit 5\n');
    expect((await ex.wait()).exitCode).toBe(5);

    // Ctrl-D at the start of a line is the terminal's end of input: cat ends, the shell goes on.
    const cat = await criExec(cri, { container_id: sleeper, cmd: ['sh', '-c', 'cat; echo after-eof'], stdin: true, tty: true }, T);
    cat.write('abc\n');
    await cat.waitFor(/abc\r\n/);
    cat.closeStdin();
    const r = await cat.wait();
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('after-eof');
  });

  it('attach to a container with a terminal sees what its shell prints, and ends when it exits', async () => {
    const first = await criAttach(cri, { container_id: shell, stdin: true, tty: true }, T);
    first.write('echo $((6*7))\n');
    // 42 appears only in the shell's answer, not in the echo of the typed line.
    await first.waitFor(/\b42\b/);
    first.close();
    expect(await first.wait()).toMatchObject({ exitCode: null, status: null });

    // A second attach to the same shell: the container's exit ends it with Success.
    const second = await criAttach(cri, { container_id: shell, stdin: true, tty: true }, T);
    second.write('echo $((7*8)); exit 0\n');
    await second.waitFor(/\b56\b/);
    expect(await second.wait()).toMatchObject({ exitCode: null, status: { status: 'Success' } });
  });

  it('port-forward carries bytes to a server in the pod and back', async () => {
    const conn = await criPortForward(cri, podId, 8080, T);
    let echoed = '';
    conn.on('data', (d: Buffer) => (echoed += d.toString()));
    conn.write('ping\n');
    for (let i = 0; i < 100 && echoed !== 'ping\n'; i++) await sleep(50);
    expect(echoed).toBe('ping\n');
    conn.write('pong\n');
    for (let i = 0; i < 100 && echoed !== 'ping\npong\n'; i++) await sleep(50);
    expect(echoed).toBe('ping\npong\n');
    conn.destroy();
    await once(conn, 'close');

    // The server serves one connection after another: a second forward works too.
    const again = await criPortForward(cri, podId, 8080, T);
    again.write('x');
    const [chunk] = (await once(again, 'data')) as [Buffer];
    expect(chunk.toString()).toBe('x');
    again.destroy();
  });

  it('port-forward to a port nothing listens on surfaces the error channel', async () => {
    // The failure comes after the port's prefix: as an 'error' event, or as the rejection when both came in one packet.
    const err = await criPortForward(cri, podId, 8081, T).then(
      async (conn) => ((await once(conn, 'error')) as [CriStreamError])[0],
      (e: unknown) => e as CriStreamError,
    );
    expect(err).toBeInstanceOf(CriStreamError);
    expect(err.kind).toBe('failure');
    expect(err.message).toMatch(/8081/);
  });

  it('a streaming URL is one-time: reuse is a not-found error that names the URL without its token', async () => {
    const { url } = await cri.runtime<{ url: string }>('Exec', { container_id: sleeper, cmd: ['true'], stdout: true });
    const token = url.split('/').pop()!;
    expect((await (await openExec(cri.streamUrl(url), T)).wait()).exitCode).toBe(0);
    const err = await openExec(cri.streamUrl(url), T).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CriStreamError);
    expect(err).toMatchObject({ kind: 'not-found', details: { httpStatus: 404 } });
    expect((err as Error).message).toContain('/exec/<token>');
    expect((err as Error).message).not.toContain(token);
  });
});
