import { matchShape, type AcceleratorDef, type AcceleratorProblem, type GpuShape } from '../../src/core/accelerator.js';

/**
 * GPUs on Azure: the VM size is the GPU (N-series); nothing is attached. Whole-GPU sizes only (an
 * NVads A10 v5 below NV36 is a slice of one GPU); every size here runs Hyper-V generation 2 (UEFI),
 * which tsuite's image needs.
 */
const sizes = (entries: [string, GpuShape['type'], number][]) => entries.map(([n, type, count]): [string, GpuShape] => [n, { type, count }]);

export const AZURE_GPU_VM_SIZES: ReadonlyMap<string, GpuShape> = new Map(sizes([
  ['Standard_NC4as_T4_v3', 'nvidia-t4', 1], ['Standard_NC8as_T4_v3', 'nvidia-t4', 1], ['Standard_NC16as_T4_v3', 'nvidia-t4', 1], ['Standard_NC64as_T4_v3', 'nvidia-t4', 4],
  ['Standard_NV36ads_A10_v5', 'nvidia-a10', 1], ['Standard_NV72ads_A10_v5', 'nvidia-a10', 2],
  ['Standard_NC24ads_A100_v4', 'nvidia-a100-80gb', 1], ['Standard_NC48ads_A100_v4', 'nvidia-a100-80gb', 2], ['Standard_NC96ads_A100_v4', 'nvidia-a100-80gb', 4],
  ['Standard_ND96asr_v4', 'nvidia-a100-40gb', 8], ['Standard_ND96amsr_A100_v4', 'nvidia-a100-80gb', 8],
  ['Standard_NC40ads_H100_v5', 'nvidia-h100', 1], ['Standard_NC80adis_H100_v5', 'nvidia-h100', 2],
  ['Standard_ND96isr_H100_v5', 'nvidia-h100', 8], ['Standard_ND96isr_H200_v5', 'nvidia-h200', 8],
]));

export function azureAcceleratorProblems(vmSize: string, accel: AcceleratorDef | undefined): AcceleratorProblem[] {
  if (!accel) return [];
  return matchShape(accel, 'azure.vmSize', vmSize, AZURE_GPU_VM_SIZES, `leave accelerator out to run on ${vmSize} unchecked`);
}
