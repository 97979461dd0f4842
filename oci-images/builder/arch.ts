import { UsageError } from '../../src/core/errors.js';
import type { ProbeArch } from '../../kernel/probes/toolchain.js';

/** tsuite's arch names (`uname -m`) and OCI's (`GOARCH`), either accepted. */
const ARCHES: readonly { arch: ProbeArch; oci: string }[] = [
  { arch: 'x86_64', oci: 'amd64' },
  { arch: 'aarch64', oci: 'arm64' },
];

/** `x86_64` or `amd64` → both names; an engine's `Arch` (`x86_64`) works too. */
export function imageArch(arch: string): { arch: ProbeArch; oci: string } {
  const found = ARCHES.find((a) => a.arch === arch || a.oci === arch);
  if (!found) throw new UsageError(`no test images for arch '${arch}'`, `use one of: ${ARCHES.map((a) => `${a.arch} (${a.oci})`).join(', ')}`);
  return found;
}
