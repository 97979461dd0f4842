import type { Command } from 'commander';
import { UsageError } from '../core/errors.js';
import { findTarget, type TargetDef } from '../core/target.js';
import type { ResolvedConfig } from '../config/define-config.js';
import { BOOT_REPORT_READY } from '../parsers/boot-report.js';
import { LINUX_EVENT_PATTERNS, type EventPatterns } from '../parsers/kernel-events.js';

/** Flags shared by `run` and `parse` that shape a target. */
export interface TargetFlags {
  target?: string;
  kernel?: string;
  initrd?: string;
  append?: string;
  landmark?: string;
  bootTimeout?: number;
  accel?: 'auto' | 'kvm' | 'tcg';
  cpus?: number;
  memory?: number;
}

const int = (flag: string, min: number, max: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${flag} takes a whole number from ${min} to ${max}, not '${v}'`);
  return n;
};

export function addTargetOptions(cmd: Command): Command {
  return cmd
    .option('-t, --target <name>', 'target to run on (see `tsuite targets`)')
    .option('--kernel <file>', "boot this kernel instead of the target's (ELF/multiboot, bzImage)")
    .option('--initrd <file|tsuite>', "initrd for --kernel; 'tsuite' for the tsuite initramfs")
    .option('--append <args>', 'extra kernel command line, after the console and panic settings')
    .option('--landmark <regex>', 'console line that means the kernel is up (default: the tsuite boot report)')
    .option('--boot-timeout <ms>', 'time allowed to reach the landmark', int('--boot-timeout', 1000, 3_600_000))
    .option('--accel <auto|kvm|tcg>', 'accelerator; auto uses KVM only where it really works')
    .option('--cpus <n>', 'virtual CPUs', int('--cpus', 1, 64))
    .option('--memory <MiB>', 'guest memory in MiB', int('--memory', 64, 65536));
}

export interface ResolvedTarget {
  name: string;
  def: TargetDef;
  landmark: RegExp;
  eventPatterns: EventPatterns;
}

const regex = (source: string, what: string) => {
  try {
    return new RegExp(source);
  } catch (err) {
    throw new UsageError(`${what} is not a valid regular expression: ${(err as Error).message}`);
  }
};

/** The target named by --target (or the config default), with config and flags applied in that order. */
export function resolveTarget(config: ResolvedConfig, flags: TargetFlags): ResolvedTarget {
  const name = flags.target ?? config.defaultTarget;
  const def: TargetDef = { ...findTarget(name, config.targets) };
  if (flags.accel && !['auto', 'kvm', 'tcg'].includes(flags.accel)) {
    throw new UsageError(`--accel must be auto, kvm or tcg, not '${flags.accel}'`);
  }
  if (flags.kernel) {
    // The user's own kernel gets the tsuite initramfs (and its power-off command) only if asked for.
    def.kernel = flags.kernel;
    def.initrd = flags.initrd;
    if (flags.initrd !== 'tsuite') def.powerOffCommand = undefined;
  } else if (flags.initrd) {
    def.initrd = flags.initrd;
    if (flags.initrd !== 'tsuite') def.powerOffCommand = undefined;
  }
  if (flags.append !== undefined) def.append = [def.append, flags.append].filter(Boolean).join(' ');
  if (flags.landmark) def.landmark = flags.landmark;
  if (flags.bootTimeout) def.bootTimeoutMs = flags.bootTimeout;
  if (flags.accel) def.accel = flags.accel;
  if (flags.cpus) def.cpus = flags.cpus;
  if (flags.memory) def.memoryMb = flags.memory;

  if (!def.landmark && def.initrd !== 'tsuite') {
    throw new UsageError(
      `target '${name}' boots a kernel without the tsuite initramfs, so tsuite cannot know when it is up`,
      "give --landmark '<regex of a console line your kernel prints when ready>', or --initrd tsuite for a Linux kernel",
    );
  }
  const landmark = def.landmark ? regex(def.landmark, 'the landmark') : BOOT_REPORT_READY;
  const extraPanics = (def.panicPatterns ?? []).map((p) => regex(p, `panic pattern '${p}'`));
  const eventPatterns = { ...LINUX_EVENT_PATTERNS, panic: [...LINUX_EVENT_PATTERNS.panic, ...extraPanics] };
  return { name, def, landmark, eventPatterns };
}
