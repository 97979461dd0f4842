import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { InfraError } from '../src/core/errors.js';

/** Module names treat `-` and `_` as the same character, as modprobe does. */
const norm = (name: string) => name.replace(/-/g, '_');

/** Maps every `.ko` under a `lib/modules/<release>` tree by its normalised module name. */
export async function indexModules(modulesDir: string): Promise<Map<string, string>> {
  const index = new Map<string, string>();
  for (const entry of await readdir(join(modulesDir, 'kernel'), { recursive: true })) {
    const file = String(entry);
    if (file.endsWith('.ko')) index.set(norm(file.slice(file.lastIndexOf('/') + 1, -3)), join(modulesDir, 'kernel', file));
  }
  return index;
}

/**
 * Reads `depends=` from a module's `.modinfo` strings. Debian's kernel packages ship no
 * `modules.dep`, so this is how the load order is found without running depmod.
 */
export function parseDepends(ko: Buffer): string[] {
  const at = ko.indexOf('\0depends=');
  if (at < 0) return [];
  const start = at + '\0depends='.length;
  const end = ko.indexOf(0, start);
  const value = ko.subarray(start, end < 0 ? ko.length : end).toString('latin1');
  return value ? value.split(',').map(norm) : [];
}

/** Each wanted module and everything it needs, dependencies first, each once. */
export async function resolveLoadOrder(index: Map<string, string>, wanted: readonly string[]): Promise<string[]> {
  const order: string[] = [];
  const visiting = new Set<string>();
  const visit = async (name: string, from: string) => {
    const key = norm(name);
    if (order.includes(key) || visiting.has(key)) return;
    const path = index.get(key);
    if (!path) throw new InfraError(`kernel module ${key} (needed by ${from}) is not in the kernel package`);
    visiting.add(key);
    for (const dep of parseDepends(await readFile(path))) await visit(dep, key);
    order.push(key);
  };
  for (const name of wanted) await visit(name, 'the guest');
  return order;
}
