import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { z } from 'zod';
import { ConfigError, UsageError } from '../core/errors.js';
import { BUILT_IN_TARGETS, isCloudRunner, type CloudProviderName, type TargetDef } from '../core/target.js';
import { absoluteMachinePaths, MACHINE_TYPES, machineProblems, type MachineDef } from '../core/machine.js';
import { MACHINE_KEYS, machineSchema } from './machine-schema.js';
import { isReporterPath } from '../reporters/load-reporter.js';
import { hasDefaultExport, importUserModule } from './import-module.js';
import { absolutePatterns, DEFAULT_SUITE_FILES } from './suite-files.js';
import {
  DEFAULT_BENCH,
  DEFAULT_OUTPUT_DIR,
  DEFAULT_REPORTERS,
  DEFAULT_TARGET,
  DEFAULT_TEST_TIMEOUT_MS,
  type ResolvedConfig,
} from './define-config.js';
import { SHELL_KEYS } from './shell-schema.js';
import { BENCH_KEYS, CONFIG_KEYS, configSchema, FIELD_FIXES, TARGET_KEYS, targetSchema, type ConfigInput } from './schema.js';
import { acceleratorProblems } from '../../runners/cloud/cloud-accelerator.js';

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
  /** Names `reporters` may use (besides paths of reporter files). */
  knownReporters: readonly string[];
  /** Absolute suite-file patterns from --suite-files: they replace the config's `suiteFiles`. */
  suiteFiles?: readonly string[];
  /**
   * Loads the user's suite files (load-suites.ts) before names are checked, since `suites` may name
   * them: `explicit` when the user named the patterns, so a pattern matching nothing is an error.
   */
  loadSuites?(patterns: readonly string[], explicit: boolean, source: string): Promise<{ known: readonly string[]; defaults: readonly string[] }>;
}

/**
 * Finds, imports, validates and fills in the config. No file → the defaults, with `file` undefined.
 * Every invalid field is reported at once in one ConfigError.
 */
export async function loadConfig(options: LoadConfigOptions): Promise<ResolvedConfig> {
  const file = await findConfigFile(options.cwd, options.file);
  const raw = file ? await importConfigFile(file) : {};
  const base = file ? dirname(file) : resolve(options.cwd);
  const withUser = await withUserSuites(raw, base, file, options);
  if (!file) return resolveConfig({}, withUser, undefined);
  const problems = validateConfig(raw, withUser, base);
  if (problems.length > 0) throw new ConfigError(file, problems);
  // validateConfig found no problems, so the schema accepts it.
  return resolveConfig(configSchema.parse(raw), withUser, file);
}

