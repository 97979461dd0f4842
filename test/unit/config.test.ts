import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_BENCH, defineConfig } from '../../src/config/define-config.js';
import { loadConfig, validateConfig } from '../../src/config/load-config.js';
import { ConfigError, UsageError } from '../../src/core/errors.js';

const DEFINE_CONFIG = fileURLToPath(new URL('../../src/config/define-config.ts', import.meta.url));
const knownSuites = ['boot', 'isolation', 'syscall'] as const;
const knownReporters = ['console', 'json', 'tap', 'junit'] as const;

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** A tmp dir holding the given files. */
async function project(files: Record<string, string> = {}): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tsuite-config-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return dir;
}

const load = (cwd: string, file?: string) => loadConfig({ cwd, ...(file ? { file } : {}), knownSuites, knownReporters });

/** The ConfigError a load throws. */
async function configError(cwd: string, file?: string): Promise<ConfigError> {
  const err = await load(cwd, file).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConfigError);
  return err as ConfigError;
}

describe('loadConfig', () => {
  it('returns the defaults when there is no config file', async () => {
    const cwd = await project();
    const config = await load(cwd);
    expect(config).toEqual({
      targets: {},
      suites: ['boot', 'isolation', 'syscall'],
      reporters: ['console', 'json', 'tap', 'junit'],
      suiteFiles: ['ts', 'mts', 'js', 'mjs'].map((ext) => join(resolve(cwd), `tsuite/**/*.suite.${ext}`)),
      outputDir: resolve(cwd, 'reports'),
      defaultTarget: 'qemu-x86',
      testTimeoutMs: 60_000,
      bench: { ...DEFAULT_BENCH, history: resolve(cwd, 'bench-history') },
    });
    expect(config.file).toBeUndefined();
  });

  it('loads a TypeScript config using defineConfig and merges it over the defaults', async () => {
    const cwd = await project({
      'tsuite.config.ts': `
        import { defineConfig } from ${JSON.stringify(DEFINE_CONFIG)};
        const memoryMb: number = 1024;
        export default defineConfig({
          targets: {
            'qemu-x86': { memoryMb, cpus: 4 },
            mykernel: { runner: 'qemu', arch: 'x86_64', kernel: './build/kernel.elf', landmark: 'hello \\\\[ok\\\\]' },
          },
          suites: ['boot'],
          reporters: ['console', 'junit'],
          defaultTarget: 'mykernel',
          testTimeoutMs: 5000,
          bench: { boots: 7, history: 'history' },
        });
      `,
    });
    const config = await load(cwd);
    expect(config).toEqual({
      targets: {
        'qemu-x86': { memoryMb: 1024, cpus: 4 },
        mykernel: { runner: 'qemu', arch: 'x86_64', kernel: join(cwd, 'build/kernel.elf'), landmark: 'hello \\[ok\\]' },
      },
      suites: ['boot'],
      reporters: ['console', 'junit'],
      suiteFiles: ['ts', 'mts', 'js', 'mjs'].map((ext) => join(cwd, `tsuite/**/*.suite.${ext}`)),
      outputDir: join(cwd, 'reports'),
      defaultTarget: 'mykernel',
      testTimeoutMs: 5000,
      bench: { ...DEFAULT_BENCH, boots: 7, history: join(cwd, 'history') },
      file: join(cwd, 'tsuite.config.ts'),
    });
  });

  it('finds tsuite.config.ts before .mjs, and loads a plain-object .mjs config', async () => {
    const both = await project({
      'tsuite.config.ts': 'export default { suites: ["boot"] };',
      'tsuite.config.mjs': 'export default { suites: ["syscall"] };',
    });
    expect((await load(both)).suites).toEqual(['boot']);
    const mjs = await project({ 'tsuite.config.mjs': 'export default { outputDir: "out" };' });
    const config = await load(mjs);
    expect(config.file).toBe(join(mjs, 'tsuite.config.mjs'));
    expect(config.outputDir).toBe(join(mjs, 'out'));
  });

  it('loads an explicit --config file relative to cwd', async () => {
    const cwd = await project({ 'ci.config.mts': 'export default { reporters: ["tap"] };' });
    const config = await load(cwd, 'ci.config.mts');
    expect(config.reporters).toEqual(['tap']);
    expect(config.file).toBe(join(cwd, 'ci.config.mts'));
  });

  it('reports every problem at once, each with its path and fix', async () => {
    const cwd = await project({
      'tsuite.config.ts': `export default {
        reporter: ['console'],
        targets: { 'qemu-x86': { cpus: 0 } },
        reporters: ['html'],
      };`,
    });
    const err = await configError(cwd);
    expect(err.file).toBe(join(cwd, 'tsuite.config.ts'));
    expect(err.problems).toHaveLength(3);
    const byPath = Object.fromEntries(err.problems.map((p) => [p.path, p]));
    expect(Object.keys(byPath).sort()).toEqual(['reporter', 'reporters[0]', 'targets.qemu-x86.cpus']);
    expect(byPath['reporter']!.message).toMatch(/unknown key 'reporter'/);
    expect(byPath['reporter']!.fix).toMatch(/rename it to 'reporters' or remove it; valid keys here: targets, suites, reporters/);
    expect(byPath['targets.qemu-x86.cpus']!.message).toMatch(/integer from 1 to 64/);
    expect(byPath['targets.qemu-x86.cpus']!.fix).toMatch(/cpus: 2/);
    expect(byPath['reporters[0]']!.message).toMatch(/unknown reporter 'html'/);
    expect(byPath['reporters[0]']!.fix).toBe('use one of: console, json, tap, junit');
    // The message names the file and every problem.
    expect(err.message).toContain(join(cwd, 'tsuite.config.ts'));
    expect(err.message).toContain('3 problem(s)');
    expect(err).toBeInstanceOf(UsageError);
    expect(err.exitCode).toBe(2);
  });

  it('rejects a landmark or panic pattern that is not a valid regex', async () => {
    const cwd = await project({
      'tsuite.config.mjs': `export default { targets: { 'qemu-x86': { landmark: 'ready (', panicPatterns: ['ok', '[oops'] } } };`,
    });
    const err = await configError(cwd);
    expect(err.problems.map((p) => p.path)).toEqual(['targets.qemu-x86.landmark', 'targets.qemu-x86.panicPatterns[1]']);
    expect(err.problems[0]!.message).toMatch(/not a valid regular expression/);
    expect(err.problems[0]!.fix).toMatch(/regex source/);
  });

  it('names the valid suites for an unknown suite, suggesting the closest', async () => {
    const cwd = await project({ 'tsuite.config.mjs': `export default { suites: ['boot', 'syscalls'] };` });
    const err = await configError(cwd);
    expect(err.problems).toEqual([
      { path: 'suites[1]', message: "unknown suite 'syscalls'", fix: "use one of: boot, isolation, syscall (did you mean 'syscall'?)" },
    ]);
  });

  it('checks defaultTarget against built-in and configured targets, and that new targets are complete', async () => {
    const cwd = await project({
      'tsuite.config.mjs': `export default { defaultTarget: 'qemu-x68', targets: { mine: { cpus: 2 } } };`,
    });
    const err = await configError(cwd);
    const byPath = Object.fromEntries(err.problems.map((p) => [p.path, p]));
    expect(byPath['defaultTarget']!.fix).toMatch(/use one of: qemu-x86, qemu-arm64, qemu-x86-node, docker, cri, local, mine \(did you mean 'qemu-x86'\?\)/);
    expect(byPath['targets.mine']!.message).toMatch(/missing: runner, arch, kernel/);
  });

  it('fails with a UsageError naming an explicit --config file that does not exist', async () => {
    const cwd = await project();
    const err = await load(cwd, 'nope.config.ts').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).message).toContain(join(cwd, 'nope.config.ts'));
    expect((err as UsageError).fix).toMatch(/--config/);
  });

  it('wraps a config that throws on import, naming the file and the error', async () => {
    const cwd = await project({ 'tsuite.config.ts': `throw new Error('boom from config');\nexport default {};` });
    const err = await load(cwd).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).message).toContain(join(cwd, 'tsuite.config.ts'));
    expect((err as UsageError).message).toContain('boom from config');
    expect((err as UsageError).fix).toMatch(/export default defineConfig/);
  });

  it('wraps a syntax error in the config file', async () => {
    const cwd = await project({ 'tsuite.config.ts': `export default { suites: [ };` });
    const err = await load(cwd).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).message).toContain(join(cwd, 'tsuite.config.ts'));
  });

  it('rejects a config without a default export, or whose default is not an object', async () => {
    const none = await project({ 'tsuite.config.mjs': `export const suites = ['boot'];` });
    expect((await configError(none)).problems[0]!.message).toMatch(/no default export/);
    const arr = await project({ 'tsuite.config.mjs': `export default ['boot'];` });
    expect((await configError(arr)).problems[0]!.fix).toMatch(/export default defineConfig/);
  });

  it("lets a config import defineConfig from 'tsuite'", async () => {
    const cwd = await project({
      'tsuite.config.ts': `import { defineConfig } from 'tsuite';\nexport default defineConfig({ suites: ['isolation'] });`,
    });
    expect((await load(cwd)).suites).toEqual(['isolation']);
  });
});

