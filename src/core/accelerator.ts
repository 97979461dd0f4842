/**
 * The GPUs a cloud target's instance must have (`accelerator` on a gcp, aws or azure target), in
 * tsuite's own provider-independent names, so one config line means the same GPU on every cloud.
 * Each provider says how it gets them (runners/<provider>/<provider>-accelerator.ts): on GCP an N1
 * machine takes attached GPUs and accelerator-optimized types (a2, a3, a4, g2) come with theirs; on
 * EC2 and Azure the instance type or VM size is the GPU. Config validation holds the two equal.
 */
export const GPU_TYPES = [
  'nvidia-t4', 'nvidia-p4', 'nvidia-p100', 'nvidia-v100', 'nvidia-a10', 'nvidia-a10g', 'nvidia-l4', 'nvidia-l40s',
  'nvidia-a100-40gb', 'nvidia-a100-80gb', 'nvidia-h100', 'nvidia-h200', 'nvidia-b200',
] as const;
export type GpuType = (typeof GPU_TYPES)[number];

export interface AcceleratorDef {
  /** The GPU model; optional where the machine type already says which (it is then checked). */
  type?: GpuType;
  /** How many whole GPUs. */
  count: number;
}

/** The GPUs an instance type has. */
export interface GpuShape {
  type: GpuType;
  count: number;
}

export interface AcceleratorProblem {
  /** Relative to the target, e.g. `accelerator.count` or `gcp.machineType`. */
  path: string;
  message: string;
  fix: string;
}

/** `2 × nvidia-l4`. */
export const describeGpus = (g: GpuShape) => `${g.count} × ${g.type}`;

/**
 * Problems with an accelerator against the GPUs of the instance type a provider gives it
 * (`shapes`: every type tsuite knows, name → GPUs), naming types that would match.
 */
export function matchShape(accel: AcceleratorDef, typeField: string, chosen: string, shapes: ReadonlyMap<string, GpuShape>, leaveOut: string): AcceleratorProblem[] {
  // Azure compares VM sizes without case; GCE and EC2 names are lower-case anyway.
  const shape = [...shapes].find(([n]) => n.toLowerCase() === chosen.toLowerCase())?.[1];
  // Without a type, the GPU the chosen type has is meant: suggest its siblings.
  const wanted = accel.type ?? shape?.type;
  const fitting = [...shapes].filter(([, s]) => (wanted === undefined || s.type === wanted) && s.count === accel.count).map(([n]) => n);
  const suggest = fitting.length ? `use ${fitting.slice(0, 4).join(', ')}` : `no type tsuite knows has ${accel.count} × ${accel.type ?? 'GPU'}; change the count`;
  if (!shape) {
    return [{ path: typeField, message: `${chosen} has no GPU tsuite knows of, yet accelerator asks for ${accel.count} × ${accel.type ?? 'GPU'}`, fix: `${suggest}; or ${leaveOut}` }];
  }
  const problems: AcceleratorProblem[] = [];
  if (accel.type !== undefined && accel.type !== shape.type) {
    problems.push({ path: 'accelerator.type', message: `${chosen} has ${describeGpus(shape)}, not ${accel.type}`, fix: `${suggest}; or set type: '${shape.type}'` });
  } else if (accel.count !== shape.count) {
    problems.push({ path: 'accelerator.count', message: `${chosen} has ${describeGpus(shape)}, not ${accel.count}`, fix: `${suggest}; or set count: ${shape.count}` });
  }
  return problems;
}
