import { allowedHostCpus } from '../core/host-cpus.js';
import { availableMemoryMb, defaultWorkers } from '../core/default-workers.js';
import { chooseAccel } from '../../runners/qemu/accel.js';
import { profileFor } from '../../runners/qemu/profiles/index.js';
import type { ResolvedTarget } from './target-options.js';

/**
 * The sessions `run` boots at once: the user's --workers, or the host's default for this target
 * (src/core/default-workers.ts has the rule). Only QEMU boots here count against the host.
 */
export async function workersFor(target: ResolvedTarget, flag?: number): Promise<{ workers: number; why: string }> {
  if (flag !== undefined) return { workers: flag, why: '--workers' };
  const { def } = target;
  // An untried KVM may yet fall back to TCG: sized as TCG until a boot has proved it.
  const accel = def.runner === 'qemu' ? await chooseAccel(def.accel, profileFor(def.arch)) : undefined;
  return defaultWorkers({
    hostCpus: (await allowedHostCpus()).length,
    availableMemoryMb: await availableMemoryMb(),
    guestCpus: def.cpus,
    guestMemoryMb: def.memoryMb,
    accel: accel === undefined ? 'none' : accel.accel === 'kvm' && !accel.tentative ? 'kvm' : 'tcg',
  });
}
