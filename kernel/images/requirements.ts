import { InfraError } from '../../src/core/errors.js';
import { fileRequirement, missingRequirements, programRequirement, type HostRequirement } from '../../src/core/host-requirement.js';

/** Programs in /sbin are off a normal user's PATH on Debian: they are run by full path. */
export const SGDISK = '/sbin/sgdisk';

const grubTools = () => programRequirement('GRUB image tools', 'grub-mkrescue', 'grub-common');
const grubEfi = () => fileRequirement('GRUB for UEFI (x86_64-efi)', '/usr/lib/grub/x86_64-efi/modinfo.sh', 'grub-efi-amd64-bin');
const fatTools = () => programRequirement('FAT image tools', 'mcopy', 'mtools');

/** What `buildIso` needs: grub-mkrescue with both GRUB platforms, so the ISO boots under BIOS and UEFI. */
export function isoBuildRequirements(): HostRequirement[] {
  return [
    grubTools(),
    fileRequirement('GRUB for BIOS (i386-pc)', '/usr/lib/grub/i386-pc/cdboot.img', 'grub-pc-bin'),
    grubEfi(),
    programRequirement('ISO writer', 'xorriso', 'xorriso'),
    fatTools(), // grub-mkrescue makes the ISO's EFI boot image with mtools
  ];
}

/** What `buildDisk` needs: a standalone GRUB EFI binary, a GPT, and a FAT filesystem, all unprivileged. */
export function diskBuildRequirements(): HostRequirement[] {
  return [grubTools(), grubEfi(), fatTools(), fileRequirement('GPT partitioner', SGDISK, 'gdisk')];
}

/** What `buildBiosDisk` needs: GRUB's i386-pc boot sector and core image maker, and a FAT filesystem. */
export function biosDiskBuildRequirements(): HostRequirement[] {
  return [
    programRequirement('GRUB image maker', 'grub-mkimage', 'grub-common'),
    fileRequirement('GRUB for BIOS (i386-pc)', '/usr/lib/grub/i386-pc/boot.img', 'grub-pc-bin'),
    fatTools(),
  ];
}

/**
 * What `packageForGce` needs: GNU tar (old-GNU sparse archives, `--hole-detection`) and gzip to
 * write the package, sgdisk to move the backup GPT to the grown disk's end.
 */
export function gcePackageRequirements(): HostRequirement[] {
  return [programRequirement('GNU tar', 'tar', 'tar'), programRequirement('gzip', 'gzip', 'gzip'), fileRequirement('GPT partitioner', SGDISK, 'gdisk')];
}

/** Everything the image builders under kernel/images/ need, for `setup` and `doctor`. */
export function imageBuildRequirements(): HostRequirement[] {
  const seen = new Set<string>();
  return [...isoBuildRequirements(), ...diskBuildRequirements(), ...biosDiskBuildRequirements(), ...gcePackageRequirements()]
    .filter((r) => !seen.has(r.what) && seen.add(r.what));
}

/** Fails with the packages to install when the host lacks any of `reqs`. */
export async function requireTools(what: string, reqs: readonly HostRequirement[]): Promise<void> {
  const missing = await missingRequirements(reqs);
  if (missing.length === 0) return;
  const packages = [...new Set(missing.map((r) => r.debianPackage))];
  throw new InfraError(`${what} needs ${missing.map((r) => r.what).join(', ')}`,
    `install them: apt-get install -y --no-install-recommends ${packages.join(' ')}`);
}
