import type { ConsoleChannel } from '../src/channels/console.js';
import type { EventPatterns } from '../src/parsers/kernel-events.js';
import type { ChannelKind, MachineSpec, Session } from '../src/core/session.js';
import { UnbootedSession } from './unbooted-session.js';

/** A host session's console: the machine's kernel log with tsuite's own notes beside it. */
export interface NotedConsole {
  readonly channel: ConsoleChannel;
  note(text: string): void;
  close(): void | Promise<void>;
}

/**
 * A session on a machine tsuite did not boot and never powers off (this host, a machine over SSH):
 * its console is the machine's kernel log plus tsuite's notes, the `ready` note is its landmark, and
 * ending it (on every path: dispatch shuts every open session down when the run is aborted) lets the
 * runner stop what the session started there before the console closes.
 */
export abstract class HostSession extends UnbootedSession implements Session {
  readonly console: ConsoleChannel;
  readonly landmarkLine: number;

  constructor(
    readonly id: string,
    readonly dir: string,
    readonly channels: ReadonlySet<ChannelKind>,
    readonly accelReason: string,
    private readonly notes: NotedConsole,
    readonly spec: MachineSpec,
    readonly eventPatterns: EventPatterns,
    /** `local`, `ssh`: for the default shutdown reason. */
    what: string,
    opening: readonly string[],
  ) {
    super(what);
    this.console = notes.channel;
    for (const line of opening) notes.note(line);
    // The landmark: the line that says the session is usable (boot/reaches-landmark finds it in console.log).
    notes.note('ready');
    this.landmarkLine = this.console.lines.length - 1;
  }

  /** Stops what the session runs on the machine and removes its scratch folder; runs before the console closes. */
  protected abstract release(): Promise<void>;

  /** What closes after the console (the connection it reads through); nothing by default. */
  protected afterConsole(): void {}

  protected async stop(reason: string): Promise<void> {
    await this.release();
    this.notes.note(`session ended: ${reason}`);
    await this.notes.close();
    this.afterConsole();
  }
}
