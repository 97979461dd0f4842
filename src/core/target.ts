import { UsageError } from './errors.js';
import { hostArch } from './host-info.js';
import type { AcceleratorDef } from './accelerator.js';
import type { MachineDef } from './machine.js';
import type { Firmware } from './runner.js';
import type { ShellTestDef } from './shell-test-def.js';
import type { ShellSettings } from '../channels/shell.js';
import type { SshEndpoint } from '../channels/ssh-connect.js';

/**
 * A target: runner + arch profile + kernel artifact + the channels it offers. Built-in targets are
 * below; `tsuite.config.ts` may add more or override fields of these, and CLI flags override both.
 */
export interface TargetDef {
  /**
   * `qemu` boots a machine; `docker` talks to an existing Docker Engine endpoint (no machine, no
   * console); `cri` to an existing CRI runtime; `gcp`, `aws` and `azure` boot the kernel on a cloud
   * instance (Compute Engine, EC2, an Azure VM); `local` is the host tsuite runs on (nothing booted);
   * `ssh` an existing machine reached over SSH (nothing booted).
   */
  runner: 'qemu' | 'docker' | 'cri' | 'local' | 'ssh' | CloudProviderName;
  /** Guest arch, naming the QEMU profile (`x86_64`); for `docker`, the arch the engine's images are built for. */
  arch: string;
  /**
   * `reference` for the distro kernel tsuite fetches, `fixture` for tsuite's own non-Linux test
   * kernel (built here), else a path to the user's kernel. Unused with `image`; `endpoint` for the
   * docker and cri runners and `host` for the local runner, which boot nothing.
   */
  kernel: 'reference' | 'fixture' | (string & {});
  /**
   * A bootable ISO or raw disk image, booted by its own bootloader instead of kernel, initrd and
   * append (which it replaces). A raw disk is never written: the guest writes to a throwaway overlay.
   */
  image?: string;
  /** Firmware for `image`: `bios` (SeaBIOS) or `uefi` (OVMF); default `bios` for an ISO, `uefi` for a raw disk. */
  firmware?: Firmware;
  /**
   * The whole kernel command line the image's bootloader passes, as the image's builder states it
   * (the builders in kernel/images/ return it): `boot/cmdline` checks the guest saw exactly this.
   */
  imageCmdline?: string;
  /** Build the kernel from this source tree (cached by commit) instead of `kernel`. */
  kernelSrc?: string;
  /** Shell command that builds it in kernelSrc; default `make -j<cpus>`. */
  build?: string;
  /** The file the build produces, relative to kernelSrc, e.g. `arch/x86/boot/bzImage`. */
  kernelArtifact?: string;
  /** `tsuite` for the initramfs tsuite builds, a path, or none. */
  initrd?: 'tsuite' | (string & {});
  /** Added to the profile's default cmdline (console, panic=-1). */
  append?: string;
  cpus: number;
  memoryMb: number;
  accel: 'auto' | 'kvm' | 'tcg';
  bootTimeoutMs: number;
  /** Regex source of the boot landmark; default: the tsuite boot report's `ready` line. */
  landmark?: string;
  /** Extra regex sources that mean the kernel panicked (for kernels that are not Linux). */
  panicPatterns?: string[];
  /** Console input that makes the guest power off; the tsuite init understands `tsuite-poweroff`. */
  powerOffCommand?: string;
  /** The kernel prints in-kernel test results as KTAP on the console: the `kernel` suite reads them. */
  ktap?: boolean;
  /** The isa-debug-exit value the kernel writes on success (QEMU then exits with `(value << 1) | 1`). */
  exitSuccessValue?: number;
  /** The kernel's known gaps: a YAML list of `{ test, reason, needs? }` (see the README). */
  expectations?: string;
  /** The guest serves the QEMU Guest Agent protocol on virtio-serial `org.qemu.guest_agent.0`. */
  agent?: boolean;
  /**
   * A root filesystem to boot from instead of an initramfs: `node` for the container host tsuite
   * builds (Debian with dockerd), else a path to an ext4 image. Attached as NVMe, never written.
   */
  rootfs?: 'node' | (string & {});
  /** The Docker Engine API the target offers: the `docker` channel. */
  docker?: DockerTargetSettings;
  /** The Kubernetes CRI v1 runtime the target offers: the `cri` channel. */
  cri?: CriTargetSettings;
  /**
   * The machine as data (src/core/machine.ts): type, drives, NICs and forwards, 9p shares, IOMMU,
   * extra devices, raw QEMU args. A target with drives and no kernel, image or kernelSrc boots from
   * its drives through the firmware (`firmware`, default bios), as an image does.
   */
  machine?: MachineDef;
  /**
   * A shell on the serial console (the `shell` channel): its prompt (regex source), line ending,
   * per-character delay, echo, and time limit per command. The session offers the channel once the
   * prompt appears after the landmark.
   */
  shell?: ShellSettings;
  /** Declarative shell tests (send / expect / notExpect / timeout steps): the `shell` suite. */
  shellTests?: ShellTestDef[];
  /** Google Compute Engine: where the `gcp` runner uploads, imports and launches (no defaults: it spends money). */
  gcp?: GcpTargetSettings;
  /** Amazon EC2: where the `aws` runner stages, imports and launches (no defaults: it spends money). */
  aws?: AwsTargetSettings;
  /** Microsoft Azure: where the `azure` runner stages, imports and launches (no defaults: it spends money). */
  azure?: AzureTargetSettings;
  /** How any cloud runner runs its lifecycle (sweep grace, polling, timeouts, private network). */
  cloud?: CloudLifecycleSettings;
  /**
   * The GPUs a cloud target's instance has (src/core/accelerator.ts), checked against its machine
   * type / instance type / VM size; on GCP an N1 machine gets them attached (guestAccelerators).
   */
  accelerator?: AcceleratorDef;
  /** `local` test images (built here, no registry) or `upstream` ones pulled by reference. */
  containerImages?: 'local' | 'upstream';
  /**
   * Tests may change a machine tsuite does not own beyond the session (bind a device away from its
   * driver, load modules): on the `local` target they are skipped without it. `tsuite run
   * --allow-destructive` sets it; default false. Recorded in results.json.
   */
  allowDestructive?: boolean;
  /**
   * A Kubernetes device plugin the gpu suite checks against the device plugin API (v1beta1), with
   * tsuite in the kubelet's place: the command starts it on this host (local target), told the
   * plugin folder in `$DP_PLUGIN_DIR` (and `{pluginDir}` in its arguments).
   */
  devicePlugin?: DevicePluginSettings;
  /** For the `ssh` runner: the machine, how to log in, and how its host key is checked (the `ssh` and `agent` channels). */
  ssh?: SshTargetSettings;
  description?: string;
}

