import { fileRequirement, programRequirement, type HostRequirement } from '../../src/core/host-requirement.js';
import type { ArchProfile } from './arch-profile.js';

const QEMU_PACKAGE: Record<string, string> = { x86_64: 'qemu-system-x86', aarch64: 'qemu-system-arm' };
/** Debian packages of the UEFI firmware QEMU boots images with. */
const UEFI_PACKAGE: Record<string, string> = { x86_64: 'ovmf', aarch64: 'qemu-efi-aarch64' };

/** What the QEMU runner needs on the host for one arch. */
export function qemuRequirements(profile: ArchProfile): HostRequirement[] {
  const reqs = [programRequirement(`QEMU for ${profile.arch}`, profile.qemuBinary, QEMU_PACKAGE[profile.arch] ?? 'qemu-system')];
  if (profile.firmware) reqs.push(fileRequirement('boot firmware', profile.firmware, 'qemu-system-data'));
  if (profile.uefi) {
    const pkg = UEFI_PACKAGE[profile.arch] ?? 'ovmf';
    reqs.push(fileRequirement('UEFI firmware for --image boots', profile.uefi.code, pkg));
    reqs.push(fileRequirement('UEFI variable store template', profile.uefi.vars, pkg));
  }
  return reqs;
}
