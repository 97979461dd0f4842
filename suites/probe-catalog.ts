import { readFileSync } from 'node:fs';
import { assetPath } from '../src/index.js';

/**
 * What a probe source declares, read from its test table (`PROBE_TEST(name)` or
 * `{ "name", fn }` entries): for `tsuite list`, before anything runs. A name under an `#ifdef`
 * exists on some arches only; the note says so.
 */
export function probeCatalog(probe: string): { names: string[]; archSpecific: string[] } {
  let source: string;
  try {
    source = readFileSync(assetPath('fixtures', 'probes', `${probe}.c`), 'utf8');
  } catch {
    return { names: [], archSpecific: [] };
  }
  const table = source.slice(source.lastIndexOf('struct probe_test'));
  const names: string[] = [];
  const archSpecific: string[] = [];
  let guarded = 0;
  for (const line of table.split('\n')) {
    if (/^\s*#\s*if/.test(line)) guarded++;
    else if (/^\s*#\s*endif/.test(line)) guarded = Math.max(0, guarded - 1);
    const m = /PROBE_TEST\((\w+)\)|\{\s*"([\w.-]+)"\s*,/.exec(line);
    const name = m?.[1] ?? m?.[2];
    if (!name) continue;
    names.push(name);
    if (guarded > 0) archSpecific.push(name);
  }
  return { names, archSpecific };
}
