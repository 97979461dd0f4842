/**
 * Exec and Attach over a CRI runtime's streaming server: the URL that the Exec or Attach RPC
 * returned, opened as a WebSocket with the kubelet's `v4.channel.k8s.io` channels (see
 * cri-stream-wire.ts for what the servers accept and why there is no SPDY here).
 *
 * A test writes stdin, reads stdout/stderr as they arrive (`waitFor` is expect-style: each match
 * consumes the output up to its end), sends terminal sizes, and awaits the end: the status the
 * server sends on the error channel, with the exit code it carries. Attach has no exit code of its
 * own; it ends when the container's output ends (the container exited) or the client closes.
 */
import { StringDecoder } from 'node:string_decoder';
import type WebSocket from 'ws';
import type { CriChannel } from './cri.js';
import { CriStreamError, openStreamSocket, type CriStreamErrorKind, type StreamOptions, type StreamSocket } from './cri-stream-socket.js';
import { lazyRequire } from '../core/lazy-require.js';

// Loaded on the first stream: a run with no CRI endpoint never loads it.
const wsLib = lazyRequire<typeof WebSocket>('ws');
import {
  Channel,
  closeStdinFrame,
  decodeFrame,
  encodeFrame,
  EXEC_PROTOCOLS,
  exitCodeOf,
  parseStatus,
  redactStreamUrl,
  resizeFrame,
  TTY_EOF,
  type StreamStatus,
  type TerminalSize,
} from './cri-stream-wire.js';

export { CriStreamError, type CriStreamErrorKind, type StreamOptions } from './cri-stream-socket.js';

export interface RemoteCommandOptions extends StreamOptions {
  /** The request set stdin: `write` and `closeStdin` are allowed. */
  stdin?: boolean;
  /** The request set tty: output is one merged stream, `resize` is allowed, Ctrl-D is EOF. */
  tty?: boolean;
}

export type OutputStream = 'stdout' | 'stderr';

export interface RemoteCommandResult {
  /** The exit code (exec); null for attach, and when this side closed the stream. */
  exitCode: number | null;
  /** The status the server sent; null when this side closed the stream first. */
  status: StreamStatus | null;
  stdout: string;
  stderr: string;
}

/** How long `waitFor` waits when not told. */
const DEFAULT_WAIT_MS = 30_000;
/** How much output an error message quotes. */
const TAIL_CHARS = 400;


interface Waiter {
  stream: OutputStream;
  pattern: RegExp;
  resolve: (m: RegExpExecArray) => void;
  reject: (err: unknown) => void;
  timer: NodeJS.Timeout;
}

/** One exec or attach session. */
export class RemoteCommand {
  private readonly chunks: Record<OutputStream, Buffer[]> = { stdout: [], stderr: [] };
  private readonly text: Record<OutputStream, string> = { stdout: '', stderr: '' };
  private readonly decoders: Record<OutputStream, StringDecoder> = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
  /** Where the next `waitFor` starts looking, per stream. */
  private readonly cursor: Record<OutputStream, number> = { stdout: 0, stderr: 0 };
  private readonly statusBytes: Buffer[] = [];
  private readonly listeners = new Set<(stream: OutputStream, chunk: Buffer) => void>();
  private readonly waiters = new Set<Waiter>();
  private readonly finished: Promise<RemoteCommandResult>;
  private settle!: { resolve: (r: RemoteCommandResult) => void; reject: (err: unknown) => void };
  private isEnded = false;
  private closedByUs = false;
  private stdinClosed = false;
  private readonly timer: NodeJS.Timeout;
  private readonly shown: string;

  private readonly ws: WebSocket;

  constructor(
    socket: StreamSocket,
    private readonly what: 'exec' | 'attach',
    url: string,
    private readonly opts: RemoteCommandOptions,
  ) {
    this.ws = socket.ws;
    this.shown = redactStreamUrl(url);
    this.finished = new Promise<RemoteCommandResult>((resolve, reject) => (this.settle = { resolve, reject }));
    // A test that never awaits the end must not crash the run with an unhandled rejection.
    this.finished.catch(() => undefined);
    this.timer = setTimeout(() => this.fail(this.error('timeout', `no end within ${opts.timeoutMs} ms`)), opts.timeoutMs);
    opts.signal?.addEventListener('abort', this.onAbort, { once: true });
    // Errors after the upgrade are followed by 'close' (openStreamSocket keeps an 'error' listener).
    socket.listen(
      (data, isBinary) => this.onMessage(data, isBinary),
      (code) => this.onClose(code),
    );
  }

