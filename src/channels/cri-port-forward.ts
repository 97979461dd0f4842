/**
 * PortForward over a CRI runtime's streaming server: one TCP connection to a port inside the pod's
 * network namespace, carried by the WebSocket `v4.channel.k8s.io` port-forward channels (data 2i,
 * error 2i+1, each opened by the port as 2 bytes little-endian; see cri-stream-wire.ts).
 *
 * The stream is a Node Duplex. The protocol has no half-close: `end()` stops writing here but the
 * pod's side sees no EOF; the connection ends when the pod's side closes (the readable side ends)
 * or when this side destroys the stream. Text on the error channel destroys it with a
 * CriStreamError ('failure'), e.g. nothing listening on the port inside the pod.
 */
import { Duplex } from 'node:stream';
import type WebSocket from 'ws';
import type { CriChannel } from './cri.js';
import { decodeFrame, encodeFrame, PORT_FORWARD_PROTOCOLS, redactStreamUrl, splitPortPrefix } from './cri-stream-wire.js';
import { CriStreamError, openStreamSocket, type StreamOptions, type StreamSocket } from './cri-stream-socket.js';
import { lazyRequire } from '../core/lazy-require.js';

// Loaded on the first stream: a run with no CRI endpoint never loads it.
const wsLib = lazyRequire<typeof WebSocket>('ws');

export class PortForwardStream extends Duplex {
  /** Resolves once the server has named this port's channels; rejects if it never does. */
  readonly ready: Promise<void>;
  private readonly ws: WebSocket;
  private readonly shown: string;
  /** The data channel of this port (2 × its index in the request); undefined until the server names it. */
  private dataChannel: number | undefined;
  /** Ports the server named, by data channel, from the first frame of each channel. */
  private readonly named = new Map<number, number>();
  private readonly opened = new Set<number>();
  private errorText = '';
  private markReady!: { resolve: () => void; reject: (err: unknown) => void };
  private paused = false;

  constructor(
    socket: StreamSocket,
    url: string,
    readonly port: number,
  ) {
    super();
    this.ws = socket.ws;
    this.shown = redactStreamUrl(url);
    this.ready = new Promise<void>((resolve, reject) => (this.markReady = { resolve, reject }));
    this.ready.catch(() => undefined);
    socket.listen(
      (data, isBinary) => this.onMessage(data, isBinary),
      (code) => this.onClose(code),
    );
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    if (this.dataChannel === undefined || this.ws.readyState !== wsLib().OPEN) {
      callback(this.error('closed', 'the connection is not open'));
      return;
    }
    this.ws.send(encodeFrame(this.dataChannel, chunk), callback);
  }

  override _final(callback: (err?: Error | null) => void): void {
    // No half-close in the protocol: the pod's side keeps reading until the connection ends.
    callback();
  }

  override _read(): void {
    if (this.paused) {
      this.paused = false;
      this.ws.resume();
    }
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.markReady.reject(err ?? this.error('closed', 'destroyed before the server named the port'));
    if (this.ws.readyState === wsLib().OPEN) this.ws.close(1000);
    else if (this.ws.readyState === wsLib().CONNECTING) this.ws.terminate();
    callback(err);
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    const frame = isBinary ? decodeFrame(data) : undefined;
    if (!frame) return;
    let payload = frame.payload;
    if (!this.opened.has(frame.channel)) {
      // Each channel's first frame names its port.
      const prefix = splitPortPrefix(payload);
      if (!prefix) return;
      this.opened.add(frame.channel);
      payload = prefix.rest;
      if (frame.channel % 2 === 0) {
        this.named.set(frame.channel, prefix.port);
        if (prefix.port === this.port && this.dataChannel === undefined) {
          this.dataChannel = frame.channel;
          this.markReady.resolve();
        }
      }
    }
    if (payload.length === 0 || this.dataChannel === undefined) return;
    if (frame.channel === this.dataChannel) {
      if (!this.push(Buffer.from(payload)) && !this.paused) {
        this.paused = true;
        this.ws.pause();
      }
    } else if (frame.channel === this.dataChannel + 1) {
      this.errorText += payload.toString('utf8');
      this.destroy(this.error('failure', `the runtime said: ${this.errorText.trim()}`));
    }
  }

  private onClose(code: number): void {
    if (this.dataChannel === undefined) {
      const ports = [...this.named.values()];
      const why = ports.length === 0
        ? `the stream closed (WebSocket code ${code}) before naming any port: does the PortForwardRequest list port ${this.port}? (containerd takes the ports from the request, not the URL)`
        : `the request forwards port(s) ${ports.join(', ')}, not ${this.port}`;
      this.destroy(this.error('closed', why));
      return;
    }
    if (!this.destroyed) this.push(null);
  }

  private error(kind: 'closed' | 'failure', why: string): CriStreamError {
    return new CriStreamError(kind, this.shown, `port-forward ${this.shown} (port ${this.port}): ${why}`);
  }
}

/**
 * Opens a PortForward URL and returns the stream for `port` once the server has named its
 * channels. `timeoutMs` bounds the opening; the connection itself lasts until either side ends it.
 */
export async function openPortForward(url: string, port: number, opts: StreamOptions): Promise<PortForwardStream> {
  if (!Number.isInteger(port) || port < 1 || port > 0xffff) throw new RangeError(`port must be an integer from 1 to 65535, not ${port}`);
  const socket = await openStreamSocket(url, PORT_FORWARD_PROTOCOLS, 'port-forward', opts);
  const stream = new PortForwardStream(socket, url, port);
  // Until the caller holds the stream, a failure reaches it through `ready`, not an 'error' event.
  const untilReturned = () => undefined;
  stream.on('error', untilReturned);
  const onAbort = () => stream.destroy(opts.signal!.reason as Error);
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  stream.once('close', () => opts.signal?.removeEventListener('abort', onAbort));
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CriStreamError('timeout', redactStreamUrl(url), `port-forward ${redactStreamUrl(url)}: the server did not name port ${port} within ${opts.timeoutMs} ms`)), opts.timeoutMs);
  });
  try {
    await Promise.race([stream.ready, timeout]);
    // The port's prefix and a failure (nothing listening) can come in one packet: then the failure is the answer.
    if (stream.errored) throw stream.errored;
    stream.off('error', untilReturned);
    return stream;
  } catch (err) {
    // The listener stays: the failed stream may still emit its error on a later tick.
    stream.destroy();
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** PortForward RPC for one port of a pod, then its URL opened at once (the token expires). */
export async function criPortForward(channel: CriChannel, podSandboxId: string, port: number, opts: StreamOptions): Promise<PortForwardStream> {
  const res = await channel.runtime<{ url: string }>('PortForward', { pod_sandbox_id: podSandboxId, port: [port] }, { signal: opts.signal });
  return openPortForward(channel.streamUrl(res.url), port, opts);
}
