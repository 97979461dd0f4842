import { UsageError } from '../../src/core/errors.js';

export interface GrubEntry {
  /** Kernel path as GRUB sees it, from the root device. */
  kernel: string;
  initrd?: string;
  /** Kernel arguments, one per element. */
  args: readonly string[];
  /** FAT/ISO volume id to search for the root device (`XXXX-XXXX`); the boot device when absent. */
  rootFsUuid?: string;
  /** GRUB's loader command: `linux` (the default) or `multiboot` for a multiboot (v1) kernel. */
  loader?: 'linux' | 'multiboot';
}

/**
 * Splits a command line into arguments GRUB passes through unchanged. GRUB backslash-escapes `"`
 * and `\` and quotes arguments with spaces when it builds the kernel's command line, so those would
 * not reach the kernel as written; they are refused rather than silently changed.
 */
export function grubArgs(cmdline: string): string[] {
  const args = cmdline.split(/\s+/).filter(Boolean);
  const bad = args.find((a) => /["'\\]/.test(a));
  if (bad) {
    throw new UsageError(`kernel argument ${bad} has a quote or backslash, which GRUB would rewrite`,
      'give the image builder arguments without quotes or backslashes');
  }
  return args;
}

/**
 * What the kernel will see as its command line: GRUB's `linux` puts BOOT_IMAGE=<path> first (as
 * /proc/cmdline shows); its `multiboot` passes the arguments alone.
 */
export const grubKernelCmdline = (entry: GrubEntry) =>
  (entry.loader === 'multiboot' ? entry.args : [`BOOT_IMAGE=${entry.kernel}`, ...entry.args]).join(' ');

/** A grub.cfg that boots one entry at once, with GRUB itself on the first serial port. */
export function grubConfig(entry: GrubEntry): string {
  // Single quotes keep `$`, `;` and the like literal in GRUB's script syntax.
  const quoted = entry.args.map((a) => `'${a}'`).join(' ');
  return [
    'serial --unit=0 --speed=115200',
    'terminal_input serial',
    'terminal_output serial',
    'set timeout=0',
    'set default=0',
    ...(entry.rootFsUuid ? [`search --no-floppy --fs-uuid --set=root ${entry.rootFsUuid}`] : []),
    "menuentry 'tsuite' {",
    `  ${entry.loader ?? 'linux'} ${entry.kernel} ${quoted}`.trimEnd(),
    ...(entry.initrd ? [`  initrd ${entry.initrd}`] : []),
    '}',
    '',
  ].join('\n');
}
