import { UsageError } from './errors.js';
import type { Firmware } from './runner.js';

/**
 * A target: runner + arch profile + kernel artifact + the channels it offers. Built-in targets are
 * below; `tsuite.config.ts` may add more or override fields of these, and CLI flags override both.
 */
export interface TargetDef {
  runner: 'qemu';
  /** Guest arch, naming the QEMU profile (`x86_64`). */
  arch: string;
  /**
   * `reference` for the distro kernel tsuite fetches, `fixture` for tsuite's own non-Linux test
   * kernel (built here), else a path to the user's kernel. Unused with `image`.
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
  description?: string;
}

/** What a configured target gets for the fields it leaves out. */
export const TARGET_DEFAULTS = Object.freeze({ cpus: 2, memoryMb: 512, accel: 'auto', bootTimeoutMs: 60_000 } as const);

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
});

/** Looks a target up among the built-in and configured ones, failing with the list of valid names. */
export function findTarget(name: string, configured: Readonly<Record<string, Partial<TargetDef>>> = {}): TargetDef {
  const base = BUILT_IN_TARGETS[name];
  const extra = configured[name];
  if (!base && !extra) {
    const names = [...new Set([...Object.keys(BUILT_IN_TARGETS), ...Object.keys(configured)])];
    throw new UsageError(`unknown target '${name}'`, `use one of: ${names.join(', ')} (see \`tsuite targets\`)`);
  }
  const merged = { ...TARGET_DEFAULTS, ...(base ?? {}), ...(extra ?? {}) } as TargetDef;
  if (!merged.runner || !merged.arch || (!merged.kernel && !merged.image && !merged.kernelSrc)) {
    throw new UsageError(`target '${name}' needs runner, arch and kernel (or image, or kernelSrc)`, `set them in tsuite.config.ts under targets.${name}`);
  }
  return merged;
}
