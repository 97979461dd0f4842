import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { InfraError } from '../../src/core/errors.js';
import { exec, execChecked } from '../../src/core/exec.js';
import { onPath } from '../../src/core/host-requirement.js';
import { assetPath, cacheDir } from '../../src/core/paths.js';
import type { Progress } from '../../src/core/progress.js';
import { probeToolchain, type ProbeArch } from './toolchain.js';

/** The flags of the probe contract (fixtures/probes/README.md): static, so they run in any guest. */
export const PROBE_CFLAGS = ['-static', '-O1', '-Wall'] as const;

export interface BuiltProbes {
  /** `<cache>/probes/<arch>-<hash>/`, holding one binary per probe. */
  dir: string;
  /** Probe names (the source file names without `.c`), sorted; each is a file in `dir`. */
  probes: string[];
}

export interface ProbeSources {
  dir: string;
  /** The `.c` files, each one probe. */
  probes: string[];
  /** Headers they share (probe.h). */
  headers: string[];
}

/** The probe sources shipped with tsuite: fixtures/probes/*.c and their headers. */
export async function probeSources(dir: string = assetPath('fixtures', 'probes')): Promise<ProbeSources> {
  const files = (await readdir(dir)).sort();
  return {
    dir,
    probes: files.filter((f) => f.endsWith('.c')).map((f) => f.slice(0, -2)),
    headers: files.filter((f) => f.endsWith('.h')),
  };
}

/**
 * Compiles every probe for `arch` into `<root>/probes/<arch>-<hash>/<name>`, static. The hash
 * covers the sources, the headers, the flags and the compiler's version, so a second call with
 * nothing changed is a lookup, and a compiler upgrade rebuilds. The directory appears whole or
 * not at all (built aside, then renamed); older builds for the arch are then removed.
 */
export async function buildProbes(
  arch: ProbeArch,
  progress?: Progress,
  root: string = cacheDir(),
  sources?: ProbeSources,
): Promise<BuiltProbes> {
  const src = sources ?? (await probeSources());
  const tc = probeToolchain(arch);
  const fix = `run \`npx tsuite setup\` (installs ${tc.compilerPackage} and ${tc.libcPackage})`;
  if (!onPath(tc.cc)) throw new InfraError(`no C compiler for ${arch} probes: '${tc.cc}' is not installed`, fix);
  if (src.probes.length === 0) throw new InfraError(`no probe sources (*.c) in ${src.dir}`, 'reinstall tsuite: its fixtures are missing');

  const version = (await execChecked(tc.cc, ['--version'], { fix })).stdout.split('\n')[0] ?? '';
  const hash = createHash('sha256').update(`${tc.cc}\n${version}\n${PROBE_CFLAGS.join(' ')}\n`);
  for (const f of [...src.headers, ...src.probes.map((p) => `${p}.c`)]) {
    hash.update(`${f}\n`).update(await readFile(join(src.dir, f)));
  }
  const base = join(root, 'probes');
  const out = join(base, `${arch}-${hash.digest('hex').slice(0, 16)}`);
  const probes = [...src.probes];
  if (existsSync(out) && probes.every((p) => existsSync(join(out, p)))) return { dir: out, probes };

  await mkdir(base, { recursive: true });
  const stage = await mkdtemp(join(base, `.stage-${arch}-`));
  try {
    const work = () => compileAll(tc.cc, src, stage, fix);
    await (progress ? progress.step(`Building ${probes.length} probes for ${arch}`, work) : work());
    await rm(out, { recursive: true, force: true });
    await rename(stage, out);
    await pruneOldBuilds(base, arch, out);
    return { dir: out, probes };
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

/** Earlier builds for the same arch (older sources or compiler) are dead weight once a new one exists. */
async function pruneOldBuilds(base: string, arch: ProbeArch, keep: string): Promise<void> {
  for (const d of await readdir(base)) {
    const path = join(base, d);
    if (path !== keep && new RegExp(`^${arch}-[0-9a-f]{16}$`).test(d)) await rm(path, { recursive: true, force: true });
  }
}

/** Compiles the probes a few at a time (each gcc is one process; the host may be small). */
async function compileAll(cc: string, src: ProbeSources, outDir: string, fix: string): Promise<void> {
  const queue = [...src.probes];
  const worker = async () => {
    for (let p = queue.shift(); p !== undefined; p = queue.shift()) {
      const r = await exec(cc, [...PROBE_CFLAGS, '-I', src.dir, '-o', join(outDir, p), join(src.dir, `${p}.c`)]);
      if (r.code !== 0) {
        const tail = r.stderr.trim().split('\n').slice(-8).join('\n');
        throw new InfraError(`probe ${p} does not compile with ${cc}:\n${tail}`, `fix fixtures/probes/${p}.c, or ${fix}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(4, availableParallelism(), queue.length) }, worker));
}
