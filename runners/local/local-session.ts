import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { availableParallelism, totalmem } from 'node:os';
import type { EventPatterns } from '../../src/parsers/kernel-events.js';
import type { ChannelKind, ExitInfo, MachineSpec, Session } from '../../src/core/session.js';
import type { LocalAgent } from './local-agent.js';
import type { LocalConsole } from './local-console.js';

/** What the host is, as a machine spec: tests that compare it with a boot report are skipped anyway (there is none). */
export function hostSpec(arch: string): MachineSpec {
  let cmdline = '';
  try {
    cmdline = readFileSync('/proc/cmdline', 'utf8').trim();
  } catch {
    // not Linux, or /proc not mounted: the command line is unknown
  }
  return { arch, cpus: availableParallelism(), memoryMb: Math.round(totalmem() / 2 ** 20), cmdline };
}

/**
 * A session on the host tsuite runs on: nothing is booted or powered off. It owns a scratch
 * folder (the agent's root for everything tests create), the agent's processes and the kernel-log
 * follower; ending it kills those and removes the folder, on every path (signals included, since
 * dispatch shuts every open session down when the run is aborted).
 */
export class LocalSession implements Session {
  readonly channels: ReadonlySet<ChannelKind> = new Set<ChannelKind>(['console', 'agent']);
  readonly accel = 'none' as const;
  readonly accelReason = 'no machine: the host tsuite runs on';
  readonly canPowerOff = false;
  readonly console;
  readonly landmarkLine: number;
  exit?: ExitInfo;
  readonly ended: Promise<ExitInfo>;
  private finish!: (exit: ExitInfo) => void;

  constructor(
    readonly id: string,
    readonly dir: string,
    readonly agent: LocalAgent,
    private readonly local: LocalConsole,
    readonly spec: MachineSpec,
    readonly eventPatterns: EventPatterns,
  ) {
    this.console = local.channel;
    local.note(`session ${id} on this host (${spec.arch}, ${spec.cpus} CPUs, ${spec.memoryMb} MiB); scratch root ${agent.scratchRoot}`);
    if (local.kernelLogProblem) local.note(local.kernelLogProblem);
    // The landmark: the line that says the session is usable (boot/reaches-landmark finds it in console.log).
    local.note('ready');
    this.landmarkLine = this.console.lines.length - 1;
    this.ended = new Promise((resolve) => (this.finish = resolve));
  }

  async shutdown(reason = 'local session closed'): Promise<ExitInfo> {
    if (!this.exit) {
      this.exit = { kind: 'clean', detail: reason };
      this.agent.close();
      this.local.note(`session ended: ${reason}`);
      this.local.close();
      await rm(this.agent.scratchRoot, { recursive: true, force: true });
      this.finish(this.exit);
    }
    return this.exit;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }
}
