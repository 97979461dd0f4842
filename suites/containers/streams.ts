import { PassThrough, Readable } from 'node:stream';
import type Dockerode from 'dockerode';

/**
 * Text that arrives over time (a container's stdout, an exec's TTY) and can be waited on: tests
 * wait for what they expect to see, never for a fixed time.
 */
export class Collector {
  private data = '';
  private waiters = new Set<() => void>();
  private closed = false;

  get text(): string {
    return this.data;
  }

  push(chunk: Buffer | string): void {
    this.data += chunk.toString();
    for (const w of this.waiters) w();
  }

  end(): void {
    this.closed = true;
    for (const w of this.waiters) w();
  }

  /** Resolves with the match once `pattern` appears; rejects on abort, on `timeoutMs`, or when the stream ends first. */
  waitFor(pattern: RegExp | string, signal: AbortSignal, timeoutMs = 60_000): Promise<string> {
    const find = () => {
      if (typeof pattern === 'string') return this.data.includes(pattern) ? pattern : undefined;
      return pattern.exec(this.data)?.[0];
    };
    return new Promise<string>((resolve, reject) => {
      const finish = (err?: Error, found?: string) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        signal.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve(found!);
      };
      const check = () => {
        const found = find();
        if (found !== undefined) finish(undefined, found);
        else if (this.closed) finish(new Error(`the stream ended without ${String(pattern)}; it held ${JSON.stringify(this.data.slice(-500))}`));
      };
      const onAbort = () => finish(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      const timer = setTimeout(() => finish(new Error(`${String(pattern)} did not appear within ${timeoutMs} ms; the stream held ${JSON.stringify(this.data.slice(-500))}`)), timeoutMs);
      this.waiters.add(check);
      signal.addEventListener('abort', onAbort, { once: true });
      check();
    });
  }
}

export interface DemuxedStream {
  stdout: Collector;
  stderr: Collector;
  /** Resolves when the engine ends the stream. */
  ended: Promise<void>;
}

/**
 * Splits a non-TTY attach/exec/logs stream into stdout and stderr with docker-modem's decoder of
 * the engine's 8-byte frame headers. With `tty`, the stream is raw and all of it is stdout.
 */
export function demux(api: Dockerode, stream: NodeJS.ReadableStream, tty = false): DemuxedStream {
  const stdout = new Collector();
  const stderr = new Collector();
  const ended = new Promise<void>((resolve, reject) => {
    const done = () => {
      stdout.end();
      stderr.end();
      resolve();
    };
    stream.once('end', done);
    stream.once('close', done);
    stream.once('error', (err: Error) => {
      stdout.end();
      stderr.end();
      reject(err);
    });
  });
  if (tty) stream.on('data', (c: Buffer) => stdout.push(c));
  else {
    const out = new PassThrough().on('data', (c: Buffer) => stdout.push(c));
    const err = new PassThrough().on('data', (c: Buffer) => stderr.push(c));
    api.modem.demuxStream(stream, out, err);
  }
  return { stdout, stderr, ended };
}

/** Demultiplexes a whole log body (what `logs` returns when not following). */
export async function demuxBuffer(api: Dockerode, body: Buffer | string, tty = false): Promise<{ stdout: string; stderr: string }> {
  const buf = typeof body === 'string' ? Buffer.from(body, 'binary') : body;
  const d = demux(api, Readable.from([buf]), tty);
  await d.ended;
  return { stdout: d.stdout.text, stderr: d.stderr.text };
}

/** A log line as the engine gives it with `timestamps`: an RFC 3339 time with up to nanoseconds, a space, the text. */
export interface TimestampedLine {
  time: string;
  /** Nanoseconds since the epoch: Date keeps only milliseconds, and lines a few microseconds apart must still order. */
  ns: bigint;
  text: string;
}

const RFC3339 = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2}) (.*)$/;

/** Parses one `timestamps` log line; undefined when it does not start with an RFC 3339 time and a space. */
export function parseTimestamped(line: string): TimestampedLine | undefined {
  const m = RFC3339.exec(line);
  if (!m) return undefined;
  const [, base, frac = '', zone, text] = m;
  const ms = Date.parse(`${base}${zone}`);
  if (Number.isNaN(ms)) return undefined;
  return { time: line.slice(0, line.length - text!.length - 1), ns: BigInt(ms) * 1_000_000n + BigInt(frac.padEnd(9, '0')), text: text! };
}

/** An engine time (`State.StartedAt`, a log timestamp) in nanoseconds since the epoch. */
export function engineTimeNs(time: string): bigint {
  const parsed = parseTimestamped(`${time} `);
  if (!parsed) throw new Error(`not an RFC 3339 time: ${JSON.stringify(time)}`);
  return parsed.ns;
}

/** Polls `probe` until it returns a value other than undefined; fails naming `what` after `timeoutMs`. */
export async function pollUntil<T>(what: string, probe: () => Promise<T | undefined>, signal: AbortSignal, timeoutMs = 60_000, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    signal.throwIfAborted();
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not so within ${timeoutMs} ms${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Follows a container's logs from its start (stdout and stderr apart) until it exits or `signal` aborts. */
export async function followLogs(api: Dockerode, container: Dockerode.Container, signal: AbortSignal, opts: { tty?: boolean; timestamps?: boolean } = {}): Promise<DemuxedStream> {
  const stream = await container.logs({ follow: true, stdout: true, stderr: true, timestamps: opts.timestamps ?? false, abortSignal: signal });
  return demux(api, stream, opts.tty);
}
