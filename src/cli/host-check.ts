import { fileRequirement, missingRequirements, type HostRequirement } from '../core/host-requirement.js';
import type { TargetDef } from '../core/target.js';
import { nodeRootfsRequirements } from '../../kernel/node/requirements.js';
import { profileFor } from '../../runners/qemu/profiles/index.js';
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

/** Debian's docker client: the containers suite proves that standard Docker tooling drives the target. */
const dockerCli = fileRequirement("Docker CLI (Debian's client, for the containers suite)", '/usr/bin/docker', 'docker.io');

/** The registry the cri suite pulls tsuite's images from, started on this host (oci-images/registry). */
const registry = [
  fileRequirement("OCI registry (Debian's docker-registry, for the cri suite's pulls)", '/usr/bin/docker-registry', 'docker-registry'),
  fileRequirement('openssl (the local registry\'s TLS certificate)', '/usr/bin/openssl', 'openssl'),
];

/** Everything the host needs for one target: QEMU and the reference guest, the container host's rootfs builder, the docker client, the registry. */
export function targetRequirements(def: TargetDef): HostRequirement[] {
  const docker = def.docker ? [dockerCli] : [];
  const cri = def.cri ? registry : [];
  if (def.runner === 'docker') return docker;
  if (def.runner === 'cri') return cri;
  return [...hostRequirements(profileFor(def.arch)), ...(def.rootfs === 'node' ? nodeRootfsRequirements() : []), ...docker, ...cri];
}

export async function missingPackages(def: TargetDef): Promise<{ missing: HostRequirement[]; packages: string[] }> {
  const missing = await missingRequirements(targetRequirements(def));
  return { missing, packages: [...new Set(missing.map((r) => r.debianPackage))] };
}

export const installCommand = (packages: readonly string[]) =>
  `sudo apt-get update && sudo apt-get install -y --no-install-recommends ${packages.join(' ')}`;
