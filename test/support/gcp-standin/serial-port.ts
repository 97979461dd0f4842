import { open } from 'node:fs/promises';
import { fail } from './google-errors.js';

export interface SerialRead {
  contents: string;
  start: number;
  next: number;
}

/**
 * instances.getSerialPortOutput over a QEMU `-serial file:` log, with the documented semantics:
 * only the last `window` bytes are retained (1 MB on GCE); a `start` before the oldest retained
 * byte is moved up to it and the answer's `start` says so; a negative `start` counts back from the
 * newest byte (bounded by the window); `next` is the position just after the returned contents.
 * Positions count bytes of output since boot. Contents end on a whole UTF-8 character: a
 * multi-byte character QEMU has only half written is left for the next read.
 */
export async function readSerialWindow(file: string | undefined, window: number, startParam: string | null): Promise<SerialRead> {
  const asked = startParam === null || startParam === '' ? 0 : Number(startParam);
  if (!Number.isSafeInteger(asked)) fail(400, `Invalid value for field 'start': '${startParam}'. Must be an integer.`);
  const fh = file ? await open(file, 'r').catch(() => undefined) : undefined;
  try {
    const size = fh ? (await fh.stat()).size : 0;
    const oldest = Math.max(0, size - window);
    const start = asked < 0 ? Math.max(oldest, size + asked) : Math.max(oldest, asked);
    if (!fh || start >= size) return { contents: '', start, next: start };
    const buf = Buffer.alloc(size - start);
    const { bytesRead } = await fh.read(buf, 0, buf.length, start);
    const end = wholeCharacters(buf, bytesRead);
    return { contents: buf.subarray(0, end).toString('utf8'), start, next: start + end };
  } finally {
    await fh?.close();
  }
}

/** How many of the first `n` bytes end on a character boundary. */
function wholeCharacters(buf: Buffer, n: number): number {
  for (let back = 1; back <= Math.min(3, n); back++) {
    const b = buf[n - back]!;
    if ((b & 0xc0) === 0x80) continue; // a continuation byte: look further back for the lead
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return need > back ? n - back : n;
  }
  return n;
}
