import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { loadSuiteCatalog, suiteProblems } from '../../src/config/load-suites.js';
import { absolutePatterns, DEFAULT_SUITE_FILES, findSuiteFiles, globRegex } from '../../src/config/suite-files.js';
import { ConfigError, UsageError } from '../../src/core/errors.js';
import type { SuiteDef } from '../../src/core/suite.js';
import { loadReporters } from '../../src/reporters/index.js';
import { isReporterPath } from '../../src/reporters/load-reporter.js';

/** A temporary kernel repository holding the given files. */
async function repo(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tsuite-user-suites-'));
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  return dir;
}

const BUILT_IN: SuiteDef[] = [{ name: 'boot', description: 'built in', tests: [{ name: 'reaches-landmark', title: 't', run: () => undefined }] }];
const suite = (name: string, extra = '') =>
  `import { defineSuite } from 'tsuite';\nexport default defineSuite({ name: '${name}', description: 'd', ${extra}tests: [{ name: 'one', title: 'one', run: () => undefined }] });\n`;

const catalog = (dir: string, patterns: readonly string[] = DEFAULT_SUITE_FILES, explicit = false) =>
  loadSuiteCatalog({ patterns: absolutePatterns(patterns, dir), explicit, source: 'test', builtIn: BUILT_IN });