/** The options with the user's suites (from --suite-files, `suiteFiles`, or the default globs) among the known ones. */
async function withUserSuites(raw: unknown, base: string, file: string | undefined, options: LoadConfigOptions): Promise<LoadConfigOptions> {
  const configured = isRecord(raw) ? raw.suiteFiles : undefined;
  // A malformed suiteFiles is reported with the other config problems; nothing is loaded from it.
  if (configured !== undefined && !(Array.isArray(configured) && configured.every((p) => typeof p === 'string' && p !== ''))) return options;
  const patterns = options.suiteFiles ?? absolutePatterns((configured as string[] | undefined) ?? DEFAULT_SUITE_FILES, base);
  const source = options.suiteFiles ? '--suite-files' : configured ? `suiteFiles in ${file}` : `the default suite files under ${base}`;
  const user = options.loadSuites ? await options.loadSuites(patterns, options.suiteFiles !== undefined || configured !== undefined, source) : undefined;
  return {
    ...options,
    suiteFiles: patterns,
    knownSuites: [...options.knownSuites, ...(user?.known ?? [])],
    defaultSuites: [...(options.defaultSuites ?? options.knownSuites), ...(user?.defaults ?? [])],
  };
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

/** Imports the file's default export; a syntax error or a throw becomes a UsageError naming the file and line. */
async function importConfigFile(file: string): Promise<unknown> {
  const mod = await importUserModule(file, 'config', 'it must `export default defineConfig({ ... })`');
  if (!hasDefaultExport(mod)) {
    throw new ConfigError(file, [
      { path: '', message: 'the file has no default export', fix: "export default defineConfig({ ... }) (import { defineConfig } from 'tsuite')" },
    ]);
  }
  return mod.default;
}

/** Every problem in a raw config: schema errors, then names that must be known. Empty = valid. */
export function validateConfig(raw: unknown, known: Pick<LoadConfigOptions, 'knownSuites' | 'knownReporters'>, base?: string): ConfigProblem[] {
  const parsed = configSchema.safeParse(raw);
  const problems = parsed.success ? [] : parsed.error.issues.flatMap(problemsFromIssue);
  if (!isRecord(raw)) return problems;
  // The cross-checks read the raw input, guarded by type, so they run even when other fields are bad.
  problems.push(...unknownNames(raw.suites, 'suites', 'suite', known.knownSuites));
  const reporterNames = Array.isArray(raw.reporters) ? raw.reporters : undefined;
  problems.push(...unknownNames(reporterNames, 'reporters', 'reporter', known.knownReporters, isReporterPath));
  reporterNames?.forEach((name: unknown, i) => {
    if (typeof name !== 'string' || !isReporterPath(name) || base === undefined || existsSync(resolve(base, name))) return;
    problems.push({
      path: formatPath(['reporters', i]),
      message: `reporter file not found: ${resolve(base, name)}`,
      fix: `a path relative to the config file's folder, of a module default-exporting a reporter factory; or one of: ${known.knownReporters.join(', ')}`,
    });
  });
  const configured = isRecord(raw.targets) ? raw.targets : {};
  problems.push(...machineConfigProblems(configured));
  problems.push(...cloudConfigProblems(configured));
  problems.push(...sshConfigProblems(configured));
  problems.push(...acceleratorConfigProblems(configured));
  for (const [name, target] of Object.entries(configured)) {
    // A cloud or ssh target has defaults for arch and kernel (CLOUD_/SSH_TARGET_DEFAULTS): only its runner must be said.
    if (Object.hasOwn(BUILT_IN_TARGETS, name) || !isRecord(target) || isCloudRunner(String(target.runner)) || target.runner === 'ssh') continue;
    const missing: string[] = (['runner', 'arch'] as const).filter((key) => target[key] === undefined);
    const drives = isRecord(target.machine) && Array.isArray(target.machine.drives) && target.machine.drives.length > 0;
    if (target.kernel === undefined && target.image === undefined && target.kernelSrc === undefined && !drives) missing.push('kernel (or image, or kernelSrc, or machine.drives to boot from)');
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

/** What each cloud provider's target must name itself, and an example of it. */
const CLOUD_REQUIRED: Readonly<Record<CloudProviderName, { fields: readonly string[]; example: string }>> = {
  gcp: { fields: ['project', 'zone', 'bucket'], example: "gcp: { project: 'my-project', zone: 'us-central1-a', bucket: 'my-staging-bucket' }" },
  aws: { fields: ['region', 'bucket', 'subnetId'], example: "aws: { region: 'us-east-1', bucket: 'my-staging-bucket', subnetId: 'subnet-0123456789abcdef0' }" },
  azure: {
    fields: ['subscriptionId', 'location', 'storageAccount', 'container', 'subnetId'],
    example: "azure: { subscriptionId: '<guid>', location: 'westeurope', storageAccount: 'mystaging', container: 'tsuite', subnetId: '/subscriptions/<guid>/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/vnet/subnets/default' }",
  },
};

/**
 * A cloud target spends money in whatever account its credentials reach: it names where it
 * creates things itself (project, region, bucket, subnet...), never a default, or nothing is created.
 */
function cloudConfigProblems(configured: Record<string, unknown>): ConfigProblem[] {
  return Object.entries(configured).flatMap(([name, target]) => {
    if (!isRecord(target) || !isCloudRunner(String(target.runner))) return [];
    const provider = target.runner as CloudProviderName;
    const settings = isRecord(target[provider]) ? target[provider] : {};
    const missing = CLOUD_REQUIRED[provider].fields.filter((key) => settings[key] === undefined);
    if (missing.length === 0) return [];
    return [{
      path: formatPath(['targets', name, provider]),
      message: `a ${provider} target must name where it creates things; missing: ${missing.join(', ')} (tsuite assumes no default)`,
      fix: CLOUD_REQUIRED[provider].example,
    }];
  });
}

/** An ssh target names its machine and user: tsuite assumes neither. */
function sshConfigProblems(configured: Record<string, unknown>): ConfigProblem[] {
  return Object.entries(configured).flatMap(([name, target]) => {
    if (!isRecord(target) || target.runner !== 'ssh') return [];
    const settings = isRecord(target.ssh) ? target.ssh : {};
    const missing = (['host', 'user'] as const).filter((key) => settings[key] === undefined);
    if (missing.length === 0) return [];
    return [{
      path: formatPath(['targets', name, 'ssh']),
      message: `an ssh target must name its machine and user; missing: ${missing.join(', ')}`,
      fix: "ssh: { host: 'board.lab', user: 'root', privateKey: '~/.ssh/id_ed25519' }",
    }];
  });
}

/** A target's accelerator against its instance type, per provider; only accelerators the schema accepts are checked. */
function acceleratorConfigProblems(configured: Record<string, unknown>): ConfigProblem[] {
  return Object.entries(configured).flatMap(([name, target]) => {
    if (!isRecord(target) || target.accelerator === undefined || !targetSchema.safeParse(target).success) return [];
    const runner = target.runner ?? BUILT_IN_TARGETS[name]?.runner;
    return acceleratorProblems({ ...(target as object), runner }).map((p) => ({ path: formatPath(['targets', name, ...p.path.split('.')]), message: p.message, fix: p.fix }));
  });
}

/**
 * What the machine schema cannot see: the machine type for the target's arch, the interfaces and
 * IOMMU that type has, colliding qemuArgs. Only machines the schema accepts are checked.
 */
function machineConfigProblems(configured: Record<string, unknown>): ConfigProblem[] {
  return Object.entries(configured).flatMap(([name, target]) => {
    if (!isRecord(target) || !machineSchema.safeParse(target.machine).success || target.machine === undefined) return [];
    const arch = typeof target.arch === 'string' ? target.arch : BUILT_IN_TARGETS[name]?.arch ?? 'x86_64';
    return machineProblems(target.machine as MachineDef, arch, MACHINE_TYPES[arch]?.[0]).map((p) => ({
      path: formatPath(['targets', name, 'machine', ...p.path.split(/[.[\]]+/).filter(Boolean).map((seg) => (/^\d+$/.test(seg) ? Number(seg) : seg))]),
      message: p.message,
      fix: p.fix,
    }));
  });
}

function problemsFromIssue(issue: z.core.$ZodIssue): ConfigProblem[] {
  if (issue.code === 'unrecognized_keys') {
    const holder = [...issue.path].reverse().find((segment): segment is string => typeof segment === 'string');
    const valid = issue.path.includes('machine') && holder && Object.hasOwn(MACHINE_KEYS, holder) ? MACHINE_KEYS[holder]! :
      holder && Object.hasOwn(SHELL_KEYS, holder) && issue.path.length > 2 ? SHELL_KEYS[holder]! :
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
  const [field, parent] = [...issue.path].reverse().filter((segment): segment is string => typeof segment === 'string');
  // A field without a fix of its own (a cloud target's region) is fixed by its holder's example.
  const fix =
    parent === 'accelerator' ? FIELD_FIXES.accelerator : field === undefined
      ? "export default defineConfig({ ... }) with an object (import { defineConfig } from 'tsuite')"
      : Object.hasOwn(FIELD_FIXES, field)
        ? FIELD_FIXES[field]
        : parent !== undefined && parent !== 'targets' && Object.hasOwn(FIELD_FIXES, parent) ? FIELD_FIXES[parent] : undefined;
  return [{ path: formatPath(issue.path), message: issue.message, ...(fix ? { fix } : {}) }];
}

/** Names in `value` not in `known`; `isPath` marks names that are file paths, checked elsewhere. */
function unknownNames(value: unknown, field: string, what: string, known: readonly string[], isPath?: (name: string) => boolean): ConfigProblem[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((name: unknown, i) =>
    typeof name === 'string' && name !== '' && !known.includes(name) && !isPath?.(name)
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
    if (t.kernel !== undefined && t.kernel !== 'reference' && t.kernel !== 'fixture' && !isAbsolute(t.kernel)) t.kernel = resolve(base, t.kernel);
    if (t.initrd !== undefined && t.initrd !== 'tsuite' && !isAbsolute(t.initrd)) t.initrd = resolve(base, t.initrd);
    if (t.image !== undefined && !isAbsolute(t.image)) t.image = resolve(base, t.image);
    if (t.expectations !== undefined && !isAbsolute(t.expectations)) t.expectations = resolve(base, t.expectations);
    if (t.kernelSrc !== undefined && !isAbsolute(t.kernelSrc)) t.kernelSrc = resolve(base, t.kernelSrc);
    if (t.rootfs !== undefined && t.rootfs !== 'node' && !isAbsolute(t.rootfs)) t.rootfs = resolve(base, t.rootfs);
    if (t.docker?.certPath !== undefined && !isAbsolute(t.docker.certPath)) t.docker = { ...t.docker, certPath: resolve(base, t.docker.certPath) };
    if (t.machine) t.machine = absoluteMachinePaths(t.machine, base);
    targets[name] = t;
  }
  return {
    targets,
    suites: [...new Set(config.suites ?? options.defaultSuites ?? options.knownSuites)],
    // A reporter file's path is taken from the config file's folder, as kernel paths are.
    reporters: [...new Set((config.reporters ?? DEFAULT_REPORTERS).map((r) => (isReporterPath(r) ? resolve(base, r) : r)))],
    suiteFiles: [...(options.suiteFiles ?? absolutePatterns(DEFAULT_SUITE_FILES, base))],
    outputDir: resolve(base, config.outputDir ?? DEFAULT_OUTPUT_DIR),
    defaultTarget: config.defaultTarget ?? DEFAULT_TARGET,
    testTimeoutMs: config.testTimeoutMs ?? DEFAULT_TEST_TIMEOUT_MS,
    bench: {
      clock: config.bench?.clock ?? DEFAULT_BENCH.clock,
      boots: config.bench?.boots ?? DEFAULT_BENCH.boots,
      instructionBoots: config.bench?.instructionBoots ?? DEFAULT_BENCH.instructionBoots,
      maxBoots: config.bench?.maxBoots ?? DEFAULT_BENCH.maxBoots,
      minEffect: config.bench?.minEffect ?? DEFAULT_BENCH.minEffect,
      minEffectInstructions: config.bench?.minEffectInstructions ?? DEFAULT_BENCH.minEffectInstructions,
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
