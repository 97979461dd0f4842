import { UsageError } from '../../../src/core/errors.js';
import type { ArchProfile } from '../arch-profile.js';
import aarch64 from './aarch64.js';
import x86_64 from './x86_64.js';

export const profiles: Readonly<Record<string, Readonly<ArchProfile>>> = Object.freeze({ x86_64, aarch64 });

export function profileFor(arch: string): Readonly<ArchProfile> {
  const p = profiles[arch];
  if (!p) throw new UsageError(`no QEMU profile for arch '${arch}'`, `use one of: ${Object.keys(profiles).join(', ')}`);
  return p;
}
