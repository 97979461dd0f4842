import { open } from 'node:fs/promises';

/** What one GetConsoleOutput answer holds: the bytes (base64 on the wire) and when they were taken. */
export interface ConsoleReply {
  output?: Buffer;
  timestamp: Date;
}

/** EC2 keeps (and returns) at most 64 KB of console output. */
export const CONSOLE_LIMIT = 64 * 1024;

/**
 * An instance's console as GetConsoleOutput serves it, over QEMU's serial log file.
 *
 * EC2 documents two views. By default, the output "posted shortly after an instance transition
 * state (start, stop, reboot, or terminate)": here `post()` is called a few seconds after the
 * instance reaches `running` and again when it stops or terminates, and freezes up to 64 KiB of
 * the log as it was then; until the first post there is no output. Which 64 KiB is `posted`:
 * 'head' (default) keeps the first 64 KiB, the worst case for a caller (the end of a long boot
 * is never in the posted view), 'tail' the most recent 64 KiB as the documentation words it.
 * With `Latest=true` it is the most recent 64 KiB of the log at the moment of the call.
 */
export class ConsoleOutput {
  private posted?: ConsoleReply;

  constructor(readonly path: string, private readonly postedWindow: 'head' | 'tail') {}

  async post(): Promise<void> {
    const output = await readWindow(this.path, this.postedWindow);
    this.posted = { output, timestamp: new Date() };
  }

  get hasPosted(): boolean {
    return this.posted !== undefined;
  }

  async read(latest: boolean): Promise<ConsoleReply> {
    if (latest) return { output: await readWindow(this.path, 'tail'), timestamp: new Date() };
    return this.posted ?? { timestamp: new Date() };
  }
}

async function readWindow(path: string, which: 'head' | 'tail'): Promise<Buffer> {
  const fh = await open(path, 'r').catch(() => undefined);
  if (!fh) return Buffer.alloc(0);
  try {
    const size = (await fh.stat()).size;
    const length = Math.min(size, CONSOLE_LIMIT);
    const buf = Buffer.alloc(length);
    const { bytesRead } = await fh.read(buf, 0, length, which === 'head' ? 0 : size - length);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}
