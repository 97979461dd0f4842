import type { SerialChunk } from '../cloud/cloud-provider.js';
import { CloudApiError } from '../cloud/cloud-provider.js';

/** Bytes of the last delivered output kept to recognise the same log on the next read. */
const TAIL_BYTES = 256;
/**
 * A replaced log loses an unknown number of bytes (those written after the last read): the gap is
 * recorded with this least size, so the lifecycle marks it in the console, never hides it.
 */
export const UNKNOWN_LOSS_BYTES = 1;

/**
 * Maps the boot-diagnostics serial log, which Azure serves whole on every read, onto the one
 * growing byte stream with offsets that the lifecycle reads (GCE's semantics): each read returns
 * only what is new. When the log no longer continues what was read (it was replaced, or it only
 * keeps a tail), the last bytes read are looked for in it: found, reading continues after them;
 * not found, the new log's output starts after a gap.
 */
export class SerialLogStream {
  /** The stream offset of the current log's first byte. */
  private base = 0;
  /** How far into the current log output has been delivered (always on a UTF-8 boundary). */
  private seen = 0;
  /** The current log's bytes just before `seen`. */
  private tail = Buffer.alloc(0);

  consume(log: Buffer, start: number): SerialChunk {
    // An empty log tells nothing: a read served empty, or a replaced log not written yet. Nothing is
    // new and nothing is known lost until it has bytes (follow() then decides which it was).
    if (log.length === 0) return { contents: '', start, next: start };
    this.follow(log);
    const end = utf8Boundary(log);
    const pos = start - this.base;
    // Asked for output before the current log begins: it is gone, and the reply starts later.
    const from = Math.min(Math.max(pos, 0), end);
    if (end > this.seen) {
      this.seen = end;
      this.tail = Buffer.from(log.subarray(Math.max(0, end - TAIL_BYTES), end));
    }
    const chunkStart = Math.max(start, this.base + from);
    // A replaced log says nothing of what it dropped: the gap has no byte count.
    return { contents: log.toString('utf8', from, end), start: chunkStart, next: Math.max(start, this.base + end), ...(chunkStart > start ? { lossUnknown: true } : {}) };
  }

  /** Re-anchors the stream when `log` is not the log read last time grown at its end. */
  private follow(log: Buffer): void {
    if (this.seen === 0) return;
    const t = this.tail;
    if (log.length >= this.seen && log.subarray(this.seen - t.length, this.seen).equals(t)) return;
    // The first match: output delivered twice is better than output skipped.
    const at = t.length > 0 ? log.indexOf(t) : -1;
    const streamEnd = this.base + this.seen;
    if (at >= 0) {
      // The same output, shifted: continue right after what was delivered.
      this.seen = at + t.length;
      this.base = streamEnd - this.seen;
    } else {
      this.base = streamEnd + UNKNOWN_LOSS_BYTES;
      this.seen = 0;
      this.tail = Buffer.alloc(0);
    }
  }
}

/** The length of `buf` without a trailing, incomplete UTF-8 sequence (it completes on a later read). */
export function utf8Boundary(buf: Buffer): number {
  const len = buf.length;
  let i = len - 1;
  let continuation = 0;
  while (i >= 0 && continuation < 3 && (buf[i]! & 0xc0) === 0x80) {
    i--;
    continuation++;
  }
  if (i < 0) return len;
  const lead = buf[i]!;
  const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return i + need > len ? i : len;
}

/** The expiry a SAS URI carries (`se=`), or undefined. Only the time is read: the URI itself is never kept in a message. */
export function sasExpiry(uri: string): Date | undefined {
  try {
    const se = new URL(uri).searchParams.get('se');
    const t = se ? new Date(se) : undefined;
    return t && !Number.isNaN(t.getTime()) ? t : undefined;
  } catch {
    return undefined;
  }
}

/** Refresh a SAS URI this long before it expires. */
const EXPIRY_MARGIN_MS = 60_000;

/**
 * The boot-diagnostics serial log of one VM, read through the SAS URI Azure hands out
 * (retrieveBootDiagnosticsData). The URI is asked for again only when it nears its expiry or a
 * read through it fails; it is a credential, so no message ever contains it.
 */
export class BootDiagnosticsSerial {
  private uri?: string;
  private expires?: Date;
  private readonly stream = new SerialLogStream();

  constructor(
    private readonly retrieveUri: () => Promise<string>,
    private readonly get: (uri: string, signal?: AbortSignal) => Promise<Buffer | undefined> = getLog,
  ) {}

  async read(start: number, signal?: AbortSignal): Promise<SerialChunk> {
    let fresh = false;
    if (!this.uri || (this.expires && this.expires.getTime() - Date.now() < EXPIRY_MARGIN_MS)) {
      await this.refresh();
      fresh = true;
    }
    let log: Buffer | undefined;
    try {
      log = await this.get(this.uri!, signal);
    } catch (err) {
      if (fresh || signal?.aborted) throw err;
      await this.refresh();
      log = await this.get(this.uri!, signal);
    }
    // No log yet (the VM has written nothing): nothing new.
    if (log === undefined) return { contents: '', start, next: start };
    return this.stream.consume(log, start);
  }

  private async refresh(): Promise<void> {
    this.uri = await this.retrieveUri();
    this.expires = sasExpiry(this.uri);
  }
}

/** GETs the log blob; undefined when it does not exist yet. Errors name the status, never the URI. */
async function getLog(uri: string, signal?: AbortSignal): Promise<Buffer | undefined> {
  let res: Response;
  try {
    res = await fetch(uri, { signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(60_000)]) : AbortSignal.timeout(60_000) });
  } catch (err) {
    if (signal?.aborted) throw err;
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new CloudApiError(`reading the boot diagnostics serial log: ${cause?.code ?? cause?.message ?? 'the request failed'}`, undefined, cause?.code, true);
  }
  if (res.status === 404) {
    await res.body?.cancel();
    return undefined;
  }
  if (!res.ok) {
    await res.body?.cancel();
    const code = res.headers.get('x-ms-error-code') ?? undefined;
    throw new CloudApiError(`reading the boot diagnostics serial log: HTTP ${res.status}${code ? ` ${code}` : ''}`, res.status, code, res.status === 429 || res.status >= 500);
  }
  return Buffer.from(await res.arrayBuffer());
}
