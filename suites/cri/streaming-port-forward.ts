import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { PortForwardStream } from '../../src/index.js';
import { criPortForward, CriRpcError, CriStreamError } from '../../src/index.js';
import { criTest } from './cri-test.js';
import type { CriScope, Pod } from './scope.js';
import { failureOf, streamOpts } from './streaming-checks.js';

const PORT = 8080;

/** A pod whose `net` container echoes on PORT, returned once a connection from inside the pod has been echoed. */
async function echoPod(scope: CriScope): Promise<Pod> {
  const { pod, id } = await scope.podWithContainer('echo', { image: { image: scope.images.net }, command: ['net', 'serve', String(PORT)] });
  // `net call` retries until the server accepts, so the forward below never races its start.
  await scope.sh(id, `net call 127.0.0.1 ${PORT} ready`);
  return pod;
}

/** Writes `payload` and resolves once the same number of bytes came back; fails naming what came instead. */
function echoed(conn: PortForwardStream, payload: Buffer, timeoutMs = 15_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (err?: Error) => {
      clearTimeout(timer);
      conn.off('data', onData).off('error', done).off('end', onEnd);
      if (err) reject(err);
      else resolve(Buffer.concat(chunks));
    };
    const seen = () => `${size} of ${payload.length} bytes came back`;
    const onData = (d: Buffer) => {
      chunks.push(d);
      size += d.length;
      if (size >= payload.length) done();
    };
    const onEnd = () => done(new Error(`the forwarded connection ended before the echo was complete: ${seen()}`));
    const timer = setTimeout(() => done(new Error(`no complete echo within ${timeoutMs} ms: ${seen()}`)), timeoutMs);
    conn.on('data', onData).once('error', done).once('end', onEnd);
    conn.write(payload);
  });
}

async function expectEcho(conn: PortForwardStream, payload: Buffer, what: string): Promise<void> {
  const back = await echoed(conn, payload);
  if (!back.equals(payload)) {
    const at = back.findIndex((b, i) => b !== payload[i]);
    throw new Error(`${what}: the echo differs from what was sent (${back.length} bytes back for ${payload.length}, first difference at byte ${at})`);
  }
}

export const portForwardTests = [
  criTest({
    name: 'streaming-port-forward-echo',
    title: 'PortForward carries bytes to a server in the pod and its answers back, text and binary',
    rpcs: ['PortForward'],
    async run({ ctx, cri, scope }) {
      const pod = await echoPod(scope);
      const conn = await criPortForward(cri, pod.id, PORT, streamOpts(ctx));
      try {
        await expectEcho(conn, Buffer.from('ping\n'), 'a line through the forward');
        // Every byte value, and more than one frame's worth: nothing is lost, reordered or re-encoded.
        const binary = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(64 * 1024)]);
        await expectEcho(conn, binary, 'binary data through the forward');
      } finally {
        conn.destroy();
      }
    },
  }),
  criTest({
    name: 'streaming-port-forward-reconnect',
    title: 'Two PortForward connections one after another to the same pod port both work',
    rpcs: ['PortForward'],
    async run({ ctx, cri, scope }) {
      const pod = await echoPod(scope);
      for (const n of [1, 2]) {
        let conn: PortForwardStream | undefined;
        try {
          conn = await criPortForward(cri, pod.id, PORT, streamOpts(ctx));
          await expectEcho(conn, Buffer.from(`connection ${n}\n`), `connection ${n}`);
        } catch (err) {
          throw new Error(`forwarded connection ${n} of 2 to port ${PORT}: ${(err as Error).message}`);
        } finally {
          conn?.destroy();
        }
        // The server serves one connection at a time: this one must be gone before the next.
        if (!conn.closed) await once(conn, 'close');
      }
    },
  }),
  criTest({
    name: 'streaming-port-forward-no-listener',
    title: 'PortForward to a pod port nothing listens on fails naming the port',
    rpcs: ['PortForward'],
    async run({ ctx, cri, scope }) {
      const pod = await echoPod(scope);
      const port = PORT + 1;
      // The failure comes on the port's error channel: as the open's rejection, or as an 'error' event on the stream.
      const err = await failureOf(async () => {
        const conn = await criPortForward(cri, pod.id, port, streamOpts(ctx));
        try {
          return await echoed(conn, Buffer.from('anyone?\n'));
        } finally {
          conn.destroy();
        }
      }, `a forward to port ${port} with no listener`);
      if (err instanceof CriStreamError && err.kind === 'timeout') throw new Error(`a forward to port ${port} with no listener hung: ${err.message}`);
      if (!(err instanceof CriStreamError) || err.kind !== 'failure') throw new Error(`a forward to port ${port} with no listener should fail with the runtime's error; got ${err.message}`);
      if (!err.message.includes(String(port))) throw new Error(`the forward's error does not name port ${port}: ${err.message}`);
    },
  }),
  criTest({
    name: 'streaming-port-forward-removed-pod',
    title: 'PortForward for a pod that was removed is answered NOT_FOUND',
    rpcs: ['PortForward'],
    async run({ ctx, cri, scope }) {
      const pod = await scope.runPod();
      await cri.runtime('StopPodSandbox', { pod_sandbox_id: pod.id }, { timeoutMs: 60_000, signal: ctx.signal });
      await cri.runtime('RemovePodSandbox', { pod_sandbox_id: pod.id }, { timeoutMs: 60_000, signal: ctx.signal });
      const err = await failureOf(() => criPortForward(cri, pod.id, PORT, streamOpts(ctx)).then((c) => c.destroy()), 'PortForward for a removed pod');
      if (!(err instanceof CriRpcError)) throw new Error(`PortForward for a removed pod should be refused by the RPC (NOT_FOUND); it failed later instead: ${err.message}`);
      if (err.codeName !== 'NOT_FOUND') throw new Error(`PortForward for a removed pod: expected NOT_FOUND, got ${err.codeName}: ${err.details}`);
    },
  }),
];
