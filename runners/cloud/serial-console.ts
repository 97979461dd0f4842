import { createWriteStream, type WriteStream } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConsoleChannel } from '../../src/channels/console.js';
import type { SerialChunk } from './cloud-provider.js';
import { CloudApiError } from './cloud-provider.js';

/** Consecutive failed reads before the console is declared lost: one 5xx is the cloud, not a fault. */
const READ_ATTEMPTS = 4;

export interface SerialGap {
  from: number;
  to: number;
  /** The provider did not say how much was lost: `to - from` is not a byte count. */
  lossUnknown?: boolean;
}

/**
 * Reads an instance's serial console incrementally with the provider's offsets (ask from `next`;
 * a returned `start` later than asked means the provider discarded output first) into the
 * session's console channel and its `console.log`, so every console-based test and parser works as
 * on a local machine. A gap is written into the log where it happened and recorded, never hidden.
 */
export class SerialConsole {
  private next = 0;
  private stopped = false;
  private loop?: Promise<void>;
  private readonly log: WriteStream;
  private consecutiveErrors = 0;
  readonly gaps: SerialGap[] = [];
  readErrors = 0;
  /** Successful reads so far. */
  reads = 0;
  /** Set when the console could not be read READ_ATTEMPTS times in a row: the loop has ended. */
  failure?: CloudApiError;
  private failed!: (err: CloudApiError) => void;
  /** Rejects when reading fails for good; for racing against the landmark. */
  readonly lost: Promise<never>;

  constructor(
    private readonly read: (start: number) => Promise<SerialChunk>,
    private readonly console: ConsoleChannel,
    logFile: string,
    private readonly pollMs: number,
    /** Called after every read that brought nothing new: the caller checks whether the machine stopped. */
    private readonly onIdle?: () => Promise<void>,
  ) {
    this.log = createWriteStream(logFile, { flags: 'a' });
    this.log.on('error', () => undefined);
    this.lost = new Promise<never>((_, reject) => (this.failed = reject));
    this.lost.catch(() => undefined);
  }

  get bytes(): number {
    return this.next;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** One read now, outside the loop's rhythm (used for a last read before teardown). */
  async readOnce(): Promise<boolean> {
    const chunk = await this.read(this.next);
    if (chunk.start > this.next) {
      this.gaps.push({ from: this.next, to: chunk.start, ...(chunk.lossUnknown ? { lossUnknown: true } : {}) });
      this.emit(chunk.lossUnknown
        ? `\n[tsuite: the provider discarded serial output here before tsuite could read it: an amount it does not say was lost]\n`
        : `\n[tsuite: the provider discarded serial output bytes ${this.next}-${chunk.start} before tsuite could read them: ${chunk.start - this.next} bytes lost]\n`);
    }
    if (chunk.contents) this.emit(chunk.contents);
    // A provider that answers with an older `next` has not lost anything: never move backwards.
    this.next = Math.max(this.next, chunk.next);
    return chunk.contents.length > 0;
  }

  /** Stops polling after a last read (best effort); `readOnce` still works until `close`. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.loop;
    if (!this.failure) await this.readOnce().catch(() => undefined);
  }

  /** Stops polling and closes the log file. */
  async close(): Promise<void> {
    await this.stop();
    if (this.log.closed || this.log.writableEnded) return;
    await new Promise<void>((resolve) => this.log.end(resolve));
  }

  private emit(text: string): void {
    this.log.write(text);
    this.console.push(text);
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      let grew = false;
      try {
        grew = await this.readOnce();
        this.reads++;
        this.consecutiveErrors = 0;
      } catch (err) {
        this.readErrors++;
        this.consecutiveErrors++;
        const e = err instanceof CloudApiError ? err : new CloudApiError(err instanceof Error ? err.message : String(err));
        if (this.consecutiveErrors >= READ_ATTEMPTS) {
          this.failure = e;
          this.failed(e);
          return;
        }
      }
      if (!grew && this.onIdle) await this.onIdle().catch(() => undefined);
      if (!this.stopped) await sleep(this.pollMs);
    }
  }
}
