import type { AcceleratorDef, AcceleratorProblem } from '../../src/core/accelerator.js';
import { awsAcceleratorProblems } from '../aws/aws-accelerator.js';
import { azureAcceleratorProblems } from '../azure/azure-accelerator.js';
import { gcpAcceleratorProblems } from '../gcp/gcp-accelerator.js';

/**
 * Each provider's default instance type (equal to the provider modules' own: a unit test holds
 * them so). Repeated here so that config validation does not load the cloud SDKs.
 */
export const DEFAULT_INSTANCE_TYPES = Object.freeze({ gcp: 'e2-small', aws: 't3.small', azure: 'Standard_B2s' } as const);

interface TargetLike {
  runner?: unknown;
  accelerator?: AcceleratorDef;
  gcp?: { machineType?: string };
  aws?: { instanceType?: string };
  azure?: { vmSize?: string };
}

/** Whether a target's accelerator and instance type agree, for its provider; empty = fine (or no accelerator). */
export function acceleratorProblems(target: TargetLike): AcceleratorProblem[] {
  const accel = target.accelerator;
  if (!accel) return [];
  switch (target.runner) {
    case 'gcp': return gcpAcceleratorProblems(target.gcp?.machineType ?? DEFAULT_INSTANCE_TYPES.gcp, accel);
    case 'aws': return awsAcceleratorProblems(target.aws?.instanceType ?? DEFAULT_INSTANCE_TYPES.aws, accel);
    case 'azure': return azureAcceleratorProblems(target.azure?.vmSize ?? DEFAULT_INSTANCE_TYPES.azure, accel);
    default:
      return [{ path: 'accelerator', message: 'accelerator asks a cloud provider for GPUs; this target is not a cloud target', fix: "drop it; to give a QEMU guest a host GPU, pass it through: machine: { hostDevices: ['0000:01:00.0'] } (--host-device)" }];
  }
}
