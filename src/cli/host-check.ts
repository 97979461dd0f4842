import { missingRequirements, type HostRequirement } from '../core/host-requirement.js';
import { referenceGuestRequirements } from '../../kernel/requirements.js';
import { imageBuildRequirements } from '../../kernel/images/requirements.js';
import { fixtureKernelRequirements } from '../../kernel/fixture/requirements.js';
import { probeBuildRequirements } from '../../kernel/probes/requirements.js';
import type { ProbeArch } from '../../kernel/probes/toolchain.js';
import type { ArchProfile } from '../../runners/qemu/arch-profile.js';
import { qemuRequirements } from '../../runners/qemu/requirements.js';

/** Everything the host needs to run a target of this arch with the reference guest. */
export function hostRequirements(profile: ArchProfile): HostRequirement[] {
  return [...qemuRequirements(profile), ...referenceGuestRequirements(profile.arch), ...imageBuildRequirements(), ...fixtureKernelRequirements(),
    ...probeBuildRequirements(profile.arch as ProbeArch)];
}

export async function missingPackages(profile: ArchProfile): Promise<{ missing: HostRequirement[]; packages: string[] }> {
  const missing = await missingRequirements(hostRequirements(profile));
  return { missing, packages: [...new Set(missing.map((r) => r.debianPackage))] };
}

export const installCommand = (packages: readonly string[]) =>
  `sudo apt-get update && sudo apt-get install -y --no-install-recommends ${packages.join(' ')}`;
