import type { SshChannel } from '../../src/channels/ssh.js';
import type { EventPatterns } from '../../src/parsers/kernel-events.js';
import type { ChannelKind, MachineSpec } from '../../src/core/session.js';
import { HostSession } from '../host-session.js';
import type { SshAgent } from './ssh-agent.js';
import type { SshConsole } from './ssh-console.js';

/**
 * A session on a machine reached over SSH: nothing is booted or powered off. It owns one SSH
 * connection (the `ssh` channel), the agent implemented over it with a scratch dir on the machine,
 * and the kernel-log follower; ending it kills what the session still runs there, removes the
 * scratch dir and closes the connection.
 */
export class SshSession extends HostSession {
  constructor(id: string, dir: string, readonly ssh: SshChannel, readonly agent: SshAgent, remoteConsole: SshConsole, spec: MachineSpec, eventPatterns: EventPatterns) {
    super(id, dir, new Set<ChannelKind>(['console', 'agent', 'ssh']), `no machine booted: ${ssh.name} reached over SSH`, remoteConsole, spec, eventPatterns, 'ssh', [
      `session ${id} on ${ssh.name} (${spec.arch}, ${spec.cpus} CPUs, ${spec.memoryMb} MiB), host key ${ssh.hostKey.type} ${ssh.hostKey.fingerprint}; scratch root ${agent.scratchRoot}`,
    ]);
  }

  protected release(): Promise<void> {
    return this.agent.cleanup();
  }

  protected override afterConsole(): void {
    this.ssh.close();
  }
}