  /** The negotiated subprotocol (`v4.channel.k8s.io` with containerd). */
  get protocol(): string {
    return this.ws.protocol;
  }

  get stdout(): string {
    return this.text.stdout;
  }

  get stderr(): string {
    return this.text.stderr;
  }

  /** The raw bytes of one output stream so far. */
  bytes(stream: OutputStream): Buffer {
    return Buffer.concat(this.chunks[stream]);
  }

  /** Calls `listener` with each chunk of output as it arrives; returns the unsubscribe. */
  onOutput(listener: (stream: OutputStream, chunk: Buffer) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  write(data: string | Uint8Array): void {
    if (!this.opts.stdin) throw this.error('usage', 'stdin was not requested: set stdin in the request and open with { stdin: true } (the server drops stdin it was not asked for)');
    if (this.stdinClosed) throw this.error('usage', 'stdin is already closed');
    this.send(encodeFrame(Channel.stdin, data));
  }

  resize(size: TerminalSize): void {
    if (!this.opts.tty) throw this.error('usage', 'resize needs a terminal: set tty in the request and open with { tty: true }');
    this.send(resizeFrame(size));
  }

  /**
   * Ends stdin. v5 half-closes the channel; over v4 a terminal gets Ctrl-D (EOF for a program
   * reading at the start of a line); v4 without a terminal has no way to do it without ending the
   * whole session, so it throws rather than lose the output and status.
   */
  closeStdin(): void {
    if (!this.opts.stdin) throw this.error('usage', 'stdin was not requested');
    if (this.stdinClosed) return;
    if (this.protocol.startsWith('v5.')) this.send(closeStdinFrame());
    else if (this.opts.tty) this.send(encodeFrame(Channel.stdin, Uint8Array.of(TTY_EOF)));
    else throw this.error('usage', `${this.protocol} cannot close stdin alone (v5.channel.k8s.io can; this server did not accept it): make the command end by itself, or use a tty and closeStdin() sends Ctrl-D`);
    this.stdinClosed = true;
  }

  /**
   * Resolves with the first match of `pattern` in `stream` after the previous match (the match
   * consumes the output up to its end); rejects when the stream ends or `timeoutMs` passes first.
   */
  waitFor(pattern: RegExp, opts: { stream?: OutputStream; timeoutMs?: number } = {}): Promise<RegExpExecArray> {
    const stream = opts.stream ?? 'stdout';
    // A global or sticky regexp keeps state between exec calls; each search here starts afresh.
    const re = new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, ''));
    const found = this.match(stream, re);
    if (found) return Promise.resolve(found);
    if (this.isEnded) return Promise.reject(this.error('closed', `${stream} ended without ${pattern}; ${this.tails()}`));
    const timeoutMs = opts.timeoutMs ?? DEFAULT_WAIT_MS;
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        stream,
        pattern: re,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          reject(this.error('timeout', `${pattern} did not appear on ${stream} within ${timeoutMs} ms; ${this.tails()}`));
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  /** The end: the status and exit code (exec), with all the output. */
  wait(): Promise<RemoteCommandResult> {
    return this.finished;
  }

  /** Closes the session from this side (stdin gets EOF; the status, if any comes, is not awaited). */
  close(): void {
    if (this.isEnded) return;
    this.closedByUs = true;
    this.ws.close(1000);
  }

  private send(frame: Buffer): void {
    if (this.isEnded || this.ws.readyState !== wsLib().OPEN) throw this.error('closed', 'the stream has ended');
    this.ws.send(frame);
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    // Only binary subprotocols are offered; a text frame would be a base64 protocol we did not ask for.
    if (!isBinary) return;
    const frame = decodeFrame(data);
    if (!frame || frame.payload.length === 0) return; // the server's "ready" frame is empty
    if (frame.channel === Channel.error) this.statusBytes.push(Buffer.from(frame.payload));
    else if (frame.channel === Channel.stdout || frame.channel === Channel.stderr) this.output(frame.channel === Channel.stdout ? 'stdout' : 'stderr', Buffer.from(frame.payload));
  }

  private output(stream: OutputStream, chunk: Buffer): void {
    this.chunks[stream].push(chunk);
    this.text[stream] += this.decoders[stream].write(chunk);
    for (const l of this.listeners) l(stream, chunk);
    for (const w of [...this.waiters]) {
      if (w.stream !== stream) continue;
      const m = this.match(stream, w.pattern);
      if (!m) continue;
      clearTimeout(w.timer);
      this.waiters.delete(w);
      w.resolve(m);
    }
  }

