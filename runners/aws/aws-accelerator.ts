import { matchShape, type AcceleratorDef, type AcceleratorProblem, type GpuShape, type GpuType } from '../../src/core/accelerator.js';

/**
 * GPUs on EC2: the instance type is the GPU (p3, p4d, p5, g4dn, g5, g6...); nothing is attached.
 * x86_64 NVIDIA families only: tsuite's cloud image is x86_64 (g5g is Graviton).
 */
const family = (prefix: string, type: GpuType, bySize: Record<string, number>) =>
  Object.entries(bySize).map(([size, count]): [string, GpuShape] => [`${prefix}.${size}`, { type, count }]);
const oneToFour = { xlarge: 1, '2xlarge': 1, '4xlarge': 1, '8xlarge': 1, '16xlarge': 1, '12xlarge': 4, '24xlarge': 4, '48xlarge': 8 };

export const AWS_GPU_INSTANCE_TYPES: ReadonlyMap<string, GpuShape> = new Map([
  ...family('g4dn', 'nvidia-t4', { xlarge: 1, '2xlarge': 1, '4xlarge': 1, '8xlarge': 1, '16xlarge': 1, '12xlarge': 4, metal: 8 }),
  ...family('g5', 'nvidia-a10g', oneToFour),
  ...family('g6', 'nvidia-l4', oneToFour),
  ...family('g6e', 'nvidia-l40s', oneToFour),
  ...family('p3', 'nvidia-v100', { '2xlarge': 1, '8xlarge': 4, '16xlarge': 8 }),
  ...family('p3dn', 'nvidia-v100', { '24xlarge': 8 }),
  ...family('p4d', 'nvidia-a100-40gb', { '24xlarge': 8 }),
  ...family('p4de', 'nvidia-a100-80gb', { '24xlarge': 8 }),
  ...family('p5', 'nvidia-h100', { '4xlarge': 1, '48xlarge': 8 }),
  ...family('p5e', 'nvidia-h200', { '48xlarge': 8 }),
  ...family('p5en', 'nvidia-h200', { '48xlarge': 8 }),
  ...family('p6-b200', 'nvidia-b200', { '48xlarge': 8 }),
]);

export function awsAcceleratorProblems(instanceType: string, accel: AcceleratorDef | undefined): AcceleratorProblem[] {
  if (!accel) return [];
  return matchShape(accel, 'aws.instanceType', instanceType, AWS_GPU_INSTANCE_TYPES, `leave accelerator out to run on ${instanceType} unchecked`);
}
