import { describeGpus, matchShape, type AcceleratorDef, type AcceleratorProblem, type GpuShape, type GpuType } from '../../src/core/accelerator.js';

/**
 * GPUs on Compute Engine. Two ways: an N1 machine type takes attached GPUs (instances.insert's
 * `guestAccelerators`, T4, P4, P100 or V100, in fixed counts); an accelerator-optimized machine type
 * (A2, A3, A4, G2) comes with its GPUs and takes no guestAccelerators. Either way the instance
 * cannot live-migrate: `scheduling.onHostMaintenance` must be TERMINATE (tsuite always sets it).
 */

/** GCE's accelerator type names for the GPUs N1 can take, and the counts it allows. */
const N1_ATTACHABLE: Readonly<Partial<Record<GpuType, { name: string; counts: readonly number[] }>>> = Object.freeze({
  'nvidia-t4': { name: 'nvidia-tesla-t4', counts: [1, 2, 4] },
  'nvidia-p4': { name: 'nvidia-tesla-p4', counts: [1, 2, 4] },
  'nvidia-p100': { name: 'nvidia-tesla-p100', counts: [1, 2, 4] },
  'nvidia-v100': { name: 'nvidia-tesla-v100', counts: [1, 2, 4, 8] },
});

const shapes = (type: GpuType, byName: Record<string, number>) => Object.entries(byName).map(([n, count]): [string, GpuShape] => [n, { type, count }]);

/** The accelerator-optimized machine types and the GPUs they come with. */
export const GCP_GPU_MACHINE_TYPES: ReadonlyMap<string, GpuShape> = new Map([
  ...shapes('nvidia-l4', { 'g2-standard-4': 1, 'g2-standard-8': 1, 'g2-standard-12': 1, 'g2-standard-16': 1, 'g2-standard-32': 1, 'g2-standard-24': 2, 'g2-standard-48': 4, 'g2-standard-96': 8 }),
  ...shapes('nvidia-a100-40gb', { 'a2-highgpu-1g': 1, 'a2-highgpu-2g': 2, 'a2-highgpu-4g': 4, 'a2-highgpu-8g': 8, 'a2-megagpu-16g': 16 }),
  ...shapes('nvidia-a100-80gb', { 'a2-ultragpu-1g': 1, 'a2-ultragpu-2g': 2, 'a2-ultragpu-4g': 4, 'a2-ultragpu-8g': 8 }),
  ...shapes('nvidia-h100', { 'a3-highgpu-1g': 1, 'a3-highgpu-2g': 2, 'a3-highgpu-4g': 4, 'a3-highgpu-8g': 8, 'a3-megagpu-8g': 8, 'a3-edgegpu-8g': 8 }),
  ...shapes('nvidia-h200', { 'a3-ultragpu-8g': 8 }),
  ...shapes('nvidia-b200', { 'a4-highgpu-8g': 8 }),
]);

const isN1 = (machineType: string) => /^n1-/.test(machineType);
const N1_HINT = "an N1 machine type (e.g. n1-standard-8) with type 'nvidia-t4', 'nvidia-p4', 'nvidia-p100' or 'nvidia-v100'";

/** Whether the machine type and accelerator agree; empty = fine. */
export function gcpAcceleratorProblems(machineType: string, accel: AcceleratorDef | undefined): AcceleratorProblem[] {
  if (!accel) return [];
  if (!isN1(machineType)) return matchShape(accel, 'gcp.machineType', machineType, GCP_GPU_MACHINE_TYPES, `use ${N1_HINT}`);
  if (accel.type === undefined) {
    return [{ path: 'accelerator.type', message: `an N1 machine (${machineType}) takes attached GPUs of a type you name`, fix: "type: 'nvidia-t4', 'nvidia-p4', 'nvidia-p100' or 'nvidia-v100'" }];
  }
  const attachable = N1_ATTACHABLE[accel.type];
  if (!attachable) {
    const optimized = [...GCP_GPU_MACHINE_TYPES].filter(([, s]) => s.type === accel.type && s.count === accel.count).map(([n]) => n);
    return [{
      path: 'accelerator.type', message: `Compute Engine does not attach ${accel.type} to N1 machines; it comes with accelerator-optimized machine types`,
      fix: optimized.length ? `set gcp.machineType: '${optimized[0]}' (${describeGpus({ type: accel.type, count: accel.count })})` : `use an accelerator-optimized machine type with ${accel.type} (a2, a3, a4 or g2)`,
    }];
  }
  if (!attachable.counts.includes(accel.count)) {
    return [{ path: 'accelerator.count', message: `an N1 machine takes ${attachable.counts.join(', ')} × ${accel.type}, not ${accel.count}`, fix: `set count to one of ${attachable.counts.join(', ')}` }];
  }
  return [];
}

/**
 * `guestAccelerators` for instances.insert: the attached GPUs of an N1 machine; none for an
 * accelerator-optimized type (its GPUs come with it) or without an accelerator.
 */
export function gcpGuestAccelerators(zone: string, machineType: string, accel: AcceleratorDef | undefined): { acceleratorType: string; acceleratorCount: number }[] {
  const attachable = accel?.type && N1_ATTACHABLE[accel.type];
  if (!accel || !attachable || !isN1(machineType)) return [];
  return [{ acceleratorType: `zones/${zone}/acceleratorTypes/${attachable.name}`, acceleratorCount: accel.count }];
}
