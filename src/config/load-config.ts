import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { dirname, extname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createJiti } from 'jiti';
import type { z } from 'zod';
import { ConfigError, UsageError } from '../core/errors.js';
import { BUILT_IN_TARGETS, type TargetDef } from '../core/target.js';
import {
  DEFAULT_BENCH,
  DEFAULT_OUTPUT_DIR,
  DEFAULT_REPORTERS,
  DEFAULT_TARGET,
  DEFAULT_TEST_TIMEOUT_MS,
  type ResolvedConfig,
} from './define-config.js';
import { BENCH_KEYS, CONFIG_KEYS, configSchema, FIELD_FIXES, TARGET_KEYS, type ConfigInput } from './schema.js';

/** Looked for in this order in the working directory when --config is not given. */
export const CONFIG_FILE_NAMES = ['tsuite.config.ts', 'tsuite.config.mts', 'tsuite.config.js', 'tsuite.config.mjs'] as const;

export type ConfigProblem = ConfigError['problems'][number];

export interface LoadConfigOptions {
  cwd: string;
  /** An explicit config file (--config), relative to cwd; it must exist. */
  file?: string;
  /** Names `suites` may use. */
  knownSuites: readonly string[];
  /** The suites a plain `tsuite run` runs (default: all known ones). */
  defaultSuites?: readonly string[];
  /** Names `reporters` may use. */
  knownReporters: readonly string[];
}

/**
 * Finds, imports, validates and fills in the config. No file → the defaults, with `file` undefined.
 * Every invalid field is reported at once in one ConfigError.
 */
export async function loadConfig(options: LoadConfigOptions): Promise<ResolvedConfig> {
  const file = await findConfigFile(options.cwd, options.file);
  if (!file) return resolveConfig({}, options, undefined);
  const raw = await importConfigFile(file);
  const problems = validateConfig(raw, options);
  if (problems.length > 0) throw new ConfigError(file, problems);
  // validateConfig found no problems, so the schema accepts it.
  return resolveConfig(configSchema.parse(raw), options, file);
}

/** The absolute path of the config file to load, or undefined when there is none. */
export async function findConfigFile(cwd: string, explicit?: string): Promise<string | undefined> {
  if (explicit !== undefined) {
    const file = resolve(cwd, explicit);
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) {
      throw new UsageError(
        `config file not found: ${file}`,
        `check the path given to --config, or leave --config out to use ${CONFIG_FILE_NAMES.join(', ')} from ${cwd}`,
      );
    }
    return file;
  }
  for (const name of CONFIG_FILE_NAMES) {
    const file = join(cwd, name);
    if ((await stat(file).catch(() => undefined))?.isFile()) return file;
  }
  return undefined;
}

/**
 * `import 'tsuite'` in a config resolves to the tsuite that is running, wherever the config lives
 * (dist/src/index.js when built, src/index.ts under vitest), so a config never needs tsuite installed
 * beside it and always sees the same defineConfig.
 */
function selfAlias(): Record<string, string> {
  const here = fileURLToPath(import.meta.url);
  const index = join(dirname(here), '..', `index${extname(here)}`);
  return existsSync(index) ? { tsuite: index } : {};
}

/** Imports the file's default export; a syntax error or a throw becomes a UsageError naming the file. */
async function importConfigFile(file: string): Promise<unknown> {
  const jiti = createJiti(import.meta.url, { moduleCache: false, alias: selfAlias() });
  let mod: Record<string, unknown>;
  try {
    mod = await jiti.import<Record<string, unknown>>(file);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new UsageError(
      `${file}: could not load the config: ${reason}`,
      'fix the error in the config file; it must `export default defineConfig({ ... })`',
      { cause: err },
    );
  }
  // jiti's interop makes `mod.default` the namespace itself when there is no default export.
  if (!Object.keys(mod).includes('default')) {
    throw new ConfigError(file, [
      { path: '', message: 'the file has no default export', fix: "export default defineConfig({ ... }) (import { defineConfig } from 'tsuite')" },
    ]);
  }
  return mod.default;
}

/** Every problem in a raw config: schema errors, then names that must be known. Empty = valid. */
export function validateConfig(raw: unknown, known: Pick<LoadConfigOptions, 'knownSuites' | 'knownReporters'>): ConfigProblem[] {
  const parsed = configSchema.safeParse(raw);
  const problems = parsed.success ? [] : parsed.error.issues.flatMap(problemsFromIssue);
  if (!isRecord(raw)) return problems;
  // The cross-checks read the raw input, guarded by type, so they run even when other fields are bad.
  problems.push(...unknownNames(raw.suites, 'suites', 'suite', known.knownSuites));
  problems.push(...unknownNames(raw.reporters, 'reporters', 'reporter', known.knownReporters));
  const configured = isRecord(raw.targets) ? raw.targets : {};
  for (const [name, target] of Object.entries(configured)) {
    if (Object.hasOwn(BUILT_IN_TARGETS, name) || !isRecord(target)) continue;
    const missing: string[] = (['runner', 'arch'] as const).filter((key) => target[key] === undefined);
    if (target.kernel === undefined && target.image === undefined && target.kernelSrc === undefined) missing.push('kernel (or image, or kernelSrc)');
    if (missing.length === 0) continue;
    const near = closest(name, Object.keys(BUILT_IN_TARGETS));
    const overrides = near ? `; or, to override the built-in target, rename it to '${near}'` : '';
    problems.push({
      path: formatPath(['targets', name]),
      message: `'${name}' is not a built-in target, so it needs runner, arch and kernel; missing: ${missing.join(', ')}`,
      fix: `set them, e.g. runner: 'qemu', arch: 'x86_64', kernel: 'reference'${overrides}`,
    });
  }
  if (typeof raw.defaultTarget === 'string' && raw.defaultTarget !== '') {
    const valid = [...new Set([...Object.keys(BUILT_IN_TARGETS), ...Object.keys(configured)])];
    if (!valid.includes(raw.defaultTarget)) {
      problems.push({
        path: 'defaultTarget',
        message: `unknown target '${raw.defaultTarget}'`,
        fix: `use one of: ${valid.join(', ')}${suggest(raw.defaultTarget, valid)}, or add it under targets`,
      });
    }
  }
  return problems;
}

