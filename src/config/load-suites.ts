import { ConfigError, UsageError } from '../core/errors.js';
import type { ChannelKind } from '../core/session.js';
import type { SuiteDef } from '../core/suite.js';
import { hasDefaultExport, importUserModule } from './import-module.js';
import { findSuiteFiles } from './suite-files.js';

/** The suites a command can plan: the built-in ones, then the user's, with where each user suite came from. */
export interface SuiteCatalog {
  /** Built-in suites first (in `tsuite list` order), then user suites in file order. */
  readonly suites: readonly SuiteDef[];
  /** Suite name → the absolute path of the file that defined it; user suites only. */
  readonly files: ReadonlyMap<string, string>;
}

export interface LoadSuitesRequest {
  /** Absolute glob patterns (see suite-files.ts). */
  patterns: readonly string[];
  /** The user named the patterns (config `suiteFiles`, `--suite-files`): one that matches nothing is an error. */
  explicit: boolean;
  /** Where the patterns came from, for the error: `suiteFiles in /repo/tsuite.config.ts`. */
  source: string;
  builtIn: readonly SuiteDef[];
  /** Built-in suite names that are not in `builtIn` (not loaded by this command) but still taken. */
  reserved?: readonly string[];
}

/**
 * Finds, imports and validates the user's suite files. Each default-exports one suite or an array
 * of them. A file that does not load is a UsageError naming the file and line; a malformed suite is
 * a ConfigError listing every problem in that file; a name used twice names both places.
 */
export async function loadSuiteCatalog(req: LoadSuitesRequest): Promise<SuiteCatalog> {
  const { files, unmatched } = await findSuiteFiles(req.patterns);
  if (req.explicit && unmatched.length > 0) {
    throw new UsageError(
      `no suite file matches ${unmatched.map((p) => `'${p}'`).join(', ')} (${req.source})`,
      'check the path or glob (relative to the config file\'s folder, or to the working directory for --suite-files), e.g. tsuite/**/*.suite.ts',
    );
  }
  const owners = new Map<string, string>([...req.builtIn.map((s) => s.name), ...(req.reserved ?? [])].map((n) => [n, 'built in']));
  const userFiles = new Map<string, string>();
  const suites: SuiteDef[] = [...req.builtIn];
  for (const file of files) {
    for (const suite of await loadSuiteFile(file)) {
      const owner = owners.get(suite.name);
      if (owner !== undefined) {
        const clash = owner === 'built in' ? `the built-in suite '${suite.name}'` : `the suite '${suite.name}' of ${owner}`;
        throw new UsageError(`${file}: suite name '${suite.name}' is already taken by ${clash}`, 'rename one of them: suite names must be unique (they prefix every test id)');
      }
      owners.set(suite.name, file);
      userFiles.set(suite.name, file);
      suites.push(suite);
    }
  }
  return { suites, files: userFiles };
}

const SUITE_FIX = "export default defineSuite({ name: 'my-suite', description: '...', tests: [{ name: 'my-test', title: '...', run: async (ctx) => { ... } }] }) (import { defineSuite } from 'tsuite')";

/** Imports one file and returns its suites, validated. */
export async function loadSuiteFile(file: string): Promise<SuiteDef[]> {
  const mod = await importUserModule(file, 'suite file', 'it must default-export a suite (defineSuite) or an array of suites');
  if (!hasDefaultExport(mod)) throw new ConfigError(file, [{ path: '', message: 'the file has no default export', fix: SUITE_FIX }]);
  const exported = mod.default;
  const list = Array.isArray(exported) ? exported : [exported];
  const problems = list.flatMap((s, i) => suiteProblems(s, Array.isArray(exported) ? `[${i}]` : ''));
  if (list.length === 0) problems.push({ path: '', message: 'the default export is an empty array', fix: SUITE_FIX });
  const names = list.map((s) => (isRecord(s) ? s.name : undefined));
  names.forEach((n, i) => {
    if (typeof n === 'string' && names.indexOf(n) !== i) problems.push({ path: `[${i}].name`, message: `suite name '${n}' appears twice in this file`, fix: 'give each suite its own name' });
  });
  if (problems.length > 0) throw new ConfigError(file, problems);
  return list as SuiteDef[];
}

type Problem = ConfigError['problems'][number];

const KEBAB = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

/**
 * Every channel kind, checked against the type: adding a kind to ChannelKind without listing it
 * here fails to compile, so a suite's `requires` is never refused for a kind tsuite knows.
 */
const CHANNEL_KINDS = Object.keys({ console: 1, exit: 1, agent: 1, docker: 1, shell: 1, cri: 1, ssh: 1, k8s: 1 } satisfies Record<ChannelKind, 1>);
const OTHER_REQUIREMENTS = ['boot-report', 'live', 'power-off', 'ktap'];

