/**
 * The exec/attach and port-forward clients against a local WebSocket server that plays the
 * streaming server's side of the wire as documented in cri-stream-wire.ts, for the paths a real
 * runtime seldom takes (v5, a cut stream, a request without the port, deadlines). The real proof
 * is test/integration/cri-streams.test.ts against containerd.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { openPortForward } from '../../src/channels/cri-port-forward.js';
import { CriStreamError, openExec } from '../../src/channels/cri-streams.js';

type Script = (ws: WebSocket, received: Buffer[]) => void;
const scripts = new Map<string, Script>();
const received = new Map<string, Buffer[]>();
let server: WebSocketServer;
let base: string;

const frame = (channel: number, payload: string | number[] = []) => Buffer.concat([Buffer.from([channel]), typeof payload === 'string' ? Buffer.from(payload) : Buffer.from(payload)]);

beforeAll(async () => {
  // Like containerd: the first offered protocol it knows wins; v5 only where a test path says so.
  server = new WebSocketServer({
    port: 0,
    host: '127.0.0.1',
    handleProtocols: (offered, req) => {
      const known = req.url?.includes('/v5/') ? ['v5.channel.k8s.io', 'v4.channel.k8s.io'] : ['v4.channel.k8s.io'];
      return [...offered].find((p) => known.includes(p)) ?? false;
    },
  });
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  server.on('connection', (ws, req) => {
    const path = req.url!;
    const got: Buffer[] = [];
    received.set(path, got);
    ws.on('message', (d: Buffer) => got.push(d));
    scripts.get(path)?.(ws, got);
  });
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const T = { timeoutMs: 5_000 };

describe('exec client', () => {
  it('keeps output the server sends right after the upgrade, and expect-style waits consume it in order', async () => {
    scripts.set('/exec/early', (ws) => {
      ws.send(frame(1));
      ws.send(frame(1, 'one\ntwo\n'));
      ws.send(frame(2, 'warn\n'));
      ws.send(frame(3, '{"status":"Success"}'));
      ws.close(1000);
    });
    const ex = await openExec(`${base}/exec/early`, T);
    expect((await ex.waitFor(/\w+\n/))[0]).toBe('one\n');
    expect((await ex.waitFor(/\w+\n/))[0]).toBe('two\n');
    expect((await ex.waitFor(/warn/, { stream: 'stderr' }))[0]).toBe('warn');
    expect(await ex.wait()).toEqual({ exitCode: 0, status: { status: 'Success' }, stdout: 'one\ntwo\n', stderr: 'warn\n' });
    await expect(ex.waitFor(/three/)).rejects.toMatchObject({ kind: 'closed' });
  });

  it('over v5 closes stdin with [255, 0] and sends stdin and resize frames as they are written', async () => {
    scripts.set('/v5/exec/t', (ws, got) => {
      ws.on('message', () => {
        if (got.some((b) => b[0] === 255)) {
          ws.send(frame(3, '{"status":"Success"}'));
          ws.close(1000);
        }
      });
    });
    const ex = await openExec(`${base}/v5/exec/t`, { ...T, stdin: true, tty: true });
    expect(ex.protocol).toBe('v5.channel.k8s.io');
    ex.write('abc');
    ex.resize({ width: 80, height: 24 });
    ex.closeStdin();
    expect(() => ex.write('late')).toThrow(/already closed/);
    await ex.wait();
    expect(received.get('/v5/exec/t')!.map((b) => [...b])).toEqual([[0, 97, 98, 99], [...frame(4, '{"Width":80,"Height":24}')], [255, 0]]);
  });

  it('refuses stdin, resize and a v4 stdin close it cannot honour, as usage errors', async () => {
    scripts.set('/exec/usage', () => undefined);
    const ex = await openExec(`${base}/exec/usage`, T);
    expect(() => ex.write('x')).toThrow(CriStreamError);
    expect(() => ex.resize({ width: 1, height: 1 })).toThrow(/needs a terminal/);
    ex.close();
    expect(await ex.wait()).toMatchObject({ exitCode: null, status: null });

    scripts.set('/exec/v4stdin', () => undefined);
    const piped = await openExec(`${base}/exec/v4stdin`, { ...T, stdin: true });
    expect(() => piped.closeStdin()).toThrow(/cannot close stdin alone/);
    piped.close();
  });

  it('turns a stream cut without a status into a closed error with the output so far', async () => {
    scripts.set('/exec/cut', (ws) => {
      ws.send(frame(1, 'partial'));
      ws.terminate();
    });
    const ex = await openExec(`${base}/exec/cut`, T);
    const err = await ex.wait().catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'closed', url: `${base}/exec/<token>` });
    expect((err as Error).message).toMatch(/without a status.*partial/);
  });

  it('times out a stream that never ends, and a wait for output that never comes', async () => {
    scripts.set('/exec/slow', () => undefined);
    const ex = await openExec(`${base}/exec/slow`, { timeoutMs: 300 });
    await expect(ex.waitFor(/never/, { timeoutMs: 100 })).rejects.toMatchObject({ kind: 'timeout' });
    await expect(ex.wait()).rejects.toMatchObject({ kind: 'timeout' });
  });

  it('rejects with the abort reason when the signal fires', async () => {
    scripts.set('/exec/abort', () => undefined);
    const ac = new AbortController();
    const ex = await openExec(`${base}/exec/abort`, { ...T, signal: ac.signal });
    const reason = new Error('test over');
    ac.abort(reason);
    await expect(ex.wait()).rejects.toBe(reason);
  });

  it('names a refused upgrade (HTTP 403, as Go answers an unknown subprotocol) as a handshake error without the token', async () => {
    const refusing = new WebSocketServer({ port: 0, host: '127.0.0.1', verifyClient: (_info, cb) => cb(false, 403, 'Forbidden') });
    await once(refusing, 'listening');
    try {
      const url = `http://127.0.0.1:${(refusing.address() as AddressInfo).port}/exec/secret-token`;
      const e = await openExec(url, T).catch((x: unknown) => x);
      expect(e).toMatchObject({ kind: 'handshake', details: { httpStatus: 403 } });
      expect((e as Error).message).toContain('/exec/<token>: HTTP 403');
      expect((e as Error).message).not.toContain('secret-token');
    } finally {
      refusing.close();
    }
  });

  it('names a refused connection as a connect error', async () => {
    const closed = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await once(closed, 'listening');
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await expect(openExec(`http://127.0.0.1:${port}/exec/x`, T)).rejects.toMatchObject({ kind: 'connect' });
  });
});

describe('port-forward client', () => {
  it('finds its port by the channel prefixes, strips them, and carries raw bytes both ways', async () => {
    scripts.set('/portforward/two', (ws) => {
      // Two ports in the request: 80 on channels 0/1, 8080 on channels 2/3.
      for (const [ch, port] of [[0, 80], [1, 80], [2, 8080], [3, 8080]] as const) ws.send(frame(ch, [port & 0xff, port >> 8]));
      ws.on('message', (d: Buffer) => {
        if (d[0] === 2) ws.send(frame(2, `echo:${d.subarray(1).toString()}`));
      });
    });
    const conn = await openPortForward(`${base}/portforward/two`, 8080, T);
    conn.write('hi');
    const [chunk] = (await once(conn, 'data')) as [Buffer];
    expect(chunk.toString()).toBe('echo:hi');
    expect([...received.get('/portforward/two')![0]!]).toEqual([2, 0x68, 0x69]);
    conn.destroy();
  });

  it('says when the request did not name the port, or named none', async () => {
    scripts.set('/portforward/other', (ws) => {
      ws.send(frame(0, [80, 0]));
      ws.send(frame(1, [80, 0]));
      setTimeout(() => ws.close(1000), 20);
    });
    await expect(openPortForward(`${base}/portforward/other`, 8080, T)).rejects.toThrow(/forwards port\(s\) 80, not 8080/);
    scripts.set('/portforward/none', (ws) => ws.close(1000));
    await expect(openPortForward(`${base}/portforward/none`, 8080, T)).rejects.toThrow(/PortForwardRequest list port 8080/);
  });

  it('destroys the stream with the error channel text, and ends it when the pod side closes', async () => {
    scripts.set('/portforward/fail', (ws) => {
      ws.send(frame(0, [0x90, 0x1f]));
      ws.send(frame(1, [0x90, 0x1f]));
      setTimeout(() => ws.send(frame(1, 'connection refused')), 20);
    });
    const failing = await openPortForward(`${base}/portforward/fail`, 8080, T);
    const [err] = (await once(failing, 'error')) as [CriStreamError];
    expect(err).toMatchObject({ kind: 'failure' });
    expect(err.message).toContain('connection refused');

    // A failure in the same packet as the prefixes is the answer to opening, not a lost event.
    scripts.set('/portforward/fast-fail', (ws) => {
      const prefix = Buffer.from([0x90, 0x1f]);
      const both = [frame(0, [...prefix]), frame(1, [...prefix]), frame(1, 'connection refused')];
      // One TCP write carrying three WebSocket frames (unmasked binary, short lengths).
      const raw = Buffer.concat(both.map((f) => Buffer.concat([Buffer.from([0x82, f.length]), f])));
      (ws as unknown as { _socket: import('node:net').Socket })._socket.write(raw);
    });
    await expect(openPortForward(`${base}/portforward/fast-fail`, 8080, T)).rejects.toMatchObject({ kind: 'failure' });

    scripts.set('/portforward/eof', (ws) => {
      ws.send(frame(0, [0x90, 0x1f, 0x61])); // the prefix and a first byte of data in one frame
      ws.send(frame(1, [0x90, 0x1f]));
      setTimeout(() => ws.close(1000), 20);
    });
    const ending = await openPortForward(`${base}/portforward/eof`, 8080, T);
    let data = '';
    ending.on('data', (d: Buffer) => (data += d.toString()));
    await once(ending, 'end');
    expect(data).toBe('a');
  });
});
