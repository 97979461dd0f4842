import { ConsoleChannel } from '../src/channels/console.js';
import type { EventPatterns } from '../src/parsers/kernel-events.js';
import type { ChannelKind, ExitInfo, Session } from '../src/core/session.js';

/**
 * A session on an existing endpoint (a Docker engine, a CRI runtime): no machine, so no console
 * output, no spec, nothing to power off. It owns only its connection; closing it leaves the
 * endpoint running. Each runner's session names its one channel and how to close it.
 */
export abstract class EndpointSession implements Session {
  readonly channels: ReadonlySet<ChannelKind>;
  /** Empty and already ended: there is no serial port behind an API endpoint. */
  readonly console: ConsoleChannel;
  readonly accel = 'none' as const;
  readonly accelReason: string;
  readonly canPowerOff = false;
  exit?: ExitInfo;
  readonly ended: Promise<ExitInfo>;
  private finish!: (exit: ExitInfo) => void;

  constructor(
    readonly id: string,
    readonly dir: string,
    readonly eventPatterns: EventPatterns,
    private readonly kind: 'docker' | 'cri',
    private readonly what: string,
  ) {
    this.channels = new Set<ChannelKind>([kind]);
    this.accelReason = `no machine: an existing ${what}`;
    this.console = new ConsoleChannel();
    this.console.end();
    this.ended = new Promise((resolve) => (this.finish = resolve));
  }

  /** Closes the connection to the endpoint. */
  protected abstract closeChannel(): void;

  async shutdown(reason = `${this.what} session closed`): Promise<ExitInfo> {
    if (!this.exit) {
      this.closeChannel();
      this.exit = { kind: 'clean', detail: reason };
      this.finish(this.exit);
    }
    return this.exit;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }
}
