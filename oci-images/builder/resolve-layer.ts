import { readFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { cacheDir, assetPath } from '../../src/core/paths.js';
import type { Progress } from '../../src/core/progress.js';
import { buildProbes } from '../../kernel/probes/build-probes.js';
import type { ProbeArch } from '../../kernel/probes/toolchain.js';
import { busyboxEntries } from './busybox-files.js';
import { fetchDebianFiles } from './debian-files.js';
import type { LayerDef, LayerSource } from './definition.js';
import type { LayerEntry } from './layer-tar.js';

/** What a layer source needs from the host: the guest arch (`x86_64`, `aarch64`) and where to report progress. */
export interface ResolveContext {
  arch: ProbeArch;
  progress: Progress;
  root?: string;
}

/**
 * A static C program from `oci-images/<image>/`, compiled exactly as the probes are (same
 * toolchain, flags, content-hashed cache), in a cache folder of its own per image.
 */
async function compileProgram(ctx: ResolveContext, image: string, source: string): Promise<string> {
  const name = source.replace(/\.c$/, '');
  const dir = assetPath('oci-images', image);
  const root = join(ctx.root ?? cacheDir(), 'oci-images', 'programs', image);
  // buildProbes reports a compile (never a cache hit) as "Building 1 probes": say what it is instead.
  const progress: Progress = { step: (_label, work) => ctx.progress.step(`Compiling oci-images/${image}/${source} for ${ctx.arch}`, work) };
  const built = await buildProbes(ctx.arch, progress, root, { dir, probes: [name], headers: [] });
  return join(built.dir, name);
}

async function resolveSource(ctx: ResolveContext, s: LayerSource): Promise<LayerEntry[]> {
  switch (s.kind) {
    case 'busybox':
      return busyboxEntries(ctx.arch, ctx.progress);
    case 'program':
      return [{ type: 'file', path: s.to, content: await readFile(await compileProgram(ctx, s.image, s.source)), mode: 0o755 }];
    case 'probes': {
      const built = await buildProbes(ctx.arch, ctx.progress, ctx.root);
      return Promise.all(built.probes.map(async (p): Promise<LayerEntry> => ({ type: 'file', path: posix.join(s.to, p), content: await readFile(join(built.dir, p)), mode: 0o755 })));
    }
    case 'debian': {
      const got = await fetchDebianFiles(ctx.arch, s.package, s.binaries, ctx.progress, ctx.root);
      return Promise.all(got.files.map(async (f): Promise<LayerEntry> => ({ type: 'file', path: f.to, content: await readFile(f.from), mode: 0o755 })));
    }
    case 'file':
      return [{ type: 'file', path: s.to, content: Buffer.from(s.content), mode: s.mode ?? 0o644, uid: s.uid, gid: s.gid }];
    case 'dir':
      return [{ type: 'dir', path: s.to, mode: s.mode ?? 0o755, uid: s.uid, gid: s.gid }];
  }
}

/** Every file of a layer, in the order its sources list them (a later source may replace an earlier path). */
export async function resolveLayer(ctx: ResolveContext, layer: LayerDef): Promise<LayerEntry[]> {
  const out: LayerEntry[] = [];
  for (const s of layer.contents) out.push(...(await resolveSource(ctx, s)));
  return out;
}
