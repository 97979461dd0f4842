import type { ConsoleChannel } from '../../src/channels/console.js';
import type { CriChannel } from '../../src/channels/cri.js';
import type { DockerChannel } from '../../src/channels/docker.js';
import type { EventPatterns } from '../../src/parsers/kernel-events.js';
import type { CloudSessionInfo } from '../../src/core/result.js';
import type { ChannelKind, ExitInfo, MachineSpec, Session } from '../../src/core/session.js';

/** Why an instance is deleted when its session closes normally: its tests are done. */
const SESSION_DONE = "after the session's last test";

/**
 * A machine on a cloud instance. Its console is the provider's serial port read incrementally (the
 * serial port is output only: no power-off can be typed, so shutting down is deleting); closing
 * it runs the lifecycle's teardown, which deletes the instance, the image and the staged package.
 */
export class CloudSession implements Session {
  private readonly channelSet = new Set<ChannelKind>(['console']);
  readonly canPowerOff = false;
  readonly accel = 'none' as const;
  bootMs?: number;
  landmarkLine?: number;
  exit?: ExitInfo;
  docker?: DockerChannel;
  dockerProblem?: string;
  cri?: CriChannel;
  criProblem?: string;
  /** Filled in by the lifecycle as it creates and deletes. */
  cloud?: CloudSessionInfo;
  readonly ended: Promise<ExitInfo>;
  private finish!: (exit: ExitInfo) => void;
  private closing?: Promise<ExitInfo>;

  constructor(
    readonly id: string,
    readonly dir: string,
    readonly console: ConsoleChannel,
    readonly eventPatterns: EventPatterns,
    readonly spec: MachineSpec,
    readonly accelReason: string,
    /** Reads the console one last time, keeps the evidence and deletes everything; resolves with how it ended. */
    private readonly close: (reason: string) => Promise<ExitInfo>,
  ) {
    this.ended = new Promise((resolve) => (this.finish = resolve));
  }

  get channels(): ReadonlySet<ChannelKind> {
    return this.channelSet;
  }

  attachDocker(docker: DockerChannel): void {
    this.docker = docker;
    this.channelSet.add('docker');
  }

  attachCri(cri: CriChannel): void {
    this.cri = cri;
    this.channelSet.add('cri');
  }

  /** The instance stopped by itself (the kernel powered off, halted or crashed). */
  machineEnded(exit: ExitInfo): void {
    if (this.exit) return;
    this.exit = exit;
    this.console.end();
    this.finish(exit);
  }

  shutdown(reason = 'shutdown requested'): Promise<ExitInfo> {
    this.closing ??= (async () => {
      this.docker?.close();
      this.cri?.close();
      const exit = await this.close(reason);
      this.machineEnded(exit);
      return this.exit!;
    })();
    return this.closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown(SESSION_DONE);
  }
}
