/**
 * Opening a CRI streaming URL as a WebSocket, and the errors of the streaming clients. The Exec,
 * Attach and PortForward clients (cri-streams.ts, cri-port-forward.ts) share it: the same upgrade,
 * the same refusals (404 for a used or expired token, 403 for no common subprotocol), and the same
 * rule that the one-time token never appears in a message.
 */
import type { IncomingMessage } from 'node:http';
import type WebSocket from 'ws';
import { redactStreamUrl, webSocketUrl, type StreamStatus } from './cri-stream-wire.js';
import { lazyRequire } from '../core/lazy-require.js';

// Loaded on the first stream: a run with no CRI endpoint never loads it.
const wsLib = lazyRequire<typeof WebSocket>('ws');

export type CriStreamErrorKind =
  /** Nothing answered at the URL (refused, unreachable, TLS). */
  | 'connect'
  /** 404: the token is unknown, used or expired. */
  | 'not-found'
  /** The server refused the upgrade (no common subprotocol, bad request). */
  | 'handshake'
  /** The stream or a wait ran past its deadline. */
  | 'timeout'
  /** The stream ended without what was awaited (no status, or the pattern never came). */
  | 'closed'
  /** The runtime said it failed: a Failure status other than an exit code, or port-forward error text. */
  | 'failure'
  /** The caller asked for something this stream cannot do (stdin not requested, resize without tty). */
  | 'usage';

/** A streaming-protocol failure; `url` is the streaming URL with its token redacted. */
export class CriStreamError extends Error {
  constructor(
    readonly kind: CriStreamErrorKind,
    readonly url: string,
    message: string,
    readonly details: { status?: StreamStatus; httpStatus?: number } = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CriStreamError';
  }
}

export interface StreamOptions {
  /** Deadline for the whole stream (exec, attach) or for opening it (port forward). */
  timeoutMs: number;
  signal?: AbortSignal;
  /** For an https URL: containerd's `enable_tls_streaming` without a key pair serves a self-signed certificate. */
  tls?: { ca?: string | Buffer; rejectUnauthorized?: boolean };
}

/**
 * Opens a WebSocket to a streaming URL with the given subprotocols; resolves once upgraded. An
 * HTTP answer instead of an upgrade becomes a CriStreamError naming its status and body.
 */
export function openStreamSocket(url: string, protocols: readonly string[], what: string, opts: StreamOptions): Promise<StreamSocket> {
  const shown = redactStreamUrl(url);
  opts.signal?.throwIfAborted();
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (err?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (err === undefined) resolve(socket);
      else {
        ws.terminate();
        reject(err);
      }
    };
    const ws = new (wsLib())(webSocketUrl(url), [...protocols], {
      perMessageDeflate: false, // the Go servers do not implement it
      followRedirects: false,
      handshakeTimeout: opts.timeoutMs,
      ca: opts.tls?.ca,
      rejectUnauthorized: opts.tls?.rejectUnauthorized,
    });
    const socket = bufferedSocket(ws);
    const timer = setTimeout(() => settle(new CriStreamError('timeout', shown, `${what} ${shown}: no WebSocket upgrade within ${opts.timeoutMs} ms`)), opts.timeoutMs);
    const onAbort = () => settle(opts.signal!.reason);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    ws.once('open', () => settle());
    ws.on('error', (err) => {
      const kind = /subprotocol|Invalid Sec-WebSocket/i.test(err.message) ? 'handshake' : /timed out/i.test(err.message) ? 'timeout' : 'connect';
      settle(new CriStreamError(kind, shown, `${what} ${shown}: ${err.message}`, {}, { cause: err }));
    });
    ws.once('unexpected-response', (_req, res: IncomingMessage) => {
      void readSmallBody(res).then((body) => {
        const code = res.statusCode ?? 0;
        const fix = code === 404 ? ' (tokens are one-time and expire, in containerd after 1 minute: call the RPC again and open its URL at once)' : '';
        const why = body ? `: ${body}` : '';
        settle(new CriStreamError(code === 404 ? 'not-found' : 'handshake', shown, `${what} ${shown}: HTTP ${code} instead of a WebSocket upgrade${why}${fix}`, { httpStatus: code }));
      });
    });
  });
}

/** An open streaming WebSocket whose early messages wait for their reader. */
export interface StreamSocket {
  ws: WebSocket;
  /** Hands over the messages so far, then each one as it comes, then the close. Call once. */
  listen(onMessage: (data: Buffer, isBinary: boolean) => void, onClose: (code: number) => void): void;
}

/**
 * The server writes as soon as the upgrade is done (the ready frame, then output), possibly in the
 * same packet as the 101: messages are queued from the start so none slip past before a reader.
 */
function bufferedSocket(ws: WebSocket): StreamSocket {
  let queue: [Buffer, boolean][] | undefined = [];
  let closed: number | undefined;
  let onMessage: ((data: Buffer, isBinary: boolean) => void) | undefined;
  let onClose: ((code: number) => void) | undefined;
  ws.on('message', (data: Buffer, isBinary: boolean) => (onMessage ? onMessage(data, isBinary) : queue?.push([data, isBinary])));
  ws.once('close', (code: number) => (onClose ? onClose(code) : (closed = code)));
  return {
    ws,
    listen(message, close) {
      for (const [data, isBinary] of queue ?? []) message(data, isBinary);
      queue = undefined;
      onMessage = message;
      if (closed !== undefined) close(closed);
      else onClose = close;
    },
  };
}

/** The first line or so of a refusal's body (Go's http.Error text), for the message. */
async function readSmallBody(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  const done = new Promise<void>((resolve) => {
    res.on('data', (c: Buffer) => {
      chunks.push(c);
      size += c.length;
      if (size > 1024) resolve();
    });
    res.once('end', resolve);
    res.once('error', () => resolve());
    setTimeout(resolve, 1_000).unref();
  });
  await done;
  res.destroy();
  return Buffer.concat(chunks).toString('utf8').trim().slice(0, 300);
}
