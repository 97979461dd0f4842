import { packageRequirement, programRequirement, type HostRequirement } from '../src/core/host-requirement.js';
import { hostArch, isForeignArch } from './reference/foreign-apt.js';

/**
 * What fetching the reference kernel and building the initramfs need on the host. A guest of the
 * host's own arch takes the host's busybox-static; one of another arch (aarch64 on x86) gets
 * Debian's busybox-static for its arch in the cache, so the host needs none. The guest agent
 * (qemu-guest-agent and its libraries, for either arch) needs only apt-get and dpkg-deb: its ELF
 * files are read by tsuite itself, never run on the host.
 */
export function referenceGuestRequirements(guestArch: string = hostArch()): HostRequirement[] {
  return [
    programRequirement('Debian package tools', 'apt-get', 'apt'),
    programRequirement('Debian package unpacker', 'dpkg-deb', 'dpkg'),
    ...(isForeignArch(guestArch) ? [] : [packageRequirement('static busybox for the guest (busybox-static)', 'busybox-static')]),
    programRequirement('initramfs archiver', 'cpio', 'cpio'),
  ];
}
