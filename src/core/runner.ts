import type { EventPatterns } from '../parsers/kernel-events.js';
import type { Accel, Session } from './session.js';

export interface BootSpec {
  kernel: string;
  initrd?: string;
  /** The full kernel command line, console and panic settings included. */
  cmdline: string;
  /** A bootable ISO or raw disk image instead of -kernel. */
  image?: string;
}

/** Everything a runner needs to bring up one machine. */
export interface ProvisionRequest {
  sessionId: string;
  /** Where the console log and runner evidence go. */
  dir: string;
  arch: string;
  boot: BootSpec;
  cpus: number;
  memoryMb: number;
  accel: Accel | 'auto';
  /** A console line matching this means the kernel is up. */
  landmark: RegExp;
  bootTimeoutMs: number;
  eventPatterns: EventPatterns;
  /** Console input that asks the guest to power off, if the guest understands one. */
  powerOffCommand?: string;
  /** Guest TCP ports to forward from free host ports. */
  forwardPorts?: readonly number[];
  /** Called for every console line as it arrives (live reporters). */
  onConsoleLine?: (line: string) => void;
}

export interface Runner {
  readonly name: string;
  /** Boots a machine up to its landmark. Boot failures reject with BootFailure, host ones with InfraError. */
  provision(request: ProvisionRequest, signal: AbortSignal): Promise<Session>;
  /** Removes what an earlier, killed run with this prefix left behind. */
  sweepOrphans?(): Promise<readonly number[]>;
}
