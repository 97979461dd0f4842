import { packageRequirement, programRequirement, type HostRequirement } from '../src/core/host-requirement.js';

/** What fetching the reference kernel and building the initramfs need on the host. */
export function referenceGuestRequirements(): HostRequirement[] {
  return [
    programRequirement('Debian package tools', 'apt-get', 'apt'),
    programRequirement('Debian package unpacker', 'dpkg-deb', 'dpkg'),
    packageRequirement('static busybox for the guest (busybox-static)', 'busybox-static'),
    programRequirement('initramfs archiver', 'cpio', 'cpio'),
  ];
}
