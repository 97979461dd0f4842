import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { UsageError } from '../src/core/errors.js';
import type { Progress } from '../src/core/progress.js';
import type { KernelInfo } from '../src/core/result.js';
import type { BootSpec } from '../src/core/runner.js';
import type { TargetDef } from '../src/core/target.js';
import type { ArchProfile } from '../runners/qemu/arch-profile.js';
import { buildInitramfs } from './initramfs/build-initramfs.js';
import { fetchDebianKernel, type DebianKernel } from './reference/debian-kernel.js';

export interface ResolvedBoot {
  kernel: KernelInfo;
  boot: BootSpec;
}

/**
 * Turns a target's kernel and initrd settings into files on disk: the reference kernel is fetched
 * and the tsuite initramfs built (both cached), the user's files are checked to exist.
 */
export async function resolveBoot(target: TargetDef, profile: ArchProfile, progress: Progress, cwd = process.cwd()): Promise<ResolvedBoot> {
  let reference: DebianKernel | undefined;
  const referenceKernel = async () => (reference ??= await fetchDebianKernel(profile.referenceKernelPackage, progress));
  const userFile = (flag: string, path: string) => {
    const full = resolve(cwd, path);
    if (!existsSync(full)) throw new UsageError(`${flag} file not found: ${full}`, `pass an existing file to ${flag}`);
    return full;
  };

  const cmdline = [profile.defaultCmdline, target.append].filter(Boolean).join(' ');
  let kernel: KernelInfo;
  if (target.kernel === 'reference') {
    const k = await referenceKernel();
    kernel = { path: k.vmlinuz, source: 'debian-package', package: k.package, version: k.version, cmdline };
  } else {
    kernel = { path: userFile('--kernel', target.kernel), source: 'file', cmdline };
  }

  let initrd: string | undefined;
  if (target.initrd === 'tsuite') {
    const k = await referenceKernel();
    initrd = await buildInitramfs({ modulesDir: k.modulesDir, release: k.release, busybox: profile.busybox }, progress);
  } else if (target.initrd) {
    initrd = userFile('--initrd', target.initrd);
  }
  kernel.initrd = initrd;
  return { kernel, boot: { kernel: kernel.path, initrd, cmdline } };
}
