/**
 * The `console` channel: the first serial port as a replayable stream of lines. Every line is
 * kept (with its arrival time), so a test can `expect` a line that arrived before it started.
 */

export interface ConsoleLine {
  text: string;
  /** Milliseconds since the machine was started. */
  atMs: number;
}

export interface ExpectOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /** Only lines at or after this index count (default: all lines since boot). */
  fromLine?: number;
}

export interface ConsoleMatch {
  line: ConsoleLine;
  index: number;
  match: RegExpExecArray;
}

export class ExpectTimeout extends Error {
  constructor(pattern: RegExp, timeoutMs: number) {
    super(`no console line matched ${pattern} within ${timeoutMs} ms`);
    this.name = 'ExpectTimeout';
  }
}

export class ConsoleClosed extends Error {
  constructor(pattern: RegExp) {
    super(`the console closed before a line matched ${pattern}`);
    this.name = 'ConsoleClosed';
  }
}

type Listener = (line: ConsoleLine, index: number) => void;
type DataListener = (chunk: string) => void;

/** The machine's first serial port as lines: replayable from the start, awaitable with `expect`. */
export class ConsoleChannel {
  /** Every line so far, from the machine's start (the boot landmark is `session.landmarkLine`). */
  readonly lines: ConsoleLine[] = [];
  private partial = '';
  private closed = false;
  private readonly listeners = new Set<Listener>();
  private readonly closeListeners = new Set<() => void>();
  private readonly dataListeners = new Set<DataListener>();

  constructor(
    private readonly startedAt = Date.now(),
    /** Sends bytes to the guest's serial input; absent for a replayed log. */
    private readonly sink?: (text: string) => void,
  ) {}

  /** A console replayed from a saved log: every line present, already closed. */
  static fromText(text: string): ConsoleChannel {
    const c = new ConsoleChannel(0);
    c.push(text);
    c.end();
    return c;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * The unterminated rest after the last newline, as received (`\r` and escapes kept): where a
   * shell's prompt waits, since prompts end without a newline.
   */
  get partialLine(): string {
    return this.partial;
  }

  /** Every chunk as it arrives, before it is split into lines: for the shell channel's prompts. */
  onData(listener: DataListener): () => void {
    this.dataListeners.add(listener);
    return () => this.dataListeners.delete(listener);
  }

  push(chunk: string): void {
    for (const l of this.dataListeners) l(chunk);
    const parts = (this.partial + chunk).split('\n');
    this.partial = parts.pop() ?? '';
    for (const p of parts) this.emit(p);
  }

  end(): void {
    if (this.closed) return;
    if (this.partial) this.emit(this.partial);
    this.partial = '';
    this.closed = true;
    for (const l of this.closeListeners) l();
  }

  /** Types into the guest's serial input, as is (add the line ending the kernel wants). */
  write(text: string): void {
    if (!this.sink || this.closed) throw new Error('this console cannot be written to (replayed log or closed machine)');
    this.sink(text);
  }

  /** Calls `listener` for each new line; returns the function that stops it. */
  onLine(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Called once when the console closes (the machine ended); at once if it already has. */
  onClose(listener: () => void): () => void {
    if (this.closed) {
      listener();
      return () => undefined;
    }
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  /** The first line at or after `fromLine` matching `pattern`, waiting for it if need be. */
  expect(pattern: RegExp, options: ExpectOptions): Promise<ConsoleMatch> {
    const from = options.fromLine ?? 0;
    if (options.signal?.aborted) return Promise.reject(options.signal.reason);
    for (let i = from; i < this.lines.length; i++) {
      const found = this.test(pattern, i);
      if (found) return Promise.resolve(found);
    }
    if (this.closed) return Promise.reject(new ConsoleClosed(pattern));
    return new Promise((resolve, reject) => {
      const cleanup = () => {
        clearTimeout(timer);
        off();
        this.closeListeners.delete(onClose);
        options.signal?.removeEventListener('abort', onAbort);
      };
      const off = this.onLine((_, index) => {
        if (index < from) return;
        const found = this.test(pattern, index);
        if (found) {
          cleanup();
          resolve(found);
        }
      });
      const onClose = () => {
        cleanup();
        reject(new ConsoleClosed(pattern));
      };
      const onAbort = () => {
        cleanup();
        reject(options.signal!.reason);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new ExpectTimeout(pattern, options.timeoutMs));
      }, options.timeoutMs);
      this.closeListeners.add(onClose);
      options.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** The last `n` lines as text, for error messages. */
  tail(n = 30, upTo = this.lines.length): string {
    return this.lines
      .slice(Math.max(0, upTo - n), upTo)
      .map((l) => l.text)
      .join('\n');
  }

  private test(pattern: RegExp, index: number): ConsoleMatch | undefined {
    const line = this.lines[index]!;
    const match = new RegExp(pattern.source, pattern.flags.replace('g', '')).exec(line.text);
    return match ? { line, index, match } : undefined;
  }

  private emit(raw: string): void {
    const line = { text: raw.replace(/\r/g, ''), atMs: Date.now() - this.startedAt };
    this.lines.push(line);
    const index = this.lines.length - 1;
    for (const l of this.listeners) l(line, index);
  }
}
