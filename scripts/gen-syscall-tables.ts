/**
 * Regenerates fixtures/syscalls/<arch>.json (syscall name -> number) from the kernel UAPI headers
 * the compilers see: the host's `asm/unistd.h` (x86_64: asm/unistd_64.h) and the cross
 * toolchain's (aarch64: asm-generic/unistd.h). The preprocessor resolves the arch conditionals;
 * aliases such as `__NR_fcntl __NR3264_fcntl` are resolved here.
 *   npx jiti scripts/gen-syscall-tables.ts [x86_64|aarch64 ...]
 * Needs gcc and aarch64-linux-gnu-gcc (packages gcc, gcc-aarch64-linux-gnu, libc6-dev-arm64-cross).
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assetPath } from '../src/core/paths.js';

const compilers = { x86_64: 'gcc', aarch64: 'aarch64-linux-gnu-gcc' } as const;
type Arch = keyof typeof compilers;

/** Macros that are counts or bases, not system calls. */
const notSyscalls = new Set(['syscalls', 'arch_specific_syscall']);

export function syscallTable(defines: string): Record<string, number> {
  const macros = new Map<string, string>();
  for (const line of defines.split('\n')) {
    const m = /^#define (__NR\w+) (.+)$/.exec(line.trim());
    if (m) macros.set(m[1]!, m[2]!.trim());
  }
  const resolve = (value: string, depth = 0): number | undefined => {
    const v = value.replace(/^\((.*)\)$/, '$1').trim();
    if (/^\d+$/.test(v)) return Number(v);
    const sum = /^(__NR\w+)\s*\+\s*(\d+)$/.exec(v);
    if (sum && depth < 8) {
      const base = macros.get(sum[1]!);
      const b = base === undefined ? undefined : resolve(base, depth + 1);
      return b === undefined ? undefined : b + Number(sum[2]);
    }
    const next = macros.get(v);
    return next !== undefined && depth < 8 ? resolve(next, depth + 1) : undefined;
  };
  const table: [string, number][] = [];
  for (const [name, value] of macros) {
    if (!name.startsWith('__NR_')) continue;
    const syscall = name.slice('__NR_'.length);
    if (notSyscalls.has(syscall)) continue;
    const n = resolve(value);
    if (n !== undefined) table.push([syscall, n]);
  }
  table.sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0]));
  return Object.fromEntries(table);
}

function generate(arch: Arch): void {
  const defines = execFileSync(compilers[arch], ['-E', '-dM', '-'], { input: '#include <asm/unistd.h>\n', encoding: 'utf8' });
  const table = syscallTable(defines);
  const file = join(assetPath('fixtures', 'syscalls'), `${arch}.json`);
  writeFileSync(file, `${JSON.stringify(table, null, 2)}\n`);
  console.log(`${file}: ${Object.keys(table).length} syscalls`);
}

const wanted = process.argv.slice(2);
for (const arch of (wanted.length ? wanted : Object.keys(compilers)) as Arch[]) {
  if (!(arch in compilers)) throw new Error(`unknown arch ${arch}: use ${Object.keys(compilers).join(' or ')}`);
  generate(arch);
}
