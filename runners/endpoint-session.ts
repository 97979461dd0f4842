import { ConsoleChannel } from '../src/channels/console.js';
import type { EventPatterns } from '../src/parsers/kernel-events.js';
import type { ChannelKind, Session } from '../src/core/session.js';
import { UnbootedSession } from './unbooted-session.js';

/**
 * A session on an existing endpoint (a Docker engine, a CRI runtime): no machine, so no console
 * output, no spec, nothing to power off. It owns only its connection; closing it leaves the
 * endpoint running. Each runner's session names its one channel and how to close it.
 */
export abstract class EndpointSession extends UnbootedSession implements Session {
  readonly channels: ReadonlySet<ChannelKind>;
  /** Empty and already ended: there is no serial port behind an API endpoint. */
  readonly console: ConsoleChannel;
  readonly accelReason: string;

  constructor(
    readonly id: string,
    readonly dir: string,
    readonly eventPatterns: EventPatterns,
    private readonly kind: 'docker' | 'cri',
    what: string,
  ) {
    super(what);
    this.channels = new Set<ChannelKind>([kind]);
    this.accelReason = `no machine: an existing ${what}`;
    this.console = new ConsoleChannel();
    this.console.end();
  }

  /** Closes the connection to the endpoint. */
  protected abstract closeChannel(): void;

  protected stop(): void {
    this.closeChannel();
  }
}
