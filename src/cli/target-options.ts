import type { Command } from 'commander';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { BENCH_CLOCKS, type BenchClockChoice } from '../bench/clock.js';
import { parseCriEndpoint } from '../channels/cri-endpoint.js';
import { UsageError } from '../core/errors.js';
import { bootsFromDrives, findTarget, type TargetDef } from '../core/target.js';
import { resolveMachine } from '../core/machine.js';
import { profileFor } from '../../runners/qemu/profiles/index.js';
import { applyMachineFlags, collect, machineFlagNames, type MachineFlags } from './machine-flags.js';
import type { ResolvedConfig } from '../config/define-config.js';
import { BOOT_REPORT_READY } from '../parsers/boot-report.js';
import { LINUX_EVENT_PATTERNS, type EventPatterns } from '../parsers/kernel-events.js';
import { FIXTURE_LANDMARK, FIXTURE_PANIC_PATTERN, FIXTURE_SHELL_PROMPT } from '../../kernel/fixture/fixture-protocol.js';

/** Flags shared by `run` and `parse` that shape a target. */
export interface TargetFlags extends MachineFlags {
  target?: string;
  kernel?: string;
  initrd?: string;
  append?: string;
  landmark?: string;
  bootTimeout?: number;
  accel?: 'auto' | 'kvm' | 'tcg';
  cpus?: number;
  memory?: number;
  image?: string;
  firmware?: 'bios' | 'uefi';
  imageCmdline?: string;
  kernelSrc?: string;
  build?: string;
  kernelArtifact?: string;
  ktap?: boolean;
  exitSuccess?: number;
  expectations?: string;
  agent?: boolean;
  rootfs?: string;
  dockerHost?: string;
  dockerCertPath?: string;
  dockerPort?: number;
  criEndpoint?: string;
  criCertPath?: string;
  containerImages?: 'local' | 'upstream';
  shellPrompt?: string;
  clock?: BenchClockChoice;
}

