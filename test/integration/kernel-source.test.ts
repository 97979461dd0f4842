import { execFileSync } from 'node:child_process';
import { cpSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RunResult } from '../../src/core/result.js';
import { FIXTURE_CFLAGS, FIXTURE_LDFLAGS, fixtureSourceDir } from '../../kernel/fixture/build-fixture-kernel.js';
import { tempDir, tsuite } from './cli.js';

/**
 * `--kernel-src DIR --build CMD`: a kernel team's tree, built with its own command and booted.
 * The tree here is the fixture kernel's sources in a fresh git repository with a Makefile.
 */

let src: string;
/** Each build appends a line here, outside the tree so it cannot make the tree dirty. */
let buildCount: string;
const builds = () => readFileSync(buildCount, 'utf8').trim().split('\n').length;
const git = (...args: string[]) => execFileSync('git', ['-C', src, '-c', 'user.email=t@t', '-c', 'user.name=t', ...args], { encoding: 'utf8' });

beforeAll(() => {
  src = tempDir('kernel-src');
  buildCount = join(tempDir('kernel-src-count'), 'builds');
  cpSync(fixtureSourceDir(), src, { recursive: true, filter: (f) => !/\.(ts|md)$/.test(f) });
  const units = readdirSync(src).filter((f) => /\.(c|S)$/.test(f));
  const objects = units.map((u) => u.replace(/\.(c|S)$/, '.o'));
  writeFileSync(join(src, 'Makefile'), [
    `fixture.elf: ${objects.join(' ')} linker.ld`,
    `\tld ${FIXTURE_LDFLAGS.join(' ')} -T linker.ld -o $@ ${objects.join(' ')}`,
    ...units.map((u, i) => `${objects[i]}: ${u} $(wildcard *.h)\n\tgcc ${FIXTURE_CFLAGS.join(' ')} -c $< -o $@`),
    '',
  ].join('\n'));
  writeFileSync(join(src, '.gitignore'), '*.o\nfixture.elf\n');
  git('init', '-q');
  git('add', '.');
  git('commit', '-qm', 'fixture kernel');
});

async function runFromSource(name: string) {
  const out = tempDir(name);
  const run = await tsuite('run', '--target', 'qemu-x86', '--kernel-src', src, '--build', `make && echo built >> ${buildCount}`, '--kernel-artifact', 'fixture.elf',
    '--landmark', 'tsuite-fixture: ready', '--ktap', '--exit-success', '0', '--append', 'ok', '--reporter', 'json', '--output-dir', out);
  return { run, result: JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as RunResult };
}

describe('tsuite run --kernel-src', () => {
  it('builds the tree, boots what it built, and records the commit', async () => {
    const { run, result } = await runFromSource('src-1');
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(result.run.kernel).toMatchObject({ source: 'source', revision: git('rev-parse', 'HEAD').trim() });
    expect(result.tests.filter((t) => t.id.startsWith('kernel/fixture/')).length).toBeGreaterThanOrEqual(6);
    expect(result.tests.find((t) => t.id === 'kernel/exit-status')?.status).toBe('passed');
  });

  it('reuses the build for the same commit and rebuilds a dirty tree', async () => {
    const again = await runFromSource('src-2');
    expect(again.run.code).toBe(0);
    expect(builds()).toBe(1);
    writeFileSync(join(src, 'NOTES'), 'uncommitted\n');
    const dirty = await runFromSource('src-3');
    expect(dirty.result.run.kernel.revision).toMatch(/\+dirty\./);
    expect(dirty.run.code).toBe(0);
    expect(builds()).toBe(2);
  });
});
