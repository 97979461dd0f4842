/**
 * The wire format of the QEMU Guest Agent protocol (QGA), pure so it is unit-tested byte by byte:
 * commands are JSON objects `{"execute", "arguments"}`; replies are one JSON object per line,
 * `{"return": ...}` or `{"error": {"class", "desc"}}`. To resynchronise, the client sends a 0xFF
 * byte (which flushes the agent's parser) and `guest-sync-delimited`, whose reply the agent
 * precedes with a 0xFF sentinel: everything before it is stale and discarded.
 */

/** The byte both sides use to reset the other's parser (never valid in UTF-8 JSON). */
export const SENTINEL = 0xff;
/** A reply line longer than this is not QGA: 48 MiB of file data base64-encoded, plus slack. */
export const MAX_REPLY_BYTES = 80 * 1024 * 1024;

export type QgaReply =
  | { kind: 'return'; value: unknown }
  | { kind: 'error'; errorClass: string; desc: string }
  /** A line that is not a QGA reply, kept (shortened) for the error message. */
  | { kind: 'garbled'; text: string };

/** One command, framed for the wire. */
export function encodeCommand(execute: string, args?: Record<string, unknown>): Buffer {
  const cmd = args && Object.keys(args).length > 0 ? { execute, arguments: args } : { execute };
  return Buffer.from(JSON.stringify(cmd) + '\n', 'utf8');
}

/** The resynchronisation request: a parser-flushing 0xFF, then `guest-sync-delimited`. */
export function encodeSync(id: number): Buffer {
  return Buffer.concat([Buffer.from([SENTINEL]), encodeCommand('guest-sync-delimited', { id })]);
}

/** Reads one reply line. */
export function parseReply(line: string): QgaReply {
  const garbled = (): QgaReply => ({ kind: 'garbled', text: line.length > 120 ? `${line.slice(0, 120)}...` : line });
  let msg: unknown;
  try {
    msg = JSON.parse(line);
  } catch {
    return garbled();
  }
  if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) return garbled();
  const obj = msg as Record<string, unknown>;
  if ('return' in obj) return { kind: 'return', value: obj.return };
  const error = obj.error as Record<string, unknown> | undefined;
  if (error && typeof error === 'object' && typeof error.desc === 'string') {
    return { kind: 'error', errorClass: typeof error.class === 'string' ? error.class : 'GenericError', desc: error.desc };
  }
  return garbled();
}

/**
 * Splits the agent's byte stream into replies. A 0xFF anywhere resets it (a partial line before it
 * is dropped); after `expectSentinel()` whole lines are dropped too until the sentinel comes.
 */
export class ReplyFramer {
  /** Bytes of an unfinished line, kept as chunks: a 16 MiB reply must not be re-copied per chunk. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private awaitingSentinel = false;

  /** Call when sending a sync: what arrives before the agent's sentinel is stale. */
  expectSentinel(): void {
    this.awaitingSentinel = true;
    this.pending = [];
    this.pendingBytes = 0;
  }

  get waitingForSentinel(): boolean {
    return this.awaitingSentinel;
  }

  push(chunk: Buffer): QgaReply[] {
    if (chunk.indexOf(0x0a) < 0 && chunk.indexOf(SENTINEL) < 0) {
      if (this.awaitingSentinel) return [];
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      return this.overflow();
    }
    const replies: QgaReply[] = [];
    let data = this.pending.length > 0 ? Buffer.concat([...this.pending, chunk]) : chunk;
    for (;;) {
      const sentinel = data.indexOf(SENTINEL);
      const newline = data.indexOf(0x0a);
      if (sentinel >= 0 && (newline < 0 || sentinel < newline)) {
        data = data.subarray(sentinel + 1);
        this.awaitingSentinel = false;
        continue;
      }
      if (newline < 0) break;
      const line = data.subarray(0, newline).toString('utf8').trim();
      data = data.subarray(newline + 1);
      if (!this.awaitingSentinel && line) replies.push(parseReply(line));
    }
    // Copy the rest: a subarray would pin the whole chunk it came from.
    this.pending = this.awaitingSentinel || data.length === 0 ? [] : [Buffer.from(data)];
    this.pendingBytes = this.pending[0]?.length ?? 0;
    return [...replies, ...this.overflow()];
  }

  private overflow(): QgaReply[] {
    if (this.pendingBytes <= MAX_REPLY_BYTES) return [];
    const text = `${this.pendingBytes} bytes without a line end`;
    this.pending = [];
    this.pendingBytes = 0;
    return [{ kind: 'garbled', text }];
  }
}

/** QGA carries bytes as base64 strings. */
export const toBase64 = (data: Buffer | string): string => Buffer.from(data).toString('base64');

/** Strict: a reply whose base64 does not round-trip is garbled, not silently truncated. */
export function fromBase64(text: string): Buffer | undefined {
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text.replace(/\s/g, '') ? bytes : undefined;
}
