import { fileRequirement, programRequirement, type HostRequirement } from '../../src/core/host-requirement.js';

/** The sbin programs by full path: they are off a normal user's PATH on Debian. */
export const MKE2FS = '/sbin/mke2fs';
export const DEPMOD = '/sbin/depmod';
export const USERADD = '/sbin/useradd';

/**
 * What building the container host rootfs needs (as root): mmdebstrap for the Debian tree, depmod
 * for its modules.dep, useradd for the `tsuite` user, and mke2fs 1.43+ (`-d`) to pack it.
 */
export function nodeRootfsRequirements(): HostRequirement[] {
  return [
    programRequirement('Debian rootfs builder', 'mmdebstrap', 'mmdebstrap'),
    fileRequirement('ext4 image packer', MKE2FS, 'e2fsprogs'),
    fileRequirement('module index builder', DEPMOD, 'kmod'),
    fileRequirement('user tool', USERADD, 'passwd'),
    programRequirement('Debian package query', 'dpkg-query', 'dpkg'),
  ];
}