/** What is wrong with one exported suite; `at` prefixes the paths (`[1]` in an array export). */
export function suiteProblems(value: unknown, at = ''): Problem[] {
  const path = (p: string) => (at && p ? `${at}.${p}` : at || p);
  if (!isRecord(value)) return [{ path: at, message: `the export is ${describe(value)}, not a suite object`, fix: SUITE_FIX }];
  const problems: Problem[] = [];
  if (typeof value.name !== 'string' || !KEBAB.test(value.name)) {
    problems.push({ path: path('name'), message: `${typeof value.name === 'string' ? `'${value.name}'` : describe(value.name)} is not a kebab-case name`, fix: "lower-case words joined by '-', e.g. name: 'ipc-semantics'" });
  }
  if (typeof value.description !== 'string') problems.push({ path: path('description'), message: 'must be a string', fix: "description: 'what the suite checks' (tsuite list shows it)" });
  if (value.explicit !== undefined && value.explicit !== true) problems.push({ path: path('explicit'), message: 'must be true or left out', fix: 'explicit: true runs the suite only when named (--suite)' });
  if (value.conformance !== undefined) {
    const c = value.conformance;
    if (!isRecord(c) || typeof c.itemKind !== 'string' || typeof c.itemDepth !== 'number' || !Number.isInteger(c.itemDepth) || c.itemDepth < 1) {
      problems.push({ path: path('conformance'), message: 'must be { itemKind: string, itemDepth: whole number ≥ 1, itemOf?, details? }', fix: "conformance: { itemKind: 'syscall', itemDepth: 1 }" });
    }
  }
  if (!Array.isArray(value.tests) || value.tests.length === 0) {
    problems.push({ path: path('tests'), message: 'must be a non-empty array of tests', fix: "tests: [{ name: 'my-test', title: '...', run: async (ctx) => { ... } }]" });
    return problems;
  }
  const seen = new Set<string>();
  value.tests.forEach((t: unknown, i: number) => {
    const tp = (p: string) => path(`tests[${i}]${p ? `.${p}` : ''}`);
    if (!isRecord(t)) {
      problems.push({ path: tp(''), message: `is ${describe(t)}, not a test object`, fix: "{ name: 'my-test', title: '...', run: async (ctx) => { ... } }" });
      return;
    }
    if (typeof t.name !== 'string' || !KEBAB.test(t.name)) {
      problems.push({ path: tp('name'), message: `${typeof t.name === 'string' ? `'${t.name}'` : describe(t.name)} is not a kebab-case name`, fix: "lower-case words joined by '-', e.g. name: 'ipc-round-trip'" });
    } else if (seen.has(t.name)) {
      problems.push({ path: tp('name'), message: `test name '${t.name}' appears twice in this suite`, fix: 'give each test its own name: the test id is <suite>/<name>' });
    } else seen.add(t.name);
    if (typeof t.title !== 'string') problems.push({ path: tp('title'), message: 'must be a string', fix: "title: 'what the test checks, in words'" });
    if (typeof t.run !== 'function') problems.push({ path: tp('run'), message: `is ${describe(t.run)}, not a function`, fix: 'run: async (ctx) => { ... }' });
    if (t.timeoutMs !== undefined && !(typeof t.timeoutMs === 'number' && Number.isInteger(t.timeoutMs) && t.timeoutMs > 0)) {
      problems.push({ path: tp('timeoutMs'), message: 'must be a positive whole number of milliseconds', fix: 'timeoutMs: 30000' });
    }
    if (t.endsSession !== undefined && typeof t.endsSession !== 'boolean') problems.push({ path: tp('endsSession'), message: 'must be true or false', fix: 'endsSession: true for a test that ends the machine' });
    if (t.describeChildren !== undefined && typeof t.describeChildren !== 'function') problems.push({ path: tp('describeChildren'), message: 'must be a function', fix: "describeChildren: () => ({ ids: ['my-test/child'] })" });
    if (t.requires !== undefined) {
      if (!Array.isArray(t.requires)) problems.push({ path: tp('requires'), message: 'must be an array', fix: "requires: ['agent']" });
      else t.requires.forEach((r: unknown, j: number) => problems.push(...requirementProblems(r, tp(`requires[${j}]`))));
    }
  });
  return problems;
}

function requirementProblems(req: unknown, path: string): Problem[] {
  const valid = [...CHANNEL_KINDS, ...OTHER_REQUIREMENTS];
  if (typeof req === 'string') {
    return valid.includes(req) ? [] : [{ path, message: `unknown requirement '${req}'`, fix: `use one of: ${valid.join(', ')}, or an array of channel kinds meaning any one of them` }];
  }
  if (Array.isArray(req) && req.length > 0 && req.every((k) => typeof k === 'string' && CHANNEL_KINDS.includes(k))) return [];
  return [{ path, message: `${describe(req)} is not a requirement`, fix: `a name (${valid.join(', ')}) or a non-empty array of channel kinds (${CHANNEL_KINDS.join(', ')})` }];
}

function describe(v: unknown): string {
  if (v === undefined) return 'missing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'string' ? `the string '${v}'` : `a ${typeof v}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