async function thrown(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

describe('suite file discovery', () => {
  it('matches globs as paths: ** spans folders, * stays within a name, {a,b} alternates', () => {
    const re = globRegex('tsuite/**/*.suite.{ts,mjs}');
    expect(['tsuite/a.suite.ts', 'tsuite/x/y/b.suite.mjs'].every((p) => re.test(p))).toBe(true);
    expect(['tsuite/a.suite.js', 'other/a.suite.ts', 'tsuite/a.suite.ts.bak', 'tsuite/x/a-suite.ts'].some((p) => re.test(p))).toBe(false);
  });

  it('finds .ts, .mts, .js and .mjs suite files under tsuite/ by default, never in node_modules', async () => {
    const dir = await repo({
      'tsuite/a.suite.ts': '', 'tsuite/deep/b.suite.mjs': '', 'tsuite/c.suite.mts': '', 'tsuite/d.suite.js': '',
      'tsuite/helper.ts': '', 'tsuite/node_modules/e.suite.ts': '', 'src/f.suite.ts': '',
    });
    const { files } = await findSuiteFiles(absolutePatterns(DEFAULT_SUITE_FILES, dir));
    expect(files.map((f) => f.slice(dir.length + 1)).sort()).toEqual(['tsuite/a.suite.ts', 'tsuite/c.suite.mts', 'tsuite/d.suite.js', 'tsuite/deep/b.suite.mjs']);
  });
});

describe('loading user suites', () => {
  it('loads one suite, or an array, after the built-in ones, remembering the file', async () => {
    const dir = await repo({
      'tsuite/one.suite.ts': suite('ipc'),
      'tsuite/many.suite.mjs': `export default [${['caps', 'sched'].map((n) => `{ name: '${n}', description: 'd', tests: [{ name: 't', title: 't', run() {} }] }`).join(', ')}];\n`,
    });
    const c = await catalog(dir);
    expect(c.suites.map((s) => s.name)).toEqual(['boot', 'caps', 'sched', 'ipc']);
    expect(c.files.get('ipc')).toBe(join(dir, 'tsuite/one.suite.ts'));
    expect(c.files.has('boot')).toBe(false);
  });

  it('refuses a name taken by a built-in suite or by another file, naming both', async () => {
    const builtIn = await repo({ 'tsuite/b.suite.ts': suite('boot') });
    const e1 = await thrown(catalog(builtIn));
    expect(e1).toBeInstanceOf(UsageError);
    expect(e1.message).toBe(`${join(builtIn, 'tsuite/b.suite.ts')}: suite name 'boot' is already taken by the built-in suite 'boot'`);
    const twice = await repo({ 'tsuite/a.suite.ts': suite('ipc'), 'tsuite/b.suite.ts': suite('ipc') });
    const e2 = await thrown(catalog(twice));
    expect(e2.message).toBe(`${join(twice, 'tsuite/b.suite.ts')}: suite name 'ipc' is already taken by the suite 'ipc' of ${join(twice, 'tsuite/a.suite.ts')}`);
  });

  it('reports every problem of a malformed suite at once, with paths', () => {
    const problems = suiteProblems({ name: 'IPC', tests: [{ name: 'ok-name', title: 't', run: 1, requires: ['dockr', ['agent', 'boot-report']] }, { name: 'ok-name', title: 't', run() {}, timeoutMs: -1 }] });
    expect(Object.fromEntries(problems.map((p) => [p.path, p.message]))).toEqual({
      name: "'IPC' is not a kebab-case name",
      description: 'must be a string',
      'tests[0].run': 'is a number, not a function',
      'tests[0].requires[0]': "unknown requirement 'dockr'",
      'tests[0].requires[1]': 'an array is not a requirement',
      'tests[1].name': "test name 'ok-name' appears twice in this suite",
      'tests[1].timeoutMs': 'must be a positive whole number of milliseconds',
    });
    expect(suiteProblems({ name: 'ok', description: '', tests: [{ name: 't', title: 't', run() {}, requires: ['console', ['agent', 'docker']] }] })).toEqual([]);
  });

  it('a file with no default export, or a bad one, is a ConfigError naming the file', async () => {
    const dir = await repo({ 'tsuite/a.suite.ts': 'export const suite = 1;\n', 'tsuite/b.suite.ts': 'export default [];\n' });
    const e = await thrown(catalog(dir, ['tsuite/a.suite.ts'], true));
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.message).toContain(`${join(dir, 'tsuite/a.suite.ts')}: 1 problem(s)`);
    expect(e.message).toContain('the file has no default export');
    expect((await thrown(catalog(dir, ['tsuite/b.suite.ts'], true))).message).toContain('the default export is an empty array');
  });

  it('names the file and line of a syntax error, a throw at import, a missing import, and a throw in a helper it imports', async () => {
    const dir = await repo({
      'syntax.suite.ts': "import { defineSuite } from 'tsuite';\n\nexport default defineSuite({\n  tests: [{ name: 'a' run() {} }],\n});\n",
      'throws.suite.ts': "import { defineSuite } from 'tsuite';\nconst n: number = 1;\n\nthrow new Error('no IPC endpoint ' + n);\n",
      'missing.suite.ts': "import { defineSuite } from 'tsuite';\n\nimport { x } from './nope.js';\nexport default x;\n",
      'nested.suite.ts': "import { y } from './helper.js';\nexport default y;\n",
      'helper.ts': "export const y = 1;\nthrow new Error('helper broke');\n",
    });
    const at = async (name: string) => {
      const e = await thrown(catalog(dir, [name], true));
      expect(e).toBeInstanceOf(UsageError);
      return e.message;
    };
    expect(await at('syntax.suite.ts')).toMatch(new RegExp(`^${join(dir, 'syntax.suite.ts')}:4:\\d+: could not load the suite file: Unexpected token`));
    expect(await at('throws.suite.ts')).toBe(`${join(dir, 'throws.suite.ts')}:4:7: could not load the suite file: no IPC endpoint 1`);
    expect(await at('missing.suite.ts')).toBe(`${join(dir, 'missing.suite.ts')}:3: could not load the suite file: Cannot find module './nope.js'`);
    expect(await at('nested.suite.ts')).toMatch(new RegExp(`^${join(dir, 'nested.suite.ts')}: could not load the suite file: helper broke \\(at ${join(dir, 'helper.ts')}:2:\\d+\\)$`));
  });

  it('a named pattern that matches nothing is an error; the default one is not', async () => {
    const dir = await repo({});
    expect((await catalog(dir)).suites).toEqual(BUILT_IN);
    const e = await thrown(catalog(dir, ['tests/**/*.suite.ts'], true));
    expect(e.message).toBe(`no suite file matches '${join(dir, 'tests/**/*.suite.ts')}' (test)`);
  });
});

