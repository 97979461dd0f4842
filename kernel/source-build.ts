import { createHash } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, rename } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { InfraError, UsageError } from '../src/core/errors.js';
import { exec } from '../src/core/exec.js';
import { cacheDir } from '../src/core/paths.js';
import type { Progress } from '../src/core/progress.js';

export interface SourceBuildRequest {
  /** The kernel's source tree. */
  srcDir: string;
  /** Shell command run in srcDir, e.g. `make -j2 bzImage`. */
  build: string;
  /** The built file, relative to srcDir, e.g. `arch/x86/boot/bzImage`. */
  artifact: string;
}

export interface SourceBuild {
  /** The cached copy of the artifact: what gets booted. */
  path: string;
  /** `<commit>` or `<commit>+dirty.<hash>`; undefined outside git (then every run rebuilds: nothing proves the tree unchanged). */
  revision?: string;
  /** True when this call ran the build; false when the cache already had it. */
  built: boolean;
  log: string;
}

/**
 * The tree's identity for caching: HEAD's commit, plus a hash of uncommitted changes (tracked diffs
 * and untracked files) so a dirty tree never reuses a clean build. Undefined outside git.
 */
export async function treeRevision(srcDir: string): Promise<string | undefined> {
  const head = await exec('git', ['-C', srcDir, 'rev-parse', 'HEAD']).catch(() => undefined);
  if (!head || head.code !== 0) return undefined;
  const commit = head.stdout.trim();
  const diff = await exec('git', ['-C', srcDir, 'diff', 'HEAD', '--binary']);
  const untracked = await exec('git', ['-C', srcDir, 'ls-files', '--others', '--exclude-standard', '-z']);
  const files = untracked.stdout.split('\0').filter(Boolean).sort();
  if (!diff.stdout && files.length === 0) return commit;
  const hash = createHash('sha256').update(diff.stdout);
  for (const f of files) hash.update(f).update('\0').update(await readFile(join(srcDir, f)).catch(() => Buffer.alloc(0)));
  return `${commit}+dirty.${hash.digest('hex').slice(0, 12)}`;
}

/**
 * Builds a kernel from its source tree with the user's command and caches the artifact by the
 * tree's revision and the command, so CI and a bisect rebuild only what changed.
 */
export async function buildFromSource(req: SourceBuildRequest, progress: Progress, root = cacheDir()): Promise<SourceBuild> {
  const srcDir = resolve(req.srcDir);
  if (!existsSync(srcDir)) throw new UsageError(`kernel source tree not found: ${srcDir}`, 'pass an existing directory to --kernel-src');
  const revision = await treeRevision(srcDir);
  const key = createHash('sha256').update(`${srcDir}\0${req.build}\0${req.artifact}\0${revision ?? 'not-in-git'}`).digest('hex').slice(0, 20);
  const dir = join(root, 'builds', key);
  const cached = join(dir, 'artifact');
  const log = join(dir, 'build.log');
  if (revision && existsSync(cached)) return { path: cached, revision, built: false, log };

  await mkdir(dir, { recursive: true });
  const label = `Building ${srcDir}${revision ? ` at ${revision.slice(0, 12)}` : ''}: ${req.build}`;
  const code = await progress.step(label, () => runLogged(req.build, srcDir, log));
  if (code !== 0) {
    const tail = (await readFile(log, 'utf8')).trim().split('\n').slice(-15).join('\n');
    throw new UsageError(`the kernel build failed (status ${code}); last lines of ${log}:\n${tail}`, 'fix the build, or the --build command');
  }
  const built = join(srcDir, req.artifact);
  if (!existsSync(built)) {
    throw new UsageError(`the build succeeded but left no ${req.artifact} in ${srcDir}`, 'pass the built file with --kernel-artifact');
  }
  await copyFile(built, cached + '.tmp');
  await rename(cached + '.tmp', cached);
  return { path: cached, revision, built: true, log };
}

function runLogged(command: string, cwd: string, logFile: string): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const out = createWriteStream(logFile);
    const child = spawn('sh', ['-c', command], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.pipe(out, { end: false });
    child.stderr.pipe(out, { end: false });
    child.on('error', (e) => reject(new InfraError(`cannot run the build: ${e.message}`)));
    child.on('close', (code) => out.end(() => resolvePromise(code ?? 1)));
  });
}
