import { fileRequirement, programRequirement, type HostRequirement } from '../../src/core/host-requirement.js';
import type { ArchProfile } from './arch-profile.js';

const QEMU_PACKAGE: Record<string, string> = { x86_64: 'qemu-system-x86', aarch64: 'qemu-system-arm' };

/** What the QEMU runner needs on the host for one arch. */
export function qemuRequirements(profile: ArchProfile): HostRequirement[] {
  const reqs = [programRequirement(`QEMU for ${profile.arch}`, profile.qemuBinary, QEMU_PACKAGE[profile.arch] ?? 'qemu-system')];
  if (profile.firmware) reqs.push(fileRequirement('boot firmware', profile.firmware, 'qemu-system-data'));
  return reqs;
}