describe('the config with user suites and reporter files', () => {
  const load = (cwd: string) =>
    loadConfig({
      cwd,
      knownSuites: ['boot'],
      knownReporters: ['console', 'json'],
      loadSuites: async (patterns, explicit, source) => {
        const c = await loadSuiteCatalog({ patterns, explicit, source, builtIn: BUILT_IN });
        const user = c.suites.filter((s) => c.files.has(s.name));
        return { known: user.map((s) => s.name), defaults: user.filter((s) => !s.explicit).map((s) => s.name) };
      },
    });

  it('takes suiteFiles from the config folder; its suites may be named in suites and run by default unless explicit', async () => {
    const dir = await repo({
      'kernel/tsuite.config.ts': "export default { suiteFiles: ['checks/*.ts'], reporters: ['console', './rep.ts'] };\n",
      'kernel/rep.ts': 'export default () => ({ onRunEnd() {} });\n',
      'kernel/checks/ipc.ts': suite('ipc'),
      'kernel/checks/slow.ts': suite('slow', 'explicit: true, '),
    });
    const config = await load(join(dir, 'kernel'));
    expect(config.suites).toEqual(['boot', 'ipc']);
    expect(config.suiteFiles).toEqual([join(dir, 'kernel/checks/*.ts')]);
    expect(config.reporters).toEqual(['console', join(dir, 'kernel/rep.ts')]);
    await writeFile(join(dir, 'kernel/tsuite.config.ts'), "export default { suiteFiles: ['checks/*.ts'], suites: ['ipc', 'slow', 'nope'] };\n");
    const e = (await thrown(load(join(dir, 'kernel')))) as ConfigError;
    expect(e.problems).toEqual([{ path: 'suites[2]', message: "unknown suite 'nope'", fix: 'use one of: boot, ipc, slow' }]);
  });

  it('reports a reporter file that does not exist, beside unknown names', async () => {
    const dir = await repo({ 'tsuite.config.ts': "export default { reporters: ['./missing.ts', 'jsn'] };\n" });
    const e = (await thrown(load(dir))) as ConfigError;
    expect(e.problems.map((p) => [p.path, p.message])).toEqual([
      ['reporters[1]', "unknown reporter 'jsn'"],
      ['reporters[0]', `reporter file not found: ${join(dir, 'missing.ts')}`],
    ]);
  });
});

describe('custom reporters from a file', () => {
  it('tells paths from names', () => {
    expect(['./r.ts', '/abs/r.js', 'reporters/r.mjs', 'r.ts'].every(isReporterPath)).toBe(true);
    expect(['console', 'junit'].some(isReporterPath)).toBe(false);
  });

  it('loads a factory function or a class, beside built-in reporters, with the same options', async () => {
    const dir = await repo({
      'factory.ts': "import type { ReporterFactory } from 'tsuite';\nconst f: ReporterFactory = (o) => ({ name: 'mine', onRunEnd() {}, dir: o.outputDir } as never);\nexport default f;\n",
      'klass.mjs': 'export default class Lines { constructor(o) { this.dir = o.outputDir; } onTestEnd() {} }\n',
    });
    const reporters = await loadReporters(['json', join(dir, 'factory.ts'), join(dir, 'klass.mjs')], { outputDir: '/out' });
    expect(reporters.map((r) => [r.name, (r as unknown as { dir?: string }).dir])).toEqual([['json', undefined], ['mine', '/out'], ['klass', '/out']]);
  });

  it('refuses a missing file, a default export that is not a function, and a reporter with no hooks', async () => {
    const dir = await repo({ 'obj.ts': 'export default { onRunEnd() {} };\n', 'empty.ts': 'export default () => ({});\n' });
    const message = async (name: string) => (await thrown(loadReporters([name], { outputDir: '/out' }))).message;
    expect(await message(join(dir, 'nope.ts'))).toBe(`reporter file not found: ${join(dir, 'nope.ts')}`);
    expect(await message(join(dir, 'obj.ts'))).toBe(`${join(dir, 'obj.ts')}: the default export is a object, not a reporter factory or class`);
    expect(await message(join(dir, 'empty.ts'))).toMatch(/empty\.ts: the reporter has none of the hooks onRunStart/);
  });
});

describe('the built-in suites use only the public API', () => {
  /** Imports of tsuite's own code other than src/index.ts: what a user's suite could not reach. */
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const privateImports = (file: string, text: string): string[] =>
    [...text.matchAll(/from\s+'([^']+)'/g)]
      .map((m) => m[1]!)
      .filter((spec) => spec.startsWith('.'))
      .map((spec) => join(dirname(file), spec))
      .filter((path) => ['src', 'runners', 'kernel'].some((dir) => path.startsWith(join(root, dir, '/'))) && path !== join(root, 'src/index.js'));

  it('imports nothing of src/, runners/ or kernel/ but src/index.js', async () => {
    const files = (await findSuiteFiles([join(root, 'suites', '**', '*.ts')])).files;
    expect(files.length).toBeGreaterThan(10);
    const found = await Promise.all(files.map(async (f) => privateImports(f, await readFile(f, 'utf8')).map((p) => `${f}: ${p}`)));
    expect(found.flat()).toEqual([]);
    // The check itself catches a private import.
    expect(privateImports(join(root, 'suites/boot/index.ts'), "import { dispatch } from '../../src/core/dispatch.js';")).toEqual([join(root, 'src/core/dispatch.js')]);
  });
});
