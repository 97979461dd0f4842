import type { SshChannel } from '../../src/channels/ssh.js';
import type { EventPatterns } from '../../src/parsers/kernel-events.js';
import type { ChannelKind, ExitInfo, MachineSpec, Session } from '../../src/core/session.js';
import type { SshAgent } from './ssh-agent.js';
import type { SshConsole } from './ssh-console.js';

/**
 * A session on a machine reached over SSH: nothing is booted or powered off. It owns one SSH
 * connection (the `ssh` channel), the agent implemented over it with a scratch dir on the machine,
 * and the kernel-log follower; ending it kills what the session still runs there, removes the
 * scratch dir and closes the connection, on every path (dispatch shuts every open session down
 * when the run is aborted).
 */
export class SshSession implements Session {
  readonly channels: ReadonlySet<ChannelKind> = new Set<ChannelKind>(['console', 'agent', 'ssh']);
  readonly accel = 'none' as const;
  readonly accelReason: string;
  readonly canPowerOff = false;
  readonly console;
  readonly landmarkLine: number;
  exit?: ExitInfo;
  readonly ended: Promise<ExitInfo>;
  private finish!: (exit: ExitInfo) => void;

  constructor(
    readonly id: string,
    readonly dir: string,
    readonly ssh: SshChannel,
    readonly agent: SshAgent,
    private readonly remoteConsole: SshConsole,
    readonly spec: MachineSpec,
    readonly eventPatterns: EventPatterns,
  ) {
    this.accelReason = `no machine booted: ${ssh.name} reached over SSH`;
    this.console = remoteConsole.channel;
    remoteConsole.note(`session ${id} on ${ssh.name} (${spec.arch}, ${spec.cpus} CPUs, ${spec.memoryMb} MiB), host key ${ssh.hostKey.type} ${ssh.hostKey.fingerprint}; scratch root ${agent.scratchRoot}`);
    remoteConsole.note('ready');
    this.landmarkLine = this.console.lines.length - 1;
    this.ended = new Promise((resolve) => (this.finish = resolve));
    // A connection that drops between tests ends the session: the next test sees the reason, not a hang.
  }

  async shutdown(reason = 'ssh session closed'): Promise<ExitInfo> {
    if (!this.exit) {
      this.exit = { kind: 'clean', detail: reason };
      await this.agent.cleanup();
      this.remoteConsole.note(`session ended: ${reason}`);
      await this.remoteConsole.close();
      this.ssh.close();
      this.finish(this.exit);
    }
    return this.exit;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }
}