function problemsFromIssue(issue: z.core.$ZodIssue): ConfigProblem[] {
  if (issue.code === 'unrecognized_keys') {
    const valid =
      issue.path.length === 0 ? CONFIG_KEYS : issue.path.length === 2 && issue.path[0] === 'targets' ? TARGET_KEYS : issue.path[0] === 'bench' ? BENCH_KEYS : [];
    return issue.keys.map((key) => {
      const near = closest(key, valid);
      return {
        path: formatPath([...issue.path, key]),
        message: `unknown key '${key}'`,
        fix: `${near ? `rename it to '${near}' or remove it` : 'remove it'}; valid keys here: ${valid.join(', ')}`,
      };
    });
  }
  const field = [...issue.path].reverse().find((segment): segment is string => typeof segment === 'string');
  const fix =
    field === undefined
      ? "export default defineConfig({ ... }) with an object (import { defineConfig } from 'tsuite')"
      : Object.hasOwn(FIELD_FIXES, field)
        ? FIELD_FIXES[field]
        : undefined;
  return [{ path: formatPath(issue.path), message: issue.message, ...(fix ? { fix } : {}) }];
}

function unknownNames(value: unknown, field: string, what: string, known: readonly string[]): ConfigProblem[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((name: unknown, i) =>
    typeof name === 'string' && name !== '' && !known.includes(name)
      ? [
          {
            path: formatPath([field, i]),
            message: `unknown ${what} '${name}'`,
            fix: `use one of: ${known.length > 0 ? known.join(', ') : '(none available)'}${suggest(name, known)}`,
          },
        ]
      : [],
  );
}

/** Fills in defaults and makes paths absolute against the config file's folder. */
function resolveConfig(config: ConfigInput, options: LoadConfigOptions, file: string | undefined): ResolvedConfig {
  const base = file ? dirname(file) : resolve(options.cwd);
  const targets: Record<string, Partial<TargetDef>> = {};
  for (const [name, target] of Object.entries(config.targets ?? {})) {
    const t: Partial<TargetDef> = { ...target };
    if (t.kernel !== undefined && t.kernel !== 'reference' && !isAbsolute(t.kernel)) t.kernel = resolve(base, t.kernel);
    if (t.initrd !== undefined && t.initrd !== 'tsuite' && !isAbsolute(t.initrd)) t.initrd = resolve(base, t.initrd);
    if (t.image !== undefined && !isAbsolute(t.image)) t.image = resolve(base, t.image);
    if (t.expectations !== undefined && !isAbsolute(t.expectations)) t.expectations = resolve(base, t.expectations);
    if (t.kernelSrc !== undefined && !isAbsolute(t.kernelSrc)) t.kernelSrc = resolve(base, t.kernelSrc);
    if (t.rootfs !== undefined && t.rootfs !== 'node' && !isAbsolute(t.rootfs)) t.rootfs = resolve(base, t.rootfs);
    if (t.docker?.certPath !== undefined && !isAbsolute(t.docker.certPath)) t.docker = { ...t.docker, certPath: resolve(base, t.docker.certPath) };
    targets[name] = t;
  }
  return {
    targets,
    suites: [...new Set(config.suites ?? options.defaultSuites ?? options.knownSuites)],
    reporters: [...new Set(config.reporters ?? DEFAULT_REPORTERS)],
    outputDir: resolve(base, config.outputDir ?? DEFAULT_OUTPUT_DIR),
    defaultTarget: config.defaultTarget ?? DEFAULT_TARGET,
    testTimeoutMs: config.testTimeoutMs ?? DEFAULT_TEST_TIMEOUT_MS,
    bench: {
      boots: config.bench?.boots ?? DEFAULT_BENCH.boots,
      minEffect: config.bench?.minEffect ?? DEFAULT_BENCH.minEffect,
      alpha: config.bench?.alpha ?? DEFAULT_BENCH.alpha,
      history: resolve(base, config.bench?.history ?? DEFAULT_BENCH.history),
    },
    ...(file ? { file } : {}),
  };
}

/** `targets.qemu-x86.cpus`, `suites[1]`. */
function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, seg) => (typeof seg === 'number' ? `${out}[${seg}]` : out ? `${out}.${String(seg)}` : String(seg)), '');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** ` (did you mean 'x'?)` for a close valid name, else ''. */
function suggest(name: string, valid: readonly string[]): string {
  const near = closest(name, valid);
  return near ? ` (did you mean '${near}'?)` : '';
}

/** The valid name closest to a typo, within a small edit distance. */
function closest(name: string, valid: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 1;
  for (const candidate of valid) {
    const d = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}