/** Where an `ssh` target's machine is (see SshEndpoint in src/channels/ssh-connect.ts); host and user are required. */
export interface SshTargetSettings extends Partial<SshEndpoint> {
  /** The folder on the machine under which each session makes its scratch dir (`mktemp -d`); default $TMPDIR or /tmp. */
  workDir?: string;
}

export interface DevicePluginSettings {
  /** The plugin's command and arguments; `{pluginDir}` is replaced by the folder holding kubelet.sock. */
  command: string[];
  /** A signal that makes the plugin report one device's health changed (the API has no call for it); without one that check is skipped. */
  healthSignal?: string;
  /** How long each wait may take (registration, a stream update); default 10000. */
  timeoutMs?: number;
}

/** Where a target's Docker Engine API is. */
export interface DockerTargetSettings {
  /** For the `docker` runner: the endpoint, `tcp://host:port` or `unix:///path` (default: DOCKER_HOST). */
  host?: string;
  /** For a QEMU guest: the guest port the API listens on, forwarded to a free host port. */
  port?: number;
  /** TLS with client certificates: a folder with ca.pem, cert.pem and key.pem (Docker's DOCKER_CERT_PATH layout). */
  certPath?: string;
  /** For a QEMU guest: regex source of the console line that says the API listens. */
  readyPattern?: string;
  /** For a QEMU guest: how long after the landmark the engine may take to answer. */
  readyTimeoutMs?: number;
  /** For a QEMU guest: guest ports forwarded for tests that publish container ports. */
  publishPorts?: number[];
}

