import { ConsoleChannel } from '../../src/channels/console.js';
import type { DockerChannel } from '../../src/channels/docker.js';
import type { EventPatterns } from '../../src/parsers/kernel-events.js';
import type { ChannelKind, ExitInfo, Session } from '../../src/core/session.js';

/**
 * A session on an existing Docker endpoint: no machine, so no console output, no spec, nothing to
 * power off. It owns only its connection to the engine; closing it leaves the engine running.
 */
export class DockerSession implements Session {
  readonly channels: ReadonlySet<ChannelKind> = new Set<ChannelKind>(['docker']);
  /** Empty and already ended: there is no serial port behind an API endpoint. */
  readonly console: ConsoleChannel;
  readonly accel = 'none' as const;
  readonly accelReason = 'no machine: an existing Docker endpoint';
  readonly canPowerOff = false;
  exit?: ExitInfo;
  readonly ended: Promise<ExitInfo>;
  private finish!: (exit: ExitInfo) => void;

  constructor(
    readonly id: string,
    readonly dir: string,
    readonly docker: DockerChannel,
    readonly eventPatterns: EventPatterns,
  ) {
    this.console = new ConsoleChannel();
    this.console.end();
    this.ended = new Promise((resolve) => (this.finish = resolve));
  }

  async shutdown(reason = 'docker endpoint session closed'): Promise<ExitInfo> {
    if (!this.exit) {
      this.docker.close();
      this.exit = { kind: 'clean', detail: reason };
      this.finish(this.exit);
    }
    return this.exit;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }
}
