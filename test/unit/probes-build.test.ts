import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InfraError } from '../../src/core/errors.js';
import { onPath } from '../../src/core/host-requirement.js';
import { assetPath } from '../../src/core/paths.js';
import { buildProbes, probeSources } from '../../kernel/probes/build-probes.js';
import { probeBuildRequirements } from '../../kernel/probes/requirements.js';
import { probeToolchain, type ProbeArch } from '../../kernel/probes/toolchain.js';

/** ELF facts that matter for a probe: its machine, and whether it asks for a dynamic loader. */
function elfFacts(bytes: Buffer): { elf64: boolean; machine: number; interp: boolean; dynamic: boolean } {
  const elf64 = bytes.readUInt32BE(0) === 0x7f454c46 && bytes[4] === 2 && bytes[5] === 1;
  const machine = bytes.readUInt16LE(18);
  const phoff = Number(bytes.readBigUInt64LE(32));
  const phentsize = bytes.readUInt16LE(54);
  const phnum = bytes.readUInt16LE(56);
  const types = Array.from({ length: phnum }, (_, i) => bytes.readUInt32LE(phoff + i * phentsize));
  return { elf64, machine, interp: types.includes(3 /* PT_INTERP */), dynamic: types.includes(2 /* PT_DYNAMIC */) };
}
const EM: Record<ProbeArch, number> = { x86_64: 62, aarch64: 183 };

// A cache shared with probes-ktap.test.ts: the build is keyed by a hash, so sharing is safe.
const root = join(tmpdir(), 'tsuite-test-probes');

describe.each(['x86_64', 'aarch64'] as ProbeArch[])('buildProbes(%s)', (arch) => {
  const cc = probeToolchain(arch).cc;
  it.skipIf(!onPath(cc))(`builds every fixtures/probes/*.c as a static ${arch} ELF, then reuses the build`, async () => {
    const { probes: sources } = await probeSources();
    const built = await buildProbes(arch, undefined, root);
    expect(built.probes).toEqual(sources);
    expect(built.probes).toEqual(expect.arrayContaining(['files', 'fds', 'memory', 'process', 'signals', 'time', 'sockets', 'identity', 'namespaces', 'limits', 'random', 'misc']));
    expect(built.dir).toMatch(new RegExp(`/probes/${arch}-[0-9a-f]{16}$`));
    for (const p of built.probes) {
      const facts = elfFacts(await readFile(join(built.dir, p)));
      expect(facts, p).toEqual({ elf64: true, machine: EM[arch], interp: false, dynamic: false });
      expect((await stat(join(built.dir, p))).mode & 0o111, p).not.toBe(0);
    }
    const before = (await stat(join(built.dir, built.probes[0]!))).mtimeMs;
    const again = await buildProbes(arch, undefined, root);
    expect(again.dir).toBe(built.dir);
    expect((await stat(join(again.dir, again.probes[0]!))).mtimeMs).toBe(before);
  }, 300_000);
});

describe('buildProbes on a scratch source tree', () => {
  let src = '';
  let cache = '';
  beforeAll(async () => {
    src = await mkdtemp(join(tmpdir(), 'tsuite-probe-src-'));
    cache = await mkdtemp(join(tmpdir(), 'tsuite-probe-cache-'));
    await copyFile(assetPath('fixtures', 'probes', 'probe.h'), join(src, 'probe.h'));
    await writeFile(join(src, 'tiny.c'), '#include "probe.h"\nstatic void test_getpid(void) { CHECK_OK("returns", getpid()); }\nstatic const struct probe_test tests[] = {\n    PROBE_TEST(getpid),\n};\nPROBE_MAIN(tests)\n');
  });
  afterAll(async () => {
    await rm(src, { recursive: true, force: true });
    await rm(cache, { recursive: true, force: true });
  });

  it.skipIf(!onPath('gcc'))('keys the build by the sources: editing one rebuilds into a new directory', async () => {
    const first = await buildProbes('x86_64', undefined, cache, await probeSources(src));
    expect(first.probes).toEqual(['tiny']);
    await writeFile(join(src, 'tiny.c'), (await readFile(join(src, 'tiny.c'), 'utf8')) + '/* edited */\n');
    const second = await buildProbes('x86_64', undefined, cache, await probeSources(src));
    expect(second.dir).not.toBe(first.dir);
    await writeFile(join(src, 'probe.h'), (await readFile(join(src, 'probe.h'), 'utf8')) + '/* edited */\n');
    const third = await buildProbes('x86_64', undefined, cache, await probeSources(src));
    expect(third.dir).not.toBe(second.dir);
    // Superseded builds of the arch are removed; the newest stays.
    expect((await readdir(join(cache, 'probes'))).filter((d) => d.startsWith('x86_64-'))).toEqual([third.dir.split('/').pop()]);
  }, 120_000);

  it.skipIf(!onPath('gcc'))('reports a probe that does not compile, naming it, and leaves no partial build', async () => {
    const broken = await mkdtemp(join(tmpdir(), 'tsuite-probe-broken-'));
    try {
      await writeFile(join(broken, 'bad.c'), 'int main(void) { return undeclared; }\n');
      const err = await buildProbes('x86_64', undefined, cache, await probeSources(broken)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InfraError);
      expect((err as InfraError).message).toMatch(/probe bad does not compile with gcc:[\s\S]*undeclared/);
      const left = await readdir(join(cache, 'probes'));
      expect(left.filter((d) => d.startsWith('.stage-'))).toEqual([]);
    } finally {
      await rm(broken, { recursive: true, force: true });
    }
  });

  it('fails with the packages to install when the compiler is missing', async () => {
    const saved = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      const err = await buildProbes('aarch64', undefined, cache, await probeSources(src)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InfraError);
      expect((err as InfraError).fix).toContain('libc6-dev-arm64-cross');
    } finally {
      process.env.PATH = saved;
    }
  });

  it('an empty source directory is an error, not an empty build', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'tsuite-probe-empty-'));
    await mkdir(join(empty, 'sub'));
    try {
      await expect(buildProbes('x86_64', undefined, cache, await probeSources(empty))).rejects.toThrow(/no probe sources/);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});

describe('probeBuildRequirements', () => {
  it('names the compiler and static libc packages for each arch (cross on x86_64 for aarch64)', () => {
    expect(probeToolchain('aarch64', 'x86_64')).toMatchObject({ cc: 'aarch64-linux-gnu-gcc', compilerPackage: 'gcc-aarch64-linux-gnu', libcPackage: 'libc6-dev-arm64-cross', cross: true });
    expect(probeToolchain('x86_64', 'x86_64')).toMatchObject({ cc: 'gcc', compilerPackage: 'gcc', libcPackage: 'libc6-dev', staticLibc: '/usr/lib/x86_64-linux-gnu/libc.a', cross: false });
    expect(probeToolchain('x86_64', 'aarch64')).toMatchObject({ cc: 'x86_64-linux-gnu-gcc', libcPackage: 'libc6-dev-amd64-cross' });
    const reqs = probeBuildRequirements('aarch64');
    expect(reqs.map((r) => r.debianPackage)).toEqual(
      process.arch === 'arm64' ? ['gcc', 'libc6-dev'] : ['gcc-aarch64-linux-gnu', 'libc6-dev-arm64-cross'],
    );
  });

  it('reports present exactly when the compiler is on PATH', async () => {
    const [compiler] = probeBuildRequirements('x86_64');
    expect(await compiler!.present()).toBe(onPath(probeToolchain('x86_64').cc));
  });
});
