import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { arch, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onPath } from '../../src/core/host-requirement.js';
import { assetPath } from '../../src/core/paths.js';
import { benchSources, buildBench, buildProbes, probeSources, type BuiltBench } from '../../kernel/probes/build-probes.js';
import { BENCH_PROGRAMS, GUEST_SAMPLES } from '../../suites/bench/metrics.js';
import { parseBenchOutput } from '../../suites/bench/output.js';

const run = promisify(execFile);
const native = arch() === 'x64' && onPath('gcc');

/** Runs a built benchmark on the host; rejects (with code and stderr) when it exits non-zero. */
const runNative = (path: string, env: NodeJS.ProcessEnv = {}) => run(path, [], { env: { ...process.env, ...env }, timeout: 60_000 });

describe.skipIf(!native)('the benchmarks, built for x86_64 and run on this host', () => {
  let root = '';
  let scratch = '';
  let built: BuiltBench;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'tsuite-bench-cache-'));
    scratch = await mkdtemp(join(tmpdir(), 'tsuite-bench-run-'));
    built = await buildBench('x86_64', undefined, root);
  }, 120_000);
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
    await rm(scratch, { recursive: true, force: true });
  });

  it('every fixtures/bench/*.c is a program the bench suite declares, built into <cache>/bench/<arch>-<hash>', async () => {
    expect(built.dir).toMatch(new RegExp(`^${root}/bench/x86_64-[0-9a-f]{16}$`));
    expect(built.programs).toEqual((await benchSources()).probes);
    expect([...built.programs].sort()).toEqual(BENCH_PROGRAMS.map((p) => p.program).sort());
  });

  it.each(BENCH_PROGRAMS.map((p) => [p.program, p] as const))('%s prints its declared metrics as JSON lines, each with positive samples', async (_name, program) => {
    const { stdout } = await runNative(join(built.dir, program.program), { TSUITE_BENCH_DIR: scratch });
    const lines = parseBenchOutput(stdout);
    expect(lines.map(({ name, unit, better }) => ({ name, unit, better }))).toEqual(program.metrics.map(({ name, unit, better }) => ({ name, unit, better })));
    for (const l of lines) {
      expect(l.samples, l.name).toHaveLength(GUEST_SAMPLES);
      expect(l.samples.every((s) => s > 0 && Number.isFinite(s)), l.name).toBe(true);
      expect(l.batch, l.name).toBeGreaterThan(0);
    }
  }, 60_000);

  it('the files benchmark leaves nothing behind in its directory', async () => {
    await runNative(join(built.dir, 'files'), { TSUITE_BENCH_DIR: scratch });
    expect(await readdir(scratch)).toEqual([]);
  }, 60_000);

  it('a failing system call ends the benchmark with a non-zero status and names the call on stderr', async () => {
    const err = await runNative(join(built.dir, 'files'), { TSUITE_BENCH_DIR: join(scratch, 'missing') }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 1, stdout: '' });
    expect((err as { stderr: string }).stderr).toMatch(/mkdir\(dir, 0700\) failed: No such file or directory/);
  }, 60_000);

  it('building the probes into the same cache keeps the benchmark build (each set prunes only its own)', async () => {
    const src = await mkdtemp(join(tmpdir(), 'tsuite-bench-probe-src-'));
    try {
      await copyFile(assetPath('fixtures', 'probes', 'probe.h'), join(src, 'probe.h'));
      await writeFile(join(src, 'tiny.c'), '#include "probe.h"\nstatic void test_getpid(void) { CHECK_OK("returns", getpid()); }\nstatic const struct probe_test tests[] = {\n    PROBE_TEST(getpid),\n};\nPROBE_MAIN(tests)\n');
      const probes = await buildProbes('x86_64', undefined, root, await probeSources(src));
      expect(probes.dir).toMatch(new RegExp(`^${root}/probes/x86_64-[0-9a-f]{16}$`));
      expect(await readdir(join(root, 'bench'))).toEqual([built.dir.split('/').pop()]);
      // And a new benchmark build (other sources) replaces the old one without touching the probes.
      const other = await mkdtemp(join(tmpdir(), 'tsuite-bench-src-'));
      try {
        await copyFile(assetPath('fixtures', 'bench', 'bench.h'), join(other, 'bench.h'));
        await copyFile(assetPath('fixtures', 'bench', 'syscall.c'), join(other, 'syscall.c'));
        const rebuilt = await buildBench('x86_64', undefined, root, await benchSources(other));
        expect(rebuilt.programs).toEqual(['syscall']);
        expect(await readdir(join(root, 'bench'))).toEqual([rebuilt.dir.split('/').pop()]);
        expect(await readdir(join(root, 'probes'))).toEqual([probes.dir.split('/').pop()]);
      } finally {
        await rm(other, { recursive: true, force: true });
      }
    } finally {
      await rm(src, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('parseBenchOutput', () => {
  const line = (o: Record<string, unknown>) => JSON.stringify({ metric: 'syscall/getppid', unit: 'ns', better: 'lower', samples: [1.5, 2], ...o });

  it('reads one metric per line, ignoring blank lines', () => {
    const out = `${line({ batch: 10 })}\n\n${line({ metric: 'ipc/pipe-throughput', unit: 'MB/s', better: 'higher', samples: [900] })}\n`;
    expect(parseBenchOutput(out)).toEqual([
      { name: 'syscall/getppid', unit: 'ns', better: 'lower', samples: [1.5, 2], batch: 10 },
      { name: 'ipc/pipe-throughput', unit: 'MB/s', better: 'higher', samples: [900] },
    ]);
  });

  it.each([
    ['text that is not JSON', 'warming up...', /line 1 .* is not JSON/],
    ['a name without an area', line({ metric: 'getppid' }), /<area>\/<measure>/],
    ['a name not in kebab-case', line({ metric: 'syscall/getPpid' }), /kebab-case/],
    ['no unit', line({ unit: '' }), /no unit/],
    ['a direction other than lower or higher', line({ better: 'less' }), /neither/],
    ['no samples', line({ samples: [] }), /no samples/],
    ['a zero sample', line({ samples: [1, 0] }), /not a positive number/],
    ['a string sample', line({ samples: ['1'] }), /not a positive number/],
    ['a metric printed twice', `${line({})}\n${line({})}`, /line 2 .* repeats metric syscall\/getppid/],
  ])('rejects %s', (_what, out, message) => {
    expect(() => parseBenchOutput(out)).toThrow(message);
  });
});
