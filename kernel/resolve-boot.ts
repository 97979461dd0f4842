import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { InfraError, UsageError } from '../src/core/errors.js';
import type { Progress } from '../src/core/progress.js';
import type { KernelInfo } from '../src/core/result.js';
import { defaultFirmware, type BootSpec } from '../src/core/runner.js';
import { checkMachineFiles } from '../src/core/machine.js';
import { bootsFromDrives, type TargetDef } from '../src/core/target.js';
import type { ArchProfile } from '../runners/qemu/arch-profile.js';
import { detectImageKind } from './images/image-kind.js';
import { buildInitramfs, type ExtraFile } from './initramfs/build-initramfs.js';
import { fetchGuestAgent } from './reference/debian-guest-agent.js';
import { isForeignArch } from './reference/foreign-apt.js';
import { fetchReferenceGuest, type ReferenceGuest } from './reference/reference-guest.js';
import { buildFromSource } from './source-build.js';
import { buildFixtureKernel } from './fixture/build-fixture-kernel.js';

export interface ResolvedBoot {
  kernel: KernelInfo;
  boot: BootSpec;
}

export interface ResolveBootOptions {
  /** More files for the tsuite initramfs (probe binaries), beside the guest agent it always holds. */
  extraFiles?: readonly ExtraFile[];
}

/**
 * Turns a target's kernel and initrd settings into files on disk: the reference kernel is fetched
 * and the tsuite initramfs built (both cached; the initramfs holds Debian's qemu-guest-agent for
 * the arch), the user's files are checked to exist. An image needs neither: its own bootloader
 * loads what it holds. A root filesystem (`rootfs: 'node'`, the container host tsuite builds, or
 * the user's ext4 image) replaces the tsuite initramfs: the kernel mounts it from NVMe.
 */
export async function resolveBoot(target: TargetDef, profile: ArchProfile, progress: Progress, cwd = process.cwd(), options: ResolveBootOptions = {}): Promise<ResolvedBoot> {
  checkMachineFiles(target.machine, cwd);
  if (target.image) return resolveImage(target, target.image, profile, cwd);
  if (bootsFromDrives(target)) return resolveDriveBoot(target, profile);
  let reference: ReferenceGuest | undefined;
  const referenceGuest = async () => (reference ??= await fetchReferenceGuest(profile, progress));
  const userFile = (flag: string, path: string) => {
    const full = resolve(cwd, path);
    if (!existsSync(full)) throw new UsageError(`${flag} file not found: ${full}`, `pass an existing file to ${flag}`);
    return full;
  };

  // The container host's builder pulls in the OCI image tooling (registry client, tar, bcrypt): loaded only for a root filesystem.
  const nodeRootfs = target.rootfs ? await import('./node/build-node-rootfs.js') : undefined;
  // A root filesystem: the kernel mounts it from the NVMe disk; the user's --append comes last, so it can override.
  const rootArgs = target.rootfs === 'node' ? nodeRootfs!.NODE_CMDLINE : target.rootfs ? `root=${nodeRootfs!.NODE_ROOT_DEVICE} rw rootwait` : undefined;
  const cmdline = [profile.defaultCmdline, rootArgs, target.append].filter(Boolean).join(' ');
  let kernel: KernelInfo;
  if (target.kernelSrc) {
    const build = target.build ?? `make -j${availableParallelism()}`;
    const built = await buildFromSource({ srcDir: resolve(cwd, target.kernelSrc), build, artifact: target.kernelArtifact ?? '' }, progress);
    kernel = { path: built.path, source: 'source', revision: built.revision, buildLog: built.log, cmdline };
  } else if (target.kernel === 'fixture') {
    kernel = { path: await buildFixtureKernel(progress), source: 'fixture', cmdline };
  } else if (target.kernel === 'reference') {
    const { kernel: k } = await referenceGuest();
    kernel = { path: k.vmlinuz, source: 'debian-package', package: k.package, version: k.version, cmdline };
  } else {
    kernel = { path: userFile('--kernel', target.kernel), source: 'file', cmdline };
  }

  let rootfs: string | undefined;
  if (target.rootfs === 'node') {
    // The container host: Debian with dockerd, holding the reference kernel's modules.
    if (isForeignArch(profile.arch)) {
      throw new UsageError(`the container host rootfs (rootfs: 'node') is built for this host's arch only, not ${profile.arch}`, 'use an x86_64 target such as qemu-x86-node, or pass your own ext4 image as rootfs');
    }
    const { kernel: k } = await referenceGuest();
    rootfs = (await nodeRootfs!.buildNodeRootfs({ kernel: k }, progress)).image;
  } else if (target.rootfs) {
    rootfs = userFile('--rootfs', target.rootfs);
  }

  let initrd: string | undefined;
  // The tsuite initramfs never mounts a root filesystem: with one, the kernel boots without it.
  if (target.initrd === 'tsuite' && !rootfs) {
    const { kernel: k, busybox } = await referenceGuest();
    const agent = await fetchGuestAgent(profile.arch, progress);
    const extraFiles = [...agent.files, ...(options.extraFiles ?? [])];
    initrd = await buildInitramfs({ modulesDir: k.modulesDir, release: k.release, busybox, extraFiles }, progress);
  } else if (target.initrd) {
    initrd = userFile('--initrd', target.initrd);
  }
  kernel.initrd = initrd;
  kernel.rootfs = rootfs;
  return { kernel, boot: { kernel: kernel.path, initrd, cmdline, rootfs } };
}

/**
 * A boot from the machine's drives: the firmware (SeaBIOS unless `firmware: 'uefi'`) boots the
 * first bootable drive, whose bootloader chooses kernel and command line, as an image's does.
 */
function resolveDriveBoot(target: TargetDef, profile: ArchProfile): ResolvedBoot {
  const firmware = target.firmware ?? 'bios';
  if (firmware === 'uefi') checkUefi(profile);
  const drives = target.machine!.drives!;
  const first = [...drives].sort((a, b) => (a.bootIndex ?? Infinity) - (b.bootIndex ?? Infinity))[0]!;
  const cmdline = target.imageCmdline ?? '';
  return { kernel: { path: first.file, source: 'drives', cmdline }, boot: { kernel: '', cmdline, driveBoot: true, firmware } };
}

function checkUefi(profile: ArchProfile): void {
  if (!profile.uefi) throw new UsageError(`no UEFI firmware is known for ${profile.arch}`, 'use --firmware bios');
  const missing = [profile.uefi.code, profile.uefi.vars].filter((f) => !existsSync(f));
  if (missing.length > 0) throw new InfraError(`UEFI firmware not found: ${missing.join(', ')}`, 'run `npx tsuite setup` as root (installs the UEFI firmware), or use --firmware bios');
}

/**
 * An image boot: what the image is (by content), the firmware for it, and the command line the
 * target states the image passes ('' when not stated: tsuite cannot know what a bootloader passes).
 */
async function resolveImage(target: TargetDef, image: string, profile: ArchProfile, cwd: string): Promise<ResolvedBoot> {
  const path = resolve(cwd, image);
  if (!existsSync(path)) throw new UsageError(`--image file not found: ${path}`, 'pass an existing ISO or raw disk image to --image');
  const imageKind = await detectImageKind(path);
  const firmware = target.firmware ?? defaultFirmware(imageKind);
  if (firmware === 'uefi') checkUefi(profile);
  const cmdline = target.imageCmdline ?? '';
  return {
    kernel: { path, source: 'image', cmdline },
    boot: { kernel: '', cmdline, image: path, imageKind, firmware },
  };
}
