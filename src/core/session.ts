import type { BenchClock } from '../bench/clock.js';
import type { GuestAgent } from '../channels/guest-agent.js';
import type { CriChannel } from '../channels/cri.js';
import type { DockerChannel } from '../channels/docker.js';
import type { ShellChannel } from '../channels/shell.js';
import type { SshChannel } from '../channels/ssh.js';
import type { ConsoleChannel } from '../channels/console.js';
import type { EventPatterns } from '../parsers/kernel-events.js';
import type { ResolvedMachine } from './machine.js';
import type { CloudSessionInfo, ExitInfo } from './result.js';

export type { ExitInfo };

/** The channel kinds of the architecture; a test needing one the session lacks is skipped. */
export type ChannelKind = 'console' | 'exit' | 'agent' | 'docker' | 'shell' | 'cri' | 'ssh' | 'k8s';

export type Accel = 'kvm' | 'tcg' | 'none';


/** What the machine was given, so tests can compare it with what the guest reports. */
export interface MachineSpec {
  arch: string;
  cpus: number;
  memoryMb: number;
  /** The command line the kernel was given; '' when an image's bootloader chose it and the target does not say. */
  cmdline: string;
  /** What ran before the kernel: it decides how much RAM is the firmware's, not the kernel's. */
  firmware?: 'qboot' | 'bios' | 'uefi' | 'default';
}

/**
 * A booted machine. It owns its console log (always on disk), its channels and its teardown;
 * disposing it always leaves no process behind.
 */
export interface Session extends AsyncDisposable {
  readonly id: string;
  /** Folder holding console.log and whatever else the runner keeps as evidence. */
  readonly dir: string;
  readonly console: ConsoleChannel;
  readonly channels: ReadonlySet<ChannelKind>;
  /** The guest agent (QGA, or the local runner's stand-in on this host), when the session has the `agent` channel. */
  readonly agent?: GuestAgent;
  /** Why a session that asked for the agent has none (e.g. "no guest agent answered ... within 10000 ms"). */
  readonly agentProblem?: string;
  /**
   * Channels still coming up after the boot landmark (a QEMU guest's agent handshake, ~0.1 s under
   * TCG). It never rejects: a channel that fails sets its problem. A test that needs only the console
   * runs without waiting for it (consoleOnly); any other test, and the session's disposal, wait.
   */
  readonly settling?: Promise<void>;
  /** The Docker Engine API, when the session has the `docker` channel. */
  readonly docker?: DockerChannel;
  /**
   * Why a session whose target declares a Docker endpoint has none (the engine never answered):
   * tests that need it fail with this, since the target promised the channel.
   */
  readonly dockerProblem?: string;
  /** The SSH connection (ssh2) to a machine tsuite did not boot, when the session has the `ssh` channel. */
  readonly ssh?: SshChannel;
  /** The Kubernetes CRI v1 runtime (gRPC), when the session has the `cri` channel. */
  readonly cri?: CriChannel;
  /** Why a session whose target declares a CRI endpoint has none (it never answered Version): tests needing it fail with this. */
  readonly criProblem?: string;
  /** A cloud session's resources and teardown outcome (complete once the session is disposed). */
  readonly cloud?: CloudSessionInfo;
  /** The shell on the serial console (expect-style), when the target declares one and its prompt appeared. */
  readonly shell?: ShellChannel;
  /** Why a session whose target declares a shell has none (its prompt never appeared): tests needing it fail with this. */
  readonly shellProblem?: string;
  readonly accel: Accel;
  /** Why this accelerator (e.g. "KVM fails here: ...; TCG used"). */
  readonly accelReason?: string;
  /**
   * A benchmark session's clock: `instructions` when the guest's clocks count instructions (QEMU
   * icount), `time` for real time. Absent for an ordinary session.
   */
  readonly clock?: BenchClock;
  /** The host CPUs the machine was pinned to (a duet's half of them); absent when not pinned. */
  readonly hostCpus?: readonly number[];
  /** What was done to the machine's scheduling priority on the host (a time-mode benchmark session). */
  readonly hostPriority?: string;
  /** Undefined for a replayed console log: there is no machine to compare with. */
  readonly spec?: MachineSpec;
  /** The machine as booted (type, drives, NICs and their host ports, shares, IOMMU, extra devices, raw args). */
  readonly machine?: ResolvedMachine;
  /** Host milliseconds from machine start to the boot landmark. */
  readonly bootMs?: number;
  /** Index of the console line that was the boot landmark. */
  readonly landmarkLine?: number;
  readonly eventPatterns: EventPatterns;
  /** The guest understands a power-off request (otherwise shutdown is a hard stop). */
  readonly canPowerOff: boolean;
  /** Set once the machine has ended. */
  readonly exit?: ExitInfo;
  /** Resolves when the machine ends by itself or is stopped; undefined for a replayed log. */
  readonly ended?: Promise<ExitInfo>;
  /** Asks the guest to power off, escalating to a hard stop; resolves with how it ended. */
  shutdown(reason?: string): Promise<ExitInfo>;
}