const int = (flag: string, min: number, max: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${flag} takes a whole number from ${min} to ${max}, not '${v}'`);
  return n;
};

export function addTargetOptions(cmd: Command): Command {
  return cmd
    .option('-t, --target <name>', 'target to run on (see `tsuite targets`)')
    .option('--kernel <file>', "boot this kernel instead of the target's (ELF/multiboot, bzImage); 'fixture' for tsuite's own test kernel")
    .option('--initrd <file|tsuite>', "initrd for --kernel; 'tsuite' for the tsuite initramfs")
    .option('--append <args>', 'extra kernel command line, after the console and panic settings')
    .option('--landmark <regex>', 'console line that means the kernel is up (default: the tsuite boot report)')
    .option('--boot-timeout <ms>', 'time allowed to reach the landmark', int('--boot-timeout', 1000, 3_600_000))
    .option('--accel <auto|kvm|tcg>', 'accelerator; auto uses KVM only where it really works')
    .option('--cpus <n>', 'virtual CPUs', int('--cpus', 1, 64))
    .option('--memory <MiB>', 'guest memory in MiB', int('--memory', 64, 65536))
    .option('--image <file>', "boot this ISO or raw disk image with its own bootloader, instead of --kernel (the file is never modified)")
    .option('--firmware <bios|uefi>', 'firmware for --image: bios (SeaBIOS) or uefi (OVMF); default bios for an ISO, uefi for a raw disk')
    .option('--image-cmdline <args>', "the kernel command line the image's bootloader passes, for boot/cmdline to check")
    .option('--kernel-src <dir>', 'build the kernel from this source tree (cached by commit and dirty-tree hash), then boot it')
    .option('--build <command>', 'shell command that builds the kernel in --kernel-src (default: make -j<cpus>)')
    .option('--kernel-artifact <path>', 'the file the build produces, relative to --kernel-src (e.g. arch/x86/boot/bzImage)')
    .option('--ktap', 'the kernel prints in-kernel test results as KTAP on the console (read by the kernel suite)')
    .option('--agent', 'the guest runs a QEMU Guest Agent (qemu-ga protocol) on virtio-serial org.qemu.guest_agent.0')
    .option('--expectations <file>', "the kernel's known gaps: a YAML list of { test, reason } entries")
    .option('--exit-success <value>', 'isa-debug-exit value the kernel writes on success; QEMU exits with (value << 1) | 1', int('--exit-success', 0, 255))
    .option('--rootfs <file|node>', "boot from this ext4 root filesystem image (attached as NVMe, never modified); 'node' for tsuite's container host")
    .option('--docker-host <url>', 'the Docker Engine endpoint of the docker target: tcp://host:port or unix:///path (default: DOCKER_HOST)')
    .option('--docker-cert-path <dir>', 'TLS with client certificates for the Docker endpoint: a folder with ca.pem, cert.pem, key.pem (default with DOCKER_TLS_VERIFY: DOCKER_CERT_PATH)')
    .option('--docker-port <port>', "the guest port on which the kernel under test serves the Docker Engine API (forwarded to the host)", int('--docker-port', 1, 65535))
    .option('--cri-endpoint <url>', 'the CRI v1 runtime of the cri target: unix:///path/to/runtime.sock or tcp://host:port (as the kubelet\'s --container-runtime-endpoint)')
    .option('--cri-cert-path <dir>', 'TLS for the CRI endpoint: a folder with ca.pem (and cert.pem + key.pem for a client certificate)')
    .option('--container-images <local|upstream>', "containers suite images: 'local' (built here, no registry) or 'upstream' (alpine, busybox, nginx pulled by reference)")
    .option('--shell-prompt <regex>', "the kernel has a shell on its serial console with this prompt (regex, matched without ANSI escapes): the shell channel")
    .option('--machine <type>', "QEMU machine type: pc, q35 or microvm on x86_64, virt on aarch64 (default: the arch profile's)")
    .option('--drive <spec>', 'add a drive (repeatable): file=<image>,if=<ide|ahci|virtio|nvme|scsi|usb|floppy|sd>[,format=raw|qcow2|...][,media=cdrom][,readonly][,writable][,boot=<n>]; never written unless writable', collect)
    .option('--nic <spec>', "a NIC (repeatable; replaces the config's): <virtio-net|e1000|e1000e|rtl8139|...|none>[,fwd=[HOST:]GUEST]...", collect)
    .option('--share <folder=tag>', 'share a host folder over 9p (repeatable): <folder>=<tag>[,readonly]', collect)
    .option('--iommu <kind>', 'emulated IOMMU: intel-iommu (q35 only) or virtio-iommu')
    .option('--device <value>', 'extra QEMU -device value, verbatim (repeatable)', collect)
    .option('--host-device <address>', 'pass a host PCI function through with VFIO (repeatable), e.g. 0000:01:00.0; it must be bound to vfio-pci (`tsuite doctor` shows how)', collect)
    .option('--clock <auto|instructions|time>', "benchmark clock: 'instructions' counts guest instructions (QEMU icount, deterministic, TCG only), 'time' measures real time; auto (the config's bench.clock): instructions under TCG, time under KVM", clockOption)
    .option('--qemu-arg <arg>', 'raw QEMU argument appended last (repeatable; write --qemu-arg=-rtc --qemu-arg=base=utc); the console, monitor, QMP and exit device are refused', collect);
}

/** The command-line spelling of a TargetFlags field: `kernelSrc` → `--kernel-src`. */
const flagName = (field: string) => `--${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

export interface ResolvedTarget {
  name: string;
  def: TargetDef;
  landmark: RegExp;
  eventPatterns: EventPatterns;
  /** The clock benchmark sessions measure with (--clock, else the config's bench.clock). */
  benchClock: BenchClockChoice;
}

const clockOption = (v: string): BenchClockChoice => {
  if (!(BENCH_CLOCKS as readonly string[]).includes(v)) throw new UsageError(`--clock takes ${BENCH_CLOCKS.join(', ')}, not '${v}'`);
  return v as BenchClockChoice;
};

const regex = (source: string, what: string) => {
  try {
    return new RegExp(source);
  } catch (err) {
    throw new UsageError(`${what} is not a valid regular expression: ${(err as Error).message}`);
  }
};

/** The target named by --target (or the config default), with config and flags applied in that order. */
export function resolveTarget(config: ResolvedConfig, flags: TargetFlags, env: NodeJS.ProcessEnv = process.env): ResolvedTarget {
  const name = flags.target ?? config.defaultTarget;
  const def: TargetDef = { ...findTarget(name, config.targets) };
  if (flags.containerImages && !['local', 'upstream'].includes(flags.containerImages)) {
    throw new UsageError(`--container-images must be local or upstream, not '${flags.containerImages}'`);
  }
  if (flags.containerImages) def.containerImages = flags.containerImages;
  if (def.runner === 'docker') return resolveDockerTarget(name, def, flags, env);
  if (def.runner === 'cri') return resolveCriTarget(name, def, flags);
  if (def.runner === 'local') return resolveLocalTarget(name, def, flags);
  if (def.runner === 'ssh') return resolveSshTarget(name, def, flags);
  if (flags.criEndpoint) {
    throw new UsageError(`--cri-endpoint names an existing runtime, but target '${name}' boots a machine`, 'use --target cri --cri-endpoint <url>');
  }
  def.machine = applyMachineFlags(def.machine, flags);
  // Every machine problem at once, before anything is fetched or booted.
  if (def.machine) resolveMachine(def.machine, def.arch, profileFor(def.arch).machine, name);
  if (flags.dockerHost) {
    throw new UsageError(`--docker-host names an existing endpoint, but target '${name}' boots a machine`,
      'use --target docker --docker-host <url>, or --docker-port <guest port> for a guest that serves the API');
  }
  if (flags.accel && !['auto', 'kvm', 'tcg'].includes(flags.accel)) {
    throw new UsageError(`--accel must be auto, kvm or tcg, not '${flags.accel}'`);
  }
  if (flags.firmware && !['bios', 'uefi'].includes(flags.firmware)) {
    throw new UsageError(`--firmware must be bios or uefi, not '${flags.firmware}'`);
  }
  const clock = flags.clock ?? config.bench?.clock ?? 'auto';
  if (clock === 'instructions' && (flags.accel ?? def.accel) === 'kvm') {
    throw new UsageError('--clock instructions counts guest instructions with QEMU icount, which needs TCG, and the target asks for KVM', 'use --accel tcg (or auto), or --clock time to measure real time under KVM');
  }
  applyImage(name, config, flags, def);
  if (flags.kernel && flags.kernelSrc) {
    throw new UsageError('--kernel and --kernel-src both name the kernel', 'give one: a built file with --kernel, or a source tree with --kernel-src');
  }
  if (flags.kernelSrc) {
    def.kernelSrc = flags.kernelSrc;
    if (flags.build) def.build = flags.build;
    if (flags.kernelArtifact) def.kernelArtifact = flags.kernelArtifact;
  } else if (flags.kernel) {
    def.kernelSrc = undefined;
  }
  if (def.kernelSrc && !def.kernelArtifact) {
    throw new UsageError(`target '${name}' builds ${def.kernelSrc} but does not say which file the build produces`,
      'give --kernel-artifact <path in the tree>, e.g. arch/x86/boot/bzImage for Linux');
  }
  if (flags.ktap) def.ktap = true;
  if (flags.expectations) def.expectations = flags.expectations;
  if (flags.image) def.rootfs = undefined; // an image holds its own root filesystem
  if (flags.rootfs) def.rootfs = flags.rootfs;
  if (def.rootfs && def.initrd === 'tsuite' && !flags.initrd) def.initrd = undefined; // the rootfs holds init
  if (flags.exitSuccess !== undefined) def.exitSuccessValue = flags.exitSuccess;
  if (flags.kernel || flags.kernelSrc) {
    // The user's own kernel gets the tsuite initramfs (and its power-off command) only if asked for.
    if (flags.kernel) def.kernel = flags.kernel;
    def.initrd = flags.initrd;
    if (flags.initrd !== 'tsuite' && def.rootfs !== 'node') def.powerOffCommand = undefined;
  } else if (flags.initrd) {
    def.initrd = flags.initrd;
    if (flags.initrd !== 'tsuite') def.powerOffCommand = undefined;
  }
  // The tsuite initramfs and the node rootfs run qemu-ga; any other guest has an agent only if it says so (--agent).
  if (flags.kernel || flags.kernelSrc || flags.image || flags.initrd || flags.rootfs) def.agent = def.initrd === 'tsuite' || def.rootfs === 'node';
  if (flags.agent) def.agent = true;
  if (def.kernel === 'fixture' && !def.kernelSrc && !def.image) applyFixtureDefaults(def, `${def.append ?? ''} ${flags.append ?? ''}`);
  if (flags.append !== undefined) def.append = [def.append, flags.append].filter(Boolean).join(' ');
  if (flags.landmark) def.landmark = flags.landmark;
  if (flags.shellPrompt) {
    regex(flags.shellPrompt, '--shell-prompt'); // a typo fails here, not after the boot
    def.shell = { ...def.shell, prompt: flags.shellPrompt };
  }
  if (flags.bootTimeout) def.bootTimeoutMs = flags.bootTimeout;
  if (flags.accel) def.accel = flags.accel;
  if (flags.cpus) def.cpus = flags.cpus;
  if (flags.memory) def.memoryMb = flags.memory;
  if (flags.dockerPort) def.docker = { ...def.docker, port: flags.dockerPort };
  if (flags.dockerCertPath) {
    if (!def.docker?.port) throw new UsageError(`--docker-cert-path needs a Docker endpoint, and target '${name}' serves none`, 'give --docker-port <guest port> too');
    def.docker = { ...def.docker, certPath: flags.dockerCertPath };
  }

  if (def.image && def.landmark && config.targets[name]?.powerOffCommand === undefined) {
    // A landmark of its own says the image does not run the tsuite init, which alone knows the power-off command.
    def.powerOffCommand = undefined;
  }
  if (!def.image && !bootsFromDrives(def) && !def.landmark && def.initrd !== 'tsuite' && def.rootfs !== 'node') {
    throw new UsageError(
      `target '${name}' boots a kernel without the tsuite initramfs, so tsuite cannot know when it is up`,
      "give --landmark '<regex of a console line your kernel prints when ready>', or --initrd tsuite for a Linux kernel",
    );
  }
  const landmark = def.landmark ? regex(def.landmark, 'the landmark') : BOOT_REPORT_READY;
  const extraPanics = (def.panicPatterns ?? []).map((p) => regex(p, `panic pattern '${p}'`));
  const eventPatterns = { ...LINUX_EVENT_PATTERNS, panic: [...LINUX_EVENT_PATTERNS.panic, ...extraPanics] };
  return { name, def, landmark, eventPatterns, benchClock: clock };
}

/**
 * The `docker` runner boots nothing: only the endpoint settings apply. The endpoint comes from the
 * flags, then the config, then Docker's own environment (DOCKER_HOST, DOCKER_TLS_VERIFY,
 * DOCKER_CERT_PATH), then the engine's default socket, as the docker CLI does.
 */
function resolveDockerTarget(name: string, def: TargetDef, flags: TargetFlags, env: NodeJS.ProcessEnv): ResolvedTarget {
  const machineFlags = [...machineFlagsGiven(flags), ...(flags.criEndpoint ? ['--cri-endpoint'] : [])];
  if (machineFlags.length > 0) {
    throw new UsageError(`target '${name}' talks to an existing Docker endpoint and boots nothing, so ${machineFlags.join(', ')} cannot apply`,
      'drop them, or use a qemu target (e.g. qemu-x86-node) to boot a machine');
  }
  const host = flags.dockerHost ?? def.docker?.host ?? env.DOCKER_HOST ?? 'unix:///var/run/docker.sock';
  if (!/^(tcp|unix):\/\//.test(host)) {
    throw new UsageError(`the Docker endpoint '${host}' is neither tcp://host:port nor unix:///path`, 'give --docker-host tcp://127.0.0.1:2375 or unix:///var/run/docker.sock');
  }
  const tlsFromEnv = env.DOCKER_TLS_VERIFY && env.DOCKER_TLS_VERIFY !== '0' ? env.DOCKER_CERT_PATH ?? join(homedir(), '.docker') : undefined;
  const certPath = flags.dockerCertPath ?? def.docker?.certPath ?? (flags.dockerHost ? undefined : tlsFromEnv);
  def.docker = { ...def.docker, host, ...(certPath && { certPath }) };
  // An existing endpoint runs on its own machine: there is no guest clock tsuite could count with.
  if (flags.clock === 'instructions') throw new UsageError(`--clock instructions counts a QEMU guest's instructions, and target '${name}' is an existing Docker endpoint`, 'use --clock time (or auto)');
  return { name, def, landmark: BOOT_REPORT_READY, eventPatterns: LINUX_EVENT_PATTERNS, benchClock: 'time' };
}

/** The `local` runner is the host itself: no flag that shapes a machine or names an endpoint applies. */
function resolveLocalTarget(name: string, def: TargetDef, flags: TargetFlags): ResolvedTarget {
  const given = [...machineFlagsGiven(flags), ...(flags.dockerHost ? ['--docker-host'] : []), ...(flags.criEndpoint ? ['--cri-endpoint'] : [])];
  if (given.length > 0) {
    throw new UsageError(`target '${name}' is the host tsuite runs on and boots nothing, so ${given.join(', ')} cannot apply`,
      'drop them, or use a qemu target (e.g. qemu-x86) to boot a machine');
  }
  if (flags.clock === 'instructions') throw new UsageError(`--clock instructions counts a QEMU guest's instructions, and target '${name}' is this host`, 'use --clock time (or auto)');
  const extraPanics = (def.panicPatterns ?? []).map((p) => regex(p, `panic pattern '${p}'`));
  return { name, def, landmark: BOOT_REPORT_READY, eventPatterns: { ...LINUX_EVENT_PATTERNS, panic: [...LINUX_EVENT_PATTERNS.panic, ...extraPanics] }, benchClock: 'time' };
}

/** An existing machine over SSH boots nothing either: the same flags cannot apply, and its settings must name it. */
function resolveSshTarget(name: string, def: TargetDef, flags: TargetFlags): ResolvedTarget {
  const given = [...machineFlagsGiven(flags), ...(flags.dockerHost ? ['--docker-host'] : []), ...(flags.criEndpoint ? ['--cri-endpoint'] : [])];
  if (given.length > 0) {
    throw new UsageError(`target '${name}' is an existing machine reached over SSH and boots nothing, so ${given.join(', ')} cannot apply`,
      'drop them, or use a qemu target (e.g. qemu-x86) to boot a machine');
  }
  if (!def.ssh?.host || !def.ssh.user) throw new UsageError(`target '${name}' needs ssh.host and ssh.user`, `set ssh: { host, user } under targets.${name} in tsuite.config.ts`);
  if (flags.clock === 'instructions') throw new UsageError(`--clock instructions counts a QEMU guest's instructions, and target '${name}' is a machine over SSH`, 'use --clock time (or auto)');
  const extraPanics = (def.panicPatterns ?? []).map((p) => regex(p, `panic pattern '${p}'`));
  return { name, def, landmark: BOOT_REPORT_READY, eventPatterns: { ...LINUX_EVENT_PATTERNS, panic: [...LINUX_EVENT_PATTERNS.panic, ...extraPanics] }, benchClock: 'time' };
}

/** Flags that shape a machine: meaningless for a target that boots nothing. */
function machineFlagsGiven(flags: TargetFlags): string[] {
  return [...(['kernel', 'initrd', 'append', 'image', 'kernelSrc', 'rootfs', 'dockerPort', 'landmark', 'cpus', 'memory', 'accel', 'firmware', 'shellPrompt'] as const)
    .filter((f) => flags[f] !== undefined)
    .map(flagName), ...machineFlagNames(flags)];
}

/**
 * The `cri` runner boots nothing: the endpoint comes from --cri-endpoint, then the config. A unix
 * socket means a runtime on this host: its node is reached at 127.0.0.1 unless the config says.
 */
function resolveCriTarget(name: string, def: TargetDef, flags: TargetFlags): ResolvedTarget {
  const given = [...machineFlagsGiven(flags), ...(flags.dockerHost ? ['--docker-host'] : [])];
  if (given.length > 0) {
    throw new UsageError(`target '${name}' talks to an existing CRI runtime and boots nothing, so ${given.join(', ')} cannot apply`,
      'drop them, or use a qemu target (e.g. qemu-x86-node) to boot a machine');
  }
  const endpoint = flags.criEndpoint ?? def.cri?.endpoint;
  if (!endpoint) {
    throw new UsageError(`target '${name}' needs the CRI endpoint of the runtime to test`, 'give --cri-endpoint unix:///run/containerd/containerd.sock (or tcp://HOST:PORT), or cri.endpoint in tsuite.config.ts');
  }
  parseCriEndpoint(endpoint); // a malformed endpoint fails here, naming the forms
  const certPath = flags.criCertPath ?? def.cri?.certPath;
  def.cri = { ...def.cri, endpoint, ...(certPath && { certPath }) };
  if (flags.clock === 'instructions') throw new UsageError(`--clock instructions counts a QEMU guest's instructions, and target '${name}' is an existing CRI runtime`, 'use --clock time (or auto)');
  return { name, def, landmark: BOOT_REPORT_READY, eventPatterns: LINUX_EVENT_PATTERNS, benchClock: 'time' };
}

/**
 * The fixture kernel says how it behaves (kernel/fixture/fixture-protocol.ts): its landmark, its
 * panic line, KTAP on the console, isa-debug-exit value 0 for success, no initrd, no power-off;
 * in its `shell` mode (`--append shell`), its prompt instead of KTAP and an exit.
 */
function applyFixtureDefaults(def: TargetDef, append: string): void {
  def.landmark ??= FIXTURE_LANDMARK;
  def.panicPatterns = [...new Set([...(def.panicPatterns ?? []), FIXTURE_PANIC_PATTERN])];
  // The `shell` mode prints no KTAP and never exits: a prompt instead, which the shell channel drives.
  if (append.split(/\s+/).includes('shell')) {
    def.shell ??= { prompt: FIXTURE_SHELL_PROMPT };
  } else {
    def.ktap ??= true;
    def.exitSuccessValue ??= 0;
  }
  def.initrd = undefined;
  def.powerOffCommand = undefined;
}

/**
 * Image settings from config and flags. An image's bootloader chooses kernel, initrd and command
 * line, so giving those too is a conflict; `--kernel` on a target configured with an image boots
 * that kernel instead. Without an image, the image-only settings are a mistake.
 */
function applyImage(name: string, config: ResolvedConfig, flags: TargetFlags, def: TargetDef): void {
  const configured = config.targets[name] ?? {};
  const inConfig = (['kernel', 'initrd', 'append'] as const).filter((f) => configured[f] !== undefined);
  if (configured.image && inConfig.length > 0) {
    throw new UsageError(`target '${name}' sets both image and ${inConfig.join(', ')}`,
      `remove ${inConfig.join(', ')} from targets.${name}: the image's bootloader chooses them`);
  }
  const kernelFlags = (['kernel', 'initrd', 'append', 'kernelSrc'] as const).filter((f) => flags[f] !== undefined)
    .map(flagName);
  if (flags.image && kernelFlags.length > 0) {
    throw new UsageError(`--image cannot be combined with ${kernelFlags.join(', ')}: the image's bootloader chooses the kernel, initrd and command line`,
      `drop ${kernelFlags.join(', ')} to boot the image, or drop --image to boot a kernel; state the image's command line with --image-cmdline`);
  }
  if (flags.image) def.image = flags.image;
  else if (flags.kernel || flags.kernelSrc) def.image = def.firmware = def.imageCmdline = undefined;
  else if (def.image && kernelFlags.length > 0) {
    throw new UsageError(`target '${name}' boots an image, whose command line and initrd ${kernelFlags.join(', ')} cannot change`,
      'drop them, or give --kernel to boot a kernel instead of the image');
  }
  if (flags.firmware) def.firmware = flags.firmware;
  if (flags.imageCmdline !== undefined) def.imageCmdline = flags.imageCmdline;

  if (def.image) {
    def.initrd = def.append = undefined; // the base target's kernel settings do not apply to an image
    return;
  }
  // A boot from the machine's drives takes firmware and imageCmdline as an image does.
  if (bootsFromDrives(def)) return;
  if (def.firmware) {
    throw new UsageError('firmware (--firmware) applies only to image boots',
      "give --image <ISO or raw disk>, or drop --firmware: a kernel boot uses the profile's firmware");
  }
  if (def.imageCmdline !== undefined) {
    throw new UsageError('imageCmdline (--image-cmdline) applies only to image boots',
      "give --image <ISO or raw disk>, or use --append to add to a kernel's command line");
  }
}
