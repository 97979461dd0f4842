import { readFile } from 'node:fs/promises';
import { parseDepends } from '../modules.js';

/**
 * Modules the reference initramfs carries but does not load at boot: a suite loads them over the
 * guest agent when it needs them (`loadOptionalModulesCommand`). They live apart from the boot
 * modules, in their own folder with their own load order, so init.sh never sees them.
 */
export const OPTIONAL_MODULES_DIR = '/lib/modules/optional';

/**
 * VFIO for the gpu suite (Debian's kernels build it as modules). vfio_iommu_type1 is no
 * dependency of vfio-pci (vfio asks for it only when a container sets an IOMMU), so it is named.
 */
export const VFIO_MODULES = ['vfio', 'vfio_iommu_type1', 'vfio_pci'] as const;

/** The optional modules of the reference initramfs, unless a request names its own. */
export const DEFAULT_OPTIONAL_MODULES: readonly string[] = VFIO_MODULES;

const norm = (name: string) => name.replace(/-/g, '_');

/**
 * Each wanted module and what it needs, dependencies first, leaving out what `loaded` (the boot
 * modules) already has. Optional means optional: a module the kernel lacks (a kernel with VFIO
 * built in, or without it) is left out with everything that needs it, never an error.
 */
export async function resolveOptionalModules(
  index: Map<string, string>,
  wanted: readonly string[],
  loaded: readonly string[],
): Promise<string[]> {
  const order: string[] = [];
  const missing = new Set<string>();
  const visit = async (name: string, seen: Set<string>): Promise<boolean> => {
    const key = norm(name);
    if (order.includes(key) || loaded.includes(key)) return true;
    if (missing.has(key) || seen.has(key)) return !missing.has(key);
    const path = index.get(key);
    if (!path) {
      missing.add(key);
      return false;
    }
    seen.add(key);
    for (const dep of parseDepends(await readFile(path))) {
      if (!(await visit(dep, seen))) {
        missing.add(key);
        return false;
      }
    }
    order.push(key);
    return true;
  };
  for (const name of wanted) await visit(name, new Set());
  return order;
}

/**
 * A guest shell command that loads the optional modules in order: `insmod` each, a module
 * already loaded ("File exists") is fine; the first other failure stops it with status 1.
 * Busybox sh, as the reference initramfs has.
 */
export function loadOptionalModulesCommand(dir: string = OPTIONAL_MODULES_DIR): string {
  return (
    `[ -f ${dir}/load-order ] || { echo "no ${dir}/load-order" >&2; exit 1; }; ` +
    `while read -r m; do out=$(insmod ${dir}/$m.ko 2>&1) || case "$out" in *"File exists"*) ;; ` +
    `*) echo "insmod $m: $out" >&2; exit 1 ;; esac; done < ${dir}/load-order`
  );
}