/** Where a target's CRI runtime is, and what of its node this host can reach. */
export interface CriTargetSettings {
  /** For the `cri` runner: the runtime's endpoint, `unix:///path` or `tcp://host:port`. */
  endpoint?: string;
  /** TLS: a folder with ca.pem (and cert.pem + key.pem for a client certificate). */
  certPath?: string;
  /** For a QEMU guest: the guest port CRI's gRPC listens on (TCP), forwarded to a free host port. */
  port?: number;
  /** For a QEMU guest: the guest port of the runtime's streaming server; Exec/Attach/PortForward URLs are rewritten to its forward. */
  streamPort?: number;
  /** For a QEMU guest: regex source of the console line that says the runtime listens. */
  readyPattern?: string;
  /** For a QEMU guest: how long after the landmark the runtime may take to answer. */
  readyTimeoutMs?: number;
  /** Guest ports tests may map pod host ports to (forwarded for a QEMU guest). */
  hostPorts?: number[];
  /**
   * The address at which this host reaches the node's host ports (pod port mappings, host-network
   * pods). A QEMU guest's come through forwards on 127.0.0.1; for the `cri` runner, default 127.0.0.1.
   */
  nodeAddress?: string;
  /**
   * The address at which the runtime reaches this host (the local registry tsuite starts): 10.0.2.2
   * from a QEMU user-mode guest; for the `cri` runner, default 127.0.0.1.
   */
  hostAddress?: string;
  /**
   * Where the runtime reads per-registry settings (containerd's `config_path`, hosts.toml per
   * host:port), when tsuite can write there: a folder on this host, or, for a QEMU guest with the
   * agent, a folder in the guest. Without it the registry tests are skipped, naming it.
   */
  registryConfigDir?: string;
}

/** The cloud providers, each a runner sharing one lifecycle (runners/cloud/). */
export type CloudProviderName = 'gcp' | 'aws' | 'azure';
export const CLOUD_PROVIDERS: readonly CloudProviderName[] = Object.freeze(['gcp', 'aws', 'azure']);
export const isCloudRunner = (runner: string): runner is CloudProviderName => (CLOUD_PROVIDERS as readonly string[]).includes(runner);

/** Where in Google Cloud a `gcp` target runs. project, zone and bucket are required: nothing is assumed. */
export interface GcpTargetSettings {
  project?: string;
  zone?: string;
  /** The Cloud Storage bucket the image package is staged in (deleted after import). */
  bucket?: string;
  /** Default `e2-small`. */
  machineType?: string;
  /** The VPC network (default `default`) and subnetwork of the instance's only NIC; it never gets an external IP. */
  network?: string;
  subnetwork?: string;
  /** Another Compute Engine / Cloud Storage endpoint (a private endpoint, or the test stand-in): `http(s)://host:port`. */
  computeEndpoint?: string;
  storageEndpoint?: string;
}

/** Where in AWS an `aws` target runs. region, bucket and subnetId are required: nothing is assumed. */
export interface AwsTargetSettings {
  region?: string;
  /** The S3 bucket the raw disk is staged in for ImportSnapshot (deleted after the session). */
  bucket?: string;
  /** The subnet of the instance's only network interface; it never gets a public IP. */
  subnetId?: string;
  /** Default `t3.small` (Nitro: UEFI boot and the latest console output). */
  instanceType?: string;
  /** Security groups of that interface (default: the VPC's default group). */
  securityGroupIds?: string[];
  /** Another EC2 / S3 endpoint (a VPC endpoint, or the test stand-in): `http(s)://host:port`. */
  ec2Endpoint?: string;
  s3Endpoint?: string;
}

/**
 * Where in Azure an `azure` target runs. subscriptionId, location, storageAccount, container and
 * subnetId are required. Each session gets a resource group of its own, holding all it creates
 * but the staged blob (which lives in the given storage account).
 */
