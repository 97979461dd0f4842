import type { CriEndpoint } from '../channels/cri.js';
import type { DockerEndpoint } from '../channels/docker.js';
import type { BenchClockChoice } from '../bench/clock.js';
import type { ShellSettings } from '../channels/shell.js';
import type { EventPatterns } from '../parsers/kernel-events.js';
import type { ResolvedMachine } from './machine.js';
import type { KernelInfo } from './result.js';
import type { Accel, Session } from './session.js';
import type { TargetDef } from './target.js';
import type { SshEndpoint } from '../channels/ssh-connect.js';

/** How a boot image is attached: an ISO 9660 CD-ROM, or a raw disk (MBR/GPT). */
export type ImageKind = 'iso' | 'raw';
/** The firmware that boots an image: SeaBIOS (QEMU's default) or UEFI (OVMF/AAVMF). */
export type Firmware = 'bios' | 'uefi';

/**
 * The firmware an image boots under unless told: an ISO under SeaBIOS, which nearly every bootable
 * ISO supports (El Torito) and which boots faster than OVMF; a raw disk under UEFI, since a GPT disk
 * with an EFI system partition is what cloud instances boot.
 */
export const defaultFirmware = (kind: ImageKind): Firmware => (kind === 'iso' ? 'bios' : 'uefi');

export interface BootSpec {
  /** The kernel for a direct -kernel boot; '' when an image is booted. */
  kernel: string;
  initrd?: string;
  /**
   * The full kernel command line, console and panic settings included. For an image, whose
   * bootloader owns the command line, it is what the target states the image passes ('' if unknown).
   */
  cmdline: string;
  /** A bootable ISO or raw disk image instead of -kernel; `imageKind` and `firmware` come with it. */
  image?: string;
  imageKind?: ImageKind;
  firmware?: Firmware;
  /** A root filesystem image (ext4) attached as an NVMe disk; the guest writes to a throwaway overlay. */
  rootfs?: string;
  /**
   * No kernel and no image: the firmware (`firmware`, default bios) boots from the machine's drives,
   * whose bootloader chooses the kernel and command line, as with an image.
   */
  driveBoot?: boolean;
}

/** A Docker Engine API the guest serves, reached through a forwarded port. */
export interface DockerRequest {
  /** Guest TCP port of the Engine API, forwarded to a free host port. */
  guestPort: number;
  /** TLS client material in Docker's layout: a folder with ca.pem, cert.pem, key.pem. */
  certPath?: string;
  /**
   * Console line that says the engine listens, waited for before the first connection: QEMU's
   * user-mode forward accepts a connection before the guest listens, and that connection hangs.
   */
  readyPattern?: RegExp;
  readyTimeoutMs: number;
  /** Guest ports forwarded too, for tests that publish a container port and reach it from the host. */
  publishPorts: readonly number[];
}

/** A CRI v1 runtime the guest serves over TCP, reached through a forwarded port. */
export interface CriRequest {
  /** Guest TCP port of CRI's gRPC, forwarded to a free host port. */
  guestPort: number;
  /** Guest port of the runtime's streaming server: the URLs Exec/Attach/PortForward return are rewritten to its forward. */
  streamGuestPort?: number;
  /** TLS: a folder with ca.pem (and cert.pem + key.pem). */
  certPath?: string;
  /** Console line that says the runtime listens, waited for before the first call (see DockerRequest). */
  readyPattern?: RegExp;
  readyTimeoutMs: number;
  /** Guest ports tests map pod host ports to, forwarded too. */
  hostPorts: readonly number[];
  /** The address at which the runtime reaches this host (10.0.2.2 from a user-mode guest). */
  hostAddress: string;
  /** Where the runtime reads per-registry settings, in the guest. */
  registryConfigDir?: string;
}

/** An existing CRI runtime (the `cri` runner), and what of its node this host can reach. */
export interface CriEndpointRequest extends CriEndpoint {
  nodeAddress: string;
  hostAddress: string;
  hostPorts: readonly number[];
  registryConfigDir?: string;
}

/** What a cloud runner's lifecycle needs beyond the machine: the target as configured and the kernel it boots. */
export interface CloudRequest {
  runId: string;
  /** The target's name, labelled on everything created. */
  target: string;
  def: TargetDef;
  kernel: KernelInfo;
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
  /**
   * Give the machine a QEMU guest agent port (virtio-serial `org.qemu.guest_agent.0`) and connect to
   * the agent after the landmark: the session then has the `agent` channel, or `agentProblem`.
   */
  agent?: boolean;
  /** Guest TCP ports to forward from free host ports. */
  forwardPorts?: readonly number[];
  /** The target's machine, validated, defaults filled in (src/core/machine.ts); absent: the profile's plain machine. */
  machine?: ResolvedMachine;
  /** A shell on the serial console: after the landmark, wait for its prompt (the `shell` channel). */
  shell?: ShellSettings;
  /** The guest serves the Docker Engine API: connect to it after the landmark (the `docker` channel). */
  docker?: DockerRequest;
  /** For a runner with no machine of its own (`docker`): the existing endpoint to connect to. */
  endpoint?: DockerEndpoint;
  /** The guest serves CRI: connect to it after the landmark (the `cri` channel). */
  cri?: CriRequest;
  /** For the `cri` runner: the existing runtime to connect to. */
  criEndpoint?: CriEndpointRequest;
  /** For the `ssh` runner: the machine to log in to, and where on it the session's scratch dir goes. */
  ssh?: SshEndpoint & { workDir?: string };
  /** For a cloud runner (`gcp`, `aws`, `azure`): the run and target the instance belongs to. */
  cloud?: CloudRequest;
  /** Called for every console line as it arrives (live reporters). */
  onConsoleLine?: (line: string) => void;
  /**
   * Host CPUs the machine's process may run on (QEMU is started under `taskset -c`): a duet A/B
   * run pins A and B to their own halves of the host. Absent: wherever the host schedules it.
   */
  hostCpus?: readonly number[];
  /**
   * A benchmark session: the clock its guest figures are measured with (src/bench/clock.ts).
   * `instructions` runs QEMU's instruction counter under TCG with one vCPU; `auto` is
   * instructions under TCG and time under KVM. Absent: an ordinary session.
   */
  clock?: BenchClockChoice;
}

export interface Runner {
  readonly name: string;
  /** Boots a machine up to its landmark. Boot failures reject with BootFailure, host ones with InfraError. */
  provision(request: ProvisionRequest, signal: AbortSignal): Promise<Session>;
  /** Removes what an earlier, killed run with this prefix left behind. */
  sweepOrphans?(): Promise<readonly number[]>;
}
