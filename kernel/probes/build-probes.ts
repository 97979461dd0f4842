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
/** The benchmarks (fixtures/bench/README.md): static too, and optimised, since their loops are timed. */
export const BENCH_CFLAGS = ['-static', '-O2', '-Wall'] as const;

/**
 * A set of static C programs built per arch: the probes, or the benchmarks. Each set has its own
 * cache folder `<cache>/<name>/<arch>-<hash>/`, so building (and pruning) one never touches the other.
 */
interface ProgramSet {
  /** The cache subfolder, also the word used in messages. */
  name: 'probes' | 'bench' | 'gpu' | 'nvidia';
  /** One program, for messages. */
  noun: string;
  cflags: readonly string[];
  /** Linker flags, after the source (a dynamic set's libraries). */
  ldflags?: readonly string[];
  fixtures: string;
}
const PROBE_SET: ProgramSet = { name: 'probes', noun: 'probe', cflags: PROBE_CFLAGS, fixtures: 'fixtures/probes' };
const BENCH_SET: ProgramSet = { name: 'bench', noun: 'benchmark', cflags: BENCH_CFLAGS, fixtures: 'fixtures/bench' };
/** The gpu suite's static probes (fixtures/gpu/*.c, not its subfolders): the probe flags and probe.h. */
const GPU_SET: ProgramSet = { name: 'gpu', noun: 'gpu probe', cflags: PROBE_CFLAGS, fixtures: 'fixtures/gpu' };
/**
 * The NVIDIA stack probes (fixtures/gpu/nvidia/README.md): DYNAMIC, unlike every other set, since
 * they dlopen the driver's libcuda.so.1 / libnvidia-ml.so.1, which only glibc's dynamic loader can
 * load. They need no CUDA toolkit: the API they call is declared in their own headers.
 */
export const NVIDIA_CFLAGS = ['-O2', '-Wall'] as const;
export const NVIDIA_LDFLAGS = ['-ldl'] as const;
const NVIDIA_SET: ProgramSet = { name: 'nvidia', noun: 'NVIDIA probe', cflags: NVIDIA_CFLAGS, ldflags: NVIDIA_LDFLAGS, fixtures: 'fixtures/gpu/nvidia' };

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