export interface AzureTargetSettings {
  subscriptionId?: string;
  /** The region, e.g. `westeurope`. */
  location?: string;
  /** The storage account and blob container the fixed VHD is staged in as a page blob. */
  storageAccount?: string;
  container?: string;
  /** The full resource id of the subnet of the VM's only NIC (no public IP). */
  subnetId?: string;
  /** Default `Standard_B2s` (supports Hyper-V generation 2: UEFI). */
  vmSize?: string;
  /** Another Resource Manager / blob endpoint / Entra authority (a sovereign cloud, or the test stand-in). */
  armEndpoint?: string;
  blobEndpoint?: string;
  authorityHost?: string;
}

/** The provider-independent lifecycle's settings. */
export interface CloudLifecycleSettings {
  /** Resources of another run older than this are orphans, swept at start (default 120 minutes). */
  sweepGraceMinutes?: number;
  /** How often the serial console is read (default 2000 ms). */
  consolePollMs?: number;
  /** How long one provider operation (import, launch, delete) may take (default 15 minutes). */
  operationTimeoutMs?: number;
  /** tsuite runs inside the instance's network: reach its docker/cri ports at its private IP. */
  privateNetwork?: boolean;
}

/** The guest ports the container host forwards for CRI pod host-port tests. */
export const NODE_CRI_HOST_PORTS: readonly number[] = Object.freeze([18090, 18091, 18092]);

/** The guest ports the container host forwards for published-port tests. */
export const NODE_PUBLISH_PORTS: readonly number[] = Object.freeze([18080, 18081, 18082, 18083]);

/** What a configured target gets for the fields it leaves out. */
export const TARGET_DEFAULTS = Object.freeze({ cpus: 2, memoryMb: 512, accel: 'auto', bootTimeoutMs: 60_000 } as const);

/**
 * What a cloud target gets unless it says: the reference kernel and tsuite initramfs on x86_64,
 * packaged onto a UEFI disk; a provider's boot (firmware, disk attach, import) takes minutes, not seconds.
 */
export const CLOUD_TARGET_DEFAULTS = Object.freeze({ arch: 'x86_64', kernel: 'reference', initrd: 'tsuite', bootTimeoutMs: 600_000 } as const);

/**
 * What an `ssh` target gets unless it says: the arch of this host (the runner checks the machine's
 * `uname -m` against it), its kernel is whatever the machine booted, and a connection (handshake,
 * facts, scratch dir) must be up within 60 s.
 */
export const SSH_TARGET_DEFAULTS = Object.freeze({
  arch: hostArch(), kernel: 'remote', bootTimeoutMs: 60_000, agent: true,
  description: 'an existing machine reached over SSH (a board, a lab box, a private cloud VM): agent-based suites run there, writing only under a temp dir; nothing booted or powered off',
} as const);

/** A built-in target booting the reference Linux guest of one arch. */
const referenceTarget = (arch: string, description: string): Readonly<TargetDef> =>
  Object.freeze({
    runner: 'qemu',
    arch,
    kernel: 'reference',
    initrd: 'tsuite',
    ...TARGET_DEFAULTS,
    powerOffCommand: 'tsuite-poweroff',
    agent: true,
    description,
  });