describe('validateConfig', () => {
  it('checks field types and ranges', () => {
    const problems = validateConfig(
      {
        testTimeoutMs: -1,
        targets: { 'qemu-x86': { memoryMb: 32, accel: 'hvf', runner: 'vagrant', bootTimeoutMs: 1.5, typo: 1 } },
      },
      { knownSuites, knownReporters },
    );
    expect(problems.map((p) => p.path).sort()).toEqual([
      'targets.qemu-x86.accel',
      'targets.qemu-x86.bootTimeoutMs',
      'targets.qemu-x86.memoryMb',
      'targets.qemu-x86.runner',
      'targets.qemu-x86.typo',
      'testTimeoutMs',
    ]);
    expect(problems.every((p) => p.fix)).toBe(true);
    expect(problems.find((p) => p.path.endsWith('.typo'))!.fix).toMatch(/^remove it; valid keys here: runner, arch, kernel/);
  });

  it('checks the bench settings, naming the valid keys for a typo', () => {
    const problems = validateConfig({ bench: { boots: 1, minEffect: 5, alpha: 0, boot: 3 } }, { knownSuites, knownReporters });
    expect(problems.map((p) => p.path).sort()).toEqual(['bench.alpha', 'bench.boot', 'bench.boots', 'bench.minEffect']);
    expect(problems.find((p) => p.path === 'bench.boot')!.fix).toMatch(/rename it to 'boots'/);
    expect(problems.every((p) => p.fix)).toBe(true);
  });

  it('makes each cloud target name where it creates things, and checks the shapes of what it names', () => {
    const problems = validateConfig(
      {
        targets: {
          'gcp-x': { runner: 'gcp', gcp: { project: 'p' } },
          'aws-x': { runner: 'aws', aws: { region: 'us-east-1' } },
          'azure-x': { runner: 'azure', azure: { location: 'westeurope', storageAccount: 'acct' } },
          'aws-bad': { runner: 'aws', aws: { region: 'US East', bucket: 'b', subnetId: 'vpc-1' } },
          'azure-bad': { runner: 'azure', azure: { subscriptionId: 'x', location: 'westeurope', storageAccount: 'Acct', container: 'c', subnetId: 'default' } },
          'aws-ok': { runner: 'aws', aws: { region: 'eu-west-2', bucket: 'my-staging', subnetId: 'subnet-0abc' } },
        },
      },
      { knownSuites, knownReporters },
    );
    const by = (path: string) => problems.filter((p) => p.path === path).map((p) => p.message).join('; ');
    expect(by('targets.gcp-x.gcp')).toMatch(/missing: zone, bucket/);
    expect(by('targets.aws-x.aws')).toMatch(/missing: bucket, subnetId/);
    expect(by('targets.azure-x.azure')).toMatch(/missing: subscriptionId, container, subnetId/);
    expect(problems.map((p) => p.path)).toEqual(expect.arrayContaining([
      'targets.aws-bad.aws.region', 'targets.aws-bad.aws.bucket', 'targets.aws-bad.aws.subnetId',
      'targets.azure-bad.azure.subscriptionId', 'targets.azure-bad.azure.storageAccount', 'targets.azure-bad.azure.container', 'targets.azure-bad.azure.subnetId',
    ]));
    expect(problems.filter((p) => p.path.startsWith('targets.aws-ok'))).toEqual([]);
    // A cloud target needs no arch or kernel: it defaults to the reference kernel on x86_64.
    expect(problems.some((p) => p.path === 'targets.aws-x' || p.path === 'targets.azure-x')).toBe(false);
    expect(problems.every((p) => p.fix)).toBe(true);
  });

  it('defineConfig is the identity', () => {
    const config = { suites: ['boot'] };
    expect(defineConfig(config)).toBe(config);
  });
});
