import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { availableParallelism, totalmem } from 'node:os';
import type { EventPatterns } from '../../src/parsers/kernel-events.js';
import type { ChannelKind, MachineSpec } from '../../src/core/session.js';
import { HostSession } from '../host-session.js';
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
 * follower; ending it kills those and removes the folder.
 */
export class LocalSession extends HostSession {
  constructor(id: string, dir: string, readonly agent: LocalAgent, local: LocalConsole, spec: MachineSpec, eventPatterns: EventPatterns) {
    const opening = [`session ${id} on this host (${spec.arch}, ${spec.cpus} CPUs, ${spec.memoryMb} MiB); scratch root ${agent.scratchRoot}`];
    if (local.kernelLogProblem) opening.push(local.kernelLogProblem);
    super(id, dir, new Set<ChannelKind>(['console', 'agent']), 'no machine: the host tsuite runs on', local, spec, eventPatterns, 'local', opening);
  }

  protected async release(): Promise<void> {
    this.agent.close();
    await rm(this.agent.scratchRoot, { recursive: true, force: true });
  }
}