export const BUILT_IN_TARGETS: Readonly<Record<string, Readonly<TargetDef>>> = Object.freeze({
  'qemu-x86': referenceTarget('x86_64', "x86_64 under QEMU; default kernel: Debian's cloud kernel with the tsuite initramfs"),
  'qemu-arm64': referenceTarget('aarch64', "aarch64 under QEMU (virt); default kernel: Debian's arm64 cloud kernel with the tsuite initramfs"),
  // The reference container host: dockerd needs far more than the initramfs guest's 512 MiB.
  'qemu-x86-node': Object.freeze({
    ...referenceTarget('x86_64', "x86_64 container host under QEMU: Debian's cloud kernel booting a Debian rootfs that runs dockerd (docker.io), API forwarded to the host"),
    initrd: undefined,
    rootfs: 'node',
    memoryMb: 2048,
    bootTimeoutMs: 120_000,
    docker: Object.freeze({ port: 2375, readyPattern: 'tsuite-node: dockerd (?:ready|failed)', readyTimeoutMs: 120_000, publishPorts: [...NODE_PUBLISH_PORTS] }),
    // containerd's CRI plugin: gRPC on TCP and its streaming server on fixed guest ports (kernel/node/containerd.toml).
    cri: Object.freeze({
      port: 10010, streamPort: 10011, readyPattern: 'tsuite-node: containerd (?:ready|failed)', readyTimeoutMs: 120_000,
      hostPorts: [...NODE_CRI_HOST_PORTS], hostAddress: '10.0.2.2', registryConfigDir: '/etc/containerd/certs.d',
    }),
  }),
  docker: Object.freeze({
    runner: 'docker',
    arch: hostArch(),
    kernel: 'endpoint',
    ...TARGET_DEFAULTS,
    // How long the endpoint may take to answer: an engine already running answers at once.
    bootTimeoutMs: 20_000,
    docker: Object.freeze({}),
    description: 'an existing Docker Engine endpoint (--docker-host, or DOCKER_HOST / DOCKER_TLS_VERIFY / DOCKER_CERT_PATH): a real Linux Docker host to baseline against, or a kernel\'s own management API',
  }),
  cri: Object.freeze({
    runner: 'cri',
    arch: hostArch(),
    kernel: 'endpoint',
    ...TARGET_DEFAULTS,
    bootTimeoutMs: 20_000,
    cri: Object.freeze({}),
    description: 'an existing CRI v1 runtime endpoint (--cri-endpoint unix:///path or tcp://host:port): containerd on a Linux host to baseline against, or a kernel\'s own runtime',
  }),
  // The host itself, as LTP runs on its host: its kernel is whatever booted it.
  local: Object.freeze({
    runner: 'local',
    arch: hostArch(),
    kernel: 'host',
    ...TARGET_DEFAULTS,
    // Nothing to boot: a session is a scratch folder and a kernel-log reader.
    bootTimeoutMs: 10_000,
    agent: true,
    description: 'the host tsuite runs on (a GPU host, a board that runs tsuite itself): agent-based suites run their probes here, as tsuite\'s user, writing only under a temp dir; nothing that outlives the run without --allow-destructive',
  }),
});

/** Looks a target up among the built-in and configured ones, failing with the list of valid names. */
export function findTarget(name: string, configured: Readonly<Record<string, Partial<TargetDef>>> = {}): TargetDef {
  const base = BUILT_IN_TARGETS[name];
  const extra = configured[name];
  if (!base && !extra) {
    const names = [...new Set([...Object.keys(BUILT_IN_TARGETS), ...Object.keys(configured)])];
    throw new UsageError(`unknown target '${name}'`, `use one of: ${names.join(', ')} (see \`tsuite targets\`)`);
  }
  const runner = String(extra?.runner ?? base?.runner);
  const cloud = isCloudRunner(runner) ? CLOUD_TARGET_DEFAULTS : runner === 'ssh' ? SSH_TARGET_DEFAULTS : {};
  const merged = { ...TARGET_DEFAULTS, ...cloud, ...(base ?? {}), ...(extra ?? {}) } as TargetDef;
  if (merged.runner === 'qemu' && (!merged.runner || !merged.arch || (!merged.kernel && !merged.image && !merged.kernelSrc && !bootsFromDrives(merged)))) {
    throw new UsageError(`target '${name}' needs runner, arch and kernel (or image, or kernelSrc, or machine.drives to boot from)`, `set them in tsuite.config.ts under targets.${name}`);
  }
  return merged;
}

/** No kernel, image or source tree, but drives: the firmware boots the first bootable drive. */
export function bootsFromDrives(def: Partial<TargetDef>): boolean {
  return !def.kernel && !def.image && !def.kernelSrc && (def.machine?.drives?.length ?? 0) > 0;
}
