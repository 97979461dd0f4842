import { setTimeout as sleep } from 'node:timers/promises';
import type { ConsoleChannel } from './console.js';
import { outputBeforePrompt, promptPattern, TerminalTranscript, terminalText, type LineEnding } from './shell-text.js';

/**
 * The `shell` channel: expect-style control of a shell or prompt on the serial console, for kernels
 * whose only interface is a command line on their UART. `run(command)` types a line, waits for the
 * next prompt and returns the output in between, with the echo, escape sequences and `\r` removed.
 * Everything typed and read goes through the console, so console.log keeps it (see `record`).
 */

/** A target's `shell` settings (TargetDef.shell). */
export interface ShellSettings {
  /** Regex source of the prompt (one line), matched on the text with escape sequences removed; `^`/`$` are line anchors. */
  prompt: string;
  /** What ends a typed command; default `\r`, what a terminal's Enter key sends. */
  lineEnding?: LineEnding;
  /** Pause between typed characters, for UARTs without a FIFO that drop bytes typed at full speed. */
  charDelayMs?: number;
  /** The kernel echoes what is typed (default true): the first line of each reply is then the command itself. */
  echo?: boolean;
  /** How long a command may take to bring the prompt back (default 30 s); also the wait for the first prompt. */
  timeoutMs?: number;
}

export const SHELL_DEFAULT_TIMEOUT_MS = 30_000;

export interface ShellRunOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** The prompt did not come back in time: names the command and shows what the console last said. */
export class ShellTimeout extends Error {
  constructor(
    readonly command: string | undefined,
    readonly timeoutMs: number,
    readonly lastLines: string,
    prompt: RegExp,
  ) {
    const what = command === undefined ? 'the first prompt' : `the prompt after '${command}'`;
    super(`shell: ${what} (${prompt}) did not appear within ${timeoutMs} ms; the console's last lines:\n${lastLines}`);
    this.name = 'ShellTimeout';
  }
}

/** The machine ended before or while the shell waited for its prompt. */
export class ShellClosed extends Error {
  constructor(readonly command: string | undefined, lastLines: string) {
    super(`shell: the console closed while waiting for ${command === undefined ? 'the first prompt' : `the output of '${command}'`}; the console's last lines:\n${lastLines}`);
    this.name = 'ShellClosed';
  }
}

export interface ShellChannelOptions {
  /**
   * Called with exactly what is typed, before it is sent. A shell that does not echo leaves no
   * trace of its input in the guest's output, so the runner appends it to console.log here.
   */
  record?: (typed: string) => void;
}

export class ShellChannel {
  readonly prompt: RegExp;
  readonly lineEnding: LineEnding;
  readonly echo: boolean;
  readonly timeoutMs: number;
  readonly charDelayMs: number;
  /** What was received since the current command was typed (or since the channel was made), as text. */
  private readonly received = new TerminalTranscript();
  /** Commands and waits under way or queued; while there are none, old output is dropped. */
  private pending = 0;
  private readonly offData: () => void;
  /** Commands run one at a time: two interleaved commands would mix their outputs. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly console: ConsoleChannel,
    settings: ShellSettings,
    private readonly options: ShellChannelOptions = {},
  ) {
    this.prompt = promptPattern(new RegExp(settings.prompt));
    this.lineEnding = settings.lineEnding ?? '\r';
    this.echo = settings.echo ?? true;
    this.timeoutMs = settings.timeoutMs ?? SHELL_DEFAULT_TIMEOUT_MS;
    this.charDelayMs = settings.charDelayMs ?? 0;
    // The first prompt usually sits unterminated in the console's last partial line already.
    this.received.push(console.partialLine);
    this.offData = console.onData((chunk) => {
      // Output between commands is in console.log already; keep only what a wait may need.
      if (this.pending === 0 && chunk.includes('\n')) this.received.clear();
      this.received.push(chunk);
    });
  }

  /**
   * Waits for a prompt with nothing typed: the shell is ready (a prompt already waiting counts).
   * Resolves with the text printed before it since this call.
   */
  ready(options: ShellRunOptions = {}): Promise<string> {
    return this.exclusive(() => this.waitForPrompt(undefined, false, options));
  }

  /** Types `command` and its line ending, waits for the next prompt, and returns the output in between. */
  run(command: string, options: ShellRunOptions = {}): Promise<string> {
    if (/[\r\n]/.test(command)) return Promise.reject(new Error(`shell: a command is one line; '${JSON.stringify(command)}' holds a line break`));
    return this.exclusive(async () => {
      this.received.clear();
      if (this.console.isClosed) throw new ShellClosed(command, this.lastLines());
      await this.type(`${command}${this.lineEnding}`, options.signal);
      return this.waitForPrompt(command, this.echo, options);
    });
  }

  /** Stops listening to the console (the session is over). */
  close(): void {
    this.offData();
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    this.pending++;
    const run = async () => {
      try {
        return await work();
      } finally {
        this.pending--;
      }
    };
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async type(text: string, signal?: AbortSignal): Promise<void> {
    this.options.record?.(text);
    if (this.charDelayMs <= 0) {
      this.console.write(text);
      return;
    }
    for (const ch of text) {
      signal?.throwIfAborted();
      this.console.write(ch);
      await sleep(this.charDelayMs, undefined, { signal });
    }
  }

  private waitForPrompt(command: string | undefined, echo: boolean, options: ShellRunOptions): Promise<string> {
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    let from = 0;
    const found = () => {
      const output = outputBeforePrompt(this.received.text, this.prompt, echo, from)?.output;
      // Complete lines were searched: the next search starts at the line still growing.
      if (output === undefined) from = this.received.lastLineStart;
      return output;
    };
    const now = found();
    if (now !== undefined) return Promise.resolve(now);
    const lastLines = () => this.lastLines();
    if (this.console.isClosed) return Promise.reject(new ShellClosed(command, lastLines()));
    if (options.signal?.aborted) return Promise.reject(options.signal.reason);
    return new Promise((resolve, reject) => {
      const settle = (fn: () => void) => {
        clearTimeout(timer);
        offData();
        offClose();
        options.signal?.removeEventListener('abort', onAbort);
        fn();
      };
      // Runs after the chunk was added to `received` (our own listener was registered first).
      const offData = this.console.onData(() => {
        const output = found();
        if (output !== undefined) settle(() => resolve(output));
      });
      const offClose = this.console.onClose(() => settle(() => reject(new ShellClosed(command, lastLines()))));
      const onAbort = () => settle(() => reject(options.signal!.reason));
      options.signal?.addEventListener('abort', onAbort, { once: true });
      const timer = setTimeout(() => settle(() => reject(new ShellTimeout(command, timeoutMs, lastLines(), this.prompt))), timeoutMs);
    });
  }

  /** The console's last lines plus the unterminated rest, as plain text, for error messages. */
  private lastLines(n = 15): string {
    return terminalText([this.console.tail(n), this.console.partialLine].filter(Boolean).join('\n'));
  }
}