export interface BuiltBench {
  /** `<cache>/bench/<arch>-<hash>/`, holding one binary per benchmark. */
  dir: string;
  /** Benchmark names (the source file names without `.c`), sorted; each is a file in `dir`. */
  programs: string[];
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

/** The benchmark sources shipped with tsuite: fixtures/bench/*.c and their header (same layout as the probes). */
export function benchSources(dir: string = assetPath('fixtures', 'bench')): Promise<ProbeSources> {
  return probeSources(dir);
}

/**
 * The gpu suite's static probe sources: fixtures/gpu/*.c (subfolders such as nvidia/ are other
 * sets) with their vfio-*.h headers, and ../probes/probe.h, which they include by that path, so
 * a change to it rebuilds them.
 */
export async function gpuSources(dir: string = assetPath('fixtures', 'gpu')): Promise<ProbeSources> {
  const src = await probeSources(dir);
  return { ...src, headers: [...src.headers, join('..', 'probes', 'probe.h')] };
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
  const built = await buildSet(PROBE_SET, arch, progress, root, sources ?? (await probeSources()));
  return { dir: built.dir, probes: built.names };
}

/** The same for the gpu probes (fixtures/gpu/*.c), into `<root>/gpu/<arch>-<hash>/<name>`. */
export async function buildGpuProbes(
  arch: ProbeArch,
  progress?: Progress,
  root: string = cacheDir(),
  sources?: ProbeSources,
): Promise<BuiltProbes> {
  const built = await buildSet(GPU_SET, arch, progress, root, sources ?? (await gpuSources()));
  return { dir: built.dir, probes: built.names };
}

/** The NVIDIA probe sources: fixtures/gpu/nvidia/*.c, their headers, and the probe.h they include. */
export async function nvidiaSources(dir: string = assetPath('fixtures', 'gpu', 'nvidia')): Promise<ProbeSources> {
  const src = await probeSources(dir);
  return { ...src, headers: [...src.headers, join('..', '..', 'probes', 'probe.h')] };
}

/**
 * The NVIDIA probes (nvidia-pci, nvidia-driver, nvidia-nvml, nvidia-cuda), dynamic, into
 * `<root>/nvidia/<arch>-<hash>/<name>`; they run where the guest has glibc (any distro guest).
 */
export async function buildNvidiaProbes(
  arch: ProbeArch,
  progress?: Progress,
  root: string = cacheDir(),
  sources?: ProbeSources,
): Promise<BuiltBench> {
  const built = await buildSet(NVIDIA_SET, arch, progress, root, sources ?? (await nvidiaSources()));
  return { dir: built.dir, programs: built.names };
}

/** The same for the benchmarks (fixtures/bench), into `<root>/bench/<arch>-<hash>/<name>`. */
export async function buildBench(
  arch: ProbeArch,
  progress?: Progress,
  root: string = cacheDir(),
  sources?: ProbeSources,
): Promise<BuiltBench> {
  const built = await buildSet(BENCH_SET, arch, progress, root, sources ?? (await benchSources()));
  return { dir: built.dir, programs: built.names };
}

async function buildSet(set: ProgramSet, arch: ProbeArch, progress: Progress | undefined, root: string, src: ProbeSources): Promise<{ dir: string; names: string[] }> {
  const tc = probeToolchain(arch);
  const fix = `run \`npx tsuite setup\` (installs ${tc.compilerPackage} and ${tc.libcPackage})`;
  if (!onPath(tc.cc)) throw new InfraError(`no C compiler for ${arch} ${set.name}: '${tc.cc}' is not installed`, fix);
  if (src.probes.length === 0) throw new InfraError(`no ${set.noun} sources (*.c) in ${src.dir}`, 'reinstall tsuite: its fixtures are missing');

  const version = (await execChecked(tc.cc, ['--version'], { fix })).stdout.split('\n')[0] ?? '';
  const flags = [...set.cflags, ...(set.ldflags ?? [])].join(' '); // the static sets' hashes stay as they were
  const hash = createHash('sha256').update(`${tc.cc}\n${version}\n${flags}\n`);
  for (const f of [...src.headers, ...src.probes.map((p) => `${p}.c`)]) {
    hash.update(`${f}\n`).update(await readFile(join(src.dir, f)));
  }
  const base = join(root, set.name);
  const out = join(base, `${arch}-${hash.digest('hex').slice(0, 16)}`);
  const names = [...src.probes];
  if (existsSync(out) && names.every((p) => existsSync(join(out, p)))) return { dir: out, names };

  await mkdir(base, { recursive: true });
  const stage = await mkdtemp(join(base, `.stage-${arch}-`));
  try {
    const work = () => compileAll(tc.cc, set, src, stage, fix);
    await (progress ? progress.step(`Building ${names.length} ${set.noun}s for ${arch}`, work) : work());
    await rm(out, { recursive: true, force: true });
    await rename(stage, out);
    await pruneOldBuilds(base, arch, out);
    return { dir: out, names };
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

/** Earlier builds of the same set for the same arch (older sources or compiler) are dead weight once a new one exists. */
async function pruneOldBuilds(base: string, arch: ProbeArch, keep: string): Promise<void> {
  for (const d of await readdir(base)) {
    const path = join(base, d);
    if (path !== keep && new RegExp(`^${arch}-[0-9a-f]{16}$`).test(d)) await rm(path, { recursive: true, force: true });
  }
}

/** Compiles the programs a few at a time (each gcc is one process; the host may be small). */
async function compileAll(cc: string, set: ProgramSet, src: ProbeSources, outDir: string, fix: string): Promise<void> {
  const queue = [...src.probes];
  const worker = async () => {
    for (let p = queue.shift(); p !== undefined; p = queue.shift()) {
      const r = await exec(cc, [...set.cflags, '-I', src.dir, '-o', join(outDir, p), join(src.dir, `${p}.c`), ...(set.ldflags ?? [])]);
      if (r.code !== 0) {
        const tail = r.stderr.trim().split('\n').slice(-8).join('\n');
        throw new InfraError(`${set.noun} ${p} does not compile with ${cc}:\n${tail}`, `fix ${set.fixtures}/${p}.c, or ${fix}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(4, availableParallelism(), queue.length) }, worker));
}
