import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { buildFromSource, treeRevision } from '../../kernel/source-build.js';
import { UsageError } from '../../src/core/errors.js';
import { createProgress } from '../../src/core/progress.js';

const quiet = createProgress(process.stderr, true);
const git = (dir: string, ...args: string[]) =>
  execFileSync('git', ['-C', dir, '-c', 'user.email=t@t', '-c', 'user.name=t', ...args], { encoding: 'utf8' });

/** A "kernel" whose build copies its source into the artifact and counts how often it ran. */
function sourceTree(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsuite-src-'));
  writeFileSync(join(dir, 'kernel.c'), 'int main;\n');
  writeFileSync(join(dir, 'build.sh'), 'echo built >> builds.log; cat kernel.c > kernel.elf\n');
  writeFileSync(join(dir, '.gitignore'), 'kernel.elf\nbuilds.log\n');
  git(dir, 'init', '-q');
  git(dir, 'add', '.');
  git(dir, 'commit', '-qm', 'one');
  return dir;
}

const builds = (dir: string) => readFileSync(join(dir, 'builds.log'), 'utf8').trim().split('\n').length;

describe('buildFromSource', () => {
  let src: string;
  let cache: string;
  beforeEach(() => {
    src = sourceTree();
    cache = mkdtempSync(join(tmpdir(), 'tsuite-cache-'));
  });
  const build = () => buildFromSource({ srcDir: src, build: 'sh build.sh', artifact: 'kernel.elf' }, quiet, cache);

  it('builds once per commit and then serves the cached artifact', async () => {
    const first = await build();
    expect(first).toMatchObject({ built: true, revision: git(src, 'rev-parse', 'HEAD').trim() });
    expect(readFileSync(first.path, 'utf8')).toBe('int main;\n');
    const second = await build();
    expect(second).toMatchObject({ built: false, path: first.path });
    expect(builds(src)).toBe(1);
  });

  it('rebuilds for a dirty tree, and for each new commit', async () => {
    const clean = await build();
    writeFileSync(join(src, 'kernel.c'), 'int main = 1;\n');
    const dirty = await build();
    expect(dirty.built).toBe(true);
    expect(dirty.revision).toMatch(/^[0-9a-f]{40}\+dirty\.[0-9a-f]{12}$/);
    expect(readFileSync(dirty.path, 'utf8')).toBe('int main = 1;\n');
    expect(readFileSync(clean.path, 'utf8')).toBe('int main;\n');
    git(src, 'commit', '-qam', 'two');
    expect((await build()).built).toBe(true);
    expect(builds(src)).toBe(3);
  });

  it('an untracked new file makes the tree dirty', async () => {
    const before = await treeRevision(src);
    writeFileSync(join(src, 'new.c'), 'x');
    expect(await treeRevision(src)).not.toBe(before);
  });

  it('a failing build is a usage error carrying the end of its log', async () => {
    const err = await buildFromSource({ srcDir: src, build: 'echo "kernel.c:1: error: nope" >&2; exit 2', artifact: 'kernel.elf' }, quiet, cache).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toContain('kernel.c:1: error: nope');
  });

  it('a build that leaves no artifact says which file was expected', async () => {
    const err = await buildFromSource({ srcDir: src, build: 'true', artifact: 'arch/x86/boot/bzImage' }, quiet, cache).catch((e: unknown) => e);
    expect((err as Error).message).toContain('arch/x86/boot/bzImage');
  });

  it('outside git every run builds: nothing proves the tree unchanged', async () => {
    const plain = mkdtempSync(join(tmpdir(), 'tsuite-nogit-'));
    writeFileSync(join(plain, 'kernel.c'), 'k');
    writeFileSync(join(plain, 'build.sh'), 'echo built >> builds.log; cat kernel.c > kernel.elf\n');
    const req = { srcDir: plain, build: 'sh build.sh', artifact: 'kernel.elf' };
    expect((await buildFromSource(req, quiet, cache)).revision).toBeUndefined();
    expect((await buildFromSource(req, quiet, cache)).built).toBe(true);
    expect(builds(plain)).toBe(2);
  });
});
