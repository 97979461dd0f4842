import { ConsoleChannel } from '../../src/channels/console.js';
import type { CriChannel } from '../../src/channels/cri.js';
import type { EventPatterns } from '../../src/parsers/kernel-events.js';
import type { ChannelKind, ExitInfo, Session } from '../../src/core/session.js';

/**
 * A session on an existing CRI runtime: no machine, so no console output, nothing to power off. It
 * owns only its gRPC connection; closing it leaves the runtime running.
 */
export class CriSession implements Session {
  readonly channels: ReadonlySet<ChannelKind> = new Set<ChannelKind>(['cri']);
  /** Empty and already ended: there is no serial port behind an API endpoint. */
  readonly console: ConsoleChannel;
  readonly accel = 'none' as const;
  readonly accelReason = 'no machine: an existing CRI endpoint';
  readonly canPowerOff = false;
  exit?: ExitInfo;
  readonly ended: Promise<ExitInfo>;
  private finish!: (exit: ExitInfo) => void;

  constructor(
    readonly id: string,
    readonly dir: string,
    readonly cri: CriChannel,
    readonly eventPatterns: EventPatterns,
  ) {
    this.console = new ConsoleChannel();
    this.console.end();
    this.ended = new Promise((resolve) => (this.finish = resolve));
  }

  async shutdown(reason = 'CRI endpoint session closed'): Promise<ExitInfo> {
    if (!this.exit) {
      this.cri.close();
      this.exit = { kind: 'clean', detail: reason };
      this.finish(this.exit);
    }
    return this.exit;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }
}