  private match(stream: OutputStream, re: RegExp): RegExpExecArray | undefined {
    const from = this.cursor[stream];
    const m = re.exec(this.text[stream].slice(from));
    if (!m) return undefined;
    this.cursor[stream] = from + m.index + m[0].length;
    return m;
  }

  private onClose(code: number): void {
    for (const s of ['stdout', 'stderr'] as const) this.text[s] += this.decoders[s].end();
    const status = parseStatus(Buffer.concat(this.statusBytes));
    const result = (exitCode: number | null): RemoteCommandResult => ({ exitCode, status: status ?? null, stdout: this.text.stdout, stderr: this.text.stderr });
    if (!status) {
      if (this.closedByUs) this.finish(result(null));
      else this.fail(this.error('closed', `the stream closed (WebSocket code ${code}) without a status; ${this.tails()}`));
      return;
    }
    const exitCode = exitCodeOf(status);
    if (this.what === 'attach' && status.status === 'Success') this.finish(result(null));
    else if (this.what === 'exec' && exitCode !== undefined) this.finish(result(exitCode));
    else this.fail(this.error('failure', `the runtime said ${status.reason ?? status.status}: ${status.message ?? '(no message)'}`, status));
  }

  private finish(result: RemoteCommandResult): void {
    if (this.isEnded) return;
    this.end();
    for (const w of this.waiters) w.reject(this.error('closed', `${w.stream} ended without ${w.pattern}; ${this.tails()}`));
    this.waiters.clear();
    this.settle.resolve(result);
  }

  private fail(err: unknown): void {
    if (this.isEnded) return;
    this.end();
    for (const w of this.waiters) w.reject(err);
    this.waiters.clear();
    this.settle.reject(err);
  }

  private end(): void {
    this.isEnded = true;
    clearTimeout(this.timer);
    for (const w of this.waiters) clearTimeout(w.timer);
    this.opts.signal?.removeEventListener('abort', this.onAbort);
    if (this.ws.readyState === wsLib().OPEN || this.ws.readyState === wsLib().CONNECTING) this.ws.terminate();
  }

  private readonly onAbort = () => this.fail(this.opts.signal!.reason);

  private tails(): string {
    const tail = (s: string) => JSON.stringify(s.slice(-TAIL_CHARS));
    return `stdout so far: ${tail(this.text.stdout)}, stderr: ${tail(this.text.stderr)}`;
  }

  private error(kind: CriStreamErrorKind, why: string, status?: StreamStatus): CriStreamError {
    return new CriStreamError(kind, this.shown, `${this.what} ${this.shown}: ${why}`, status ? { status } : {});
  }
}

/** Opens an Exec URL. The options must match the ExecRequest (the server takes them from it). */
export async function openExec(url: string, opts: RemoteCommandOptions): Promise<RemoteCommand> {
  return new RemoteCommand(await openStreamSocket(url, EXEC_PROTOCOLS, 'exec', opts), 'exec', url, opts);
}

/** Opens an Attach URL. The options must match the AttachRequest. */
export async function openAttach(url: string, opts: RemoteCommandOptions): Promise<RemoteCommand> {
  return new RemoteCommand(await openStreamSocket(url, EXEC_PROTOCOLS, 'attach', opts), 'attach', url, opts);
}

export interface StreamRequest {
  container_id: string;
  stdin?: boolean;
  tty?: boolean;
}

/**
 * Exec RPC, then its URL opened at once (the token expires): stdout always, stderr unless tty
 * (a terminal has one output stream; the runtime refuses both).
 */
export async function criExec(channel: CriChannel, request: StreamRequest & { cmd: string[] }, opts: StreamOptions): Promise<RemoteCommand> {
  const { stdin = false, tty = false } = request;
  const res = await channel.runtime<{ url: string }>('Exec', { ...request, stdin, tty, stdout: true, stderr: !tty }, { signal: opts.signal });
  return openExec(channel.streamUrl(res.url), { ...opts, stdin, tty });
}

/** Attach RPC, then its URL opened at once; the flags must fit the container's own stdin/tty. */
export async function criAttach(channel: CriChannel, request: StreamRequest, opts: StreamOptions): Promise<RemoteCommand> {
  const { stdin = false, tty = false } = request;
  const res = await channel.runtime<{ url: string }>('Attach', { ...request, stdin, tty, stdout: true, stderr: !tty }, { signal: opts.signal });
  return openAttach(channel.streamUrl(res.url), { ...opts, stdin, tty });
}
