/**
 * A QEMU arch profile: the few facts that differ per architecture, as frozen data
 * (in the spirit of kunit_tool's qemu_configs/). One small file per arch under profiles/.
 */
export interface ArchProfile {
  /** `uname -m` of the guest. */
  arch: string;
  qemuBinary: string;
  machine: string;
  /** CPU model per accelerator: `host` only makes sense under KVM. */
  cpu: { kvm: string; tcg: string };
  /** Serial console device name inside a Linux guest. */
  consoleDevice: string;
  /** Firmware for direct -kernel boots (qboot is faster than SeaBIOS); undefined for QEMU's default. */
  firmware?: string;
  /**
   * UEFI firmware for `--firmware uefi` image boots, as two pflash files: the read-only code and
   * the template of the variable store (each machine gets its own writable store, never this file).
   */
  uefi?: { code: string; vars: string };
  /** The exit device, if the machine has one: on x86 isa-debug-exit, status `(value << 1) | 1`. */
  exitDevice?: string;
  /** Appended to every Linux cmdline: console and panic behaviour. */
  defaultCmdline: string;
  /** Debian metapackage of the reference kernel for this arch. */
  referenceKernelPackage: string;
  /** Static busybox for the guest. */
  busybox: string;
}

export function defineProfile(p: ArchProfile): Readonly<ArchProfile> {
  return Object.freeze(p);
}
