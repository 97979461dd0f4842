import type { Command } from 'commander';
import { loadConfig } from '../config/load-config.js';
import type { ResolvedConfig } from '../config/define-config.js';
import { loadSuiteCatalog, type SuiteCatalog } from '../config/load-suites.js';
import { absolutePatterns } from '../config/suite-files.js';
import { reporters } from '../reporters/index.js';
import { builtInManifest, loadBuiltInSuites } from '../../suites/manifest.js';

/** The config, and the one list of suites every command plans from: the built-in ones and the user's. */
export interface Context extends ResolvedConfig {
  readonly catalog: SuiteCatalog;
}

/**
 * Which built-in suites a command plans, so that only those are loaded (see suites/manifest.ts):
 * `all`; `none` (a command that plans nothing); or, from the config, the names it will plan. A
 * name that is neither built in nor a user suite loads them all, so the error that follows lists
 * every suite there is.
 */
export type SuitesPlanned = 'all' | 'none' | ((config: ResolvedConfig) => readonly string[]);

/** The config and the user's suites: what a command knows before any built-in suite's code is loaded. */
export interface ConfigStage extends ResolvedConfig {
  readonly userSuites: SuiteCatalog;
}

/**
 * The config every command starts from, validated against the suites and reporters that exist. The
 * user's suite files (`suiteFiles`, or `--suite-files` relative to the cwd) are loaded first, since
 * the config's `suites` may name them.
 */
export async function loadContext(file?: string, flags: { suiteFiles?: readonly string[] } = {}, planned: SuitesPlanned = 'all'): Promise<Context> {
  return withBuiltInSuites(await loadConfigStage(file, flags), planned);
}

/**
 * The config and the user's suites, with no built-in suite loaded yet: `tsuite run` starts its
 * first boot between this and `withBuiltInSuites` (see boot-ahead.ts).
 */
export async function loadConfigStage(file?: string, flags: { suiteFiles?: readonly string[] } = {}): Promise<ConfigStage> {
  const builtInNames = builtInManifest.map((s) => s.name);
  let userSuites: SuiteCatalog = { suites: [], files: new Map() };
  const config = await loadConfig({
    cwd: process.cwd(),
    file,
    knownSuites: builtInNames,
    defaultSuites: builtInManifest.filter((s) => !s.explicit).map((s) => s.name),
    knownReporters: Object.keys(reporters),
    ...(flags.suiteFiles?.length ? { suiteFiles: absolutePatterns(flags.suiteFiles, process.cwd()) } : {}),
    loadSuites: async (patterns, explicit, source) => {
      userSuites = await loadSuiteCatalog({ patterns, explicit, source, builtIn: [], reserved: builtInNames });
      return { known: userSuites.suites.map((s) => s.name), defaults: userSuites.suites.filter((s) => !s.explicit).map((s) => s.name) };
    },
  });
  return { ...config, userSuites };
}

/** The suite names a config stage knows: every built-in one (loaded or not) and the user's. */
export function knownSuiteNames(stage: ConfigStage): Set<string> {
  return new Set([...builtInManifest.map((s) => s.name), ...stage.userSuites.suites.map((s) => s.name)]);
}

/** The context of a config stage: its catalog completed with the built-in suites the command plans. */
export async function withBuiltInSuites(stage: ConfigStage, planned: SuitesPlanned): Promise<Context> {
  const { userSuites, ...config } = stage;
  let names: readonly string[] | undefined;
  if (planned === 'none') names = [];
  else if (planned !== 'all') {
    const wanted = planned(config);
    const known = knownSuiteNames(stage);
    names = wanted.every((n) => known.has(n)) ? wanted : undefined;
  }
  const builtIn = await loadBuiltInSuites(names);
  return { ...config, catalog: { suites: [...builtIn, ...userSuites.suites], files: userSuites.files } };
}

/** `--suite-files <globs>`: the user's suite files, replacing the config's `suiteFiles`. */
export function addSuiteFilesOption(cmd: Command): Command {
  return cmd.option('--suite-files <globs>', "your suite files, comma-separated paths or globs relative to the cwd (default: the config's suiteFiles, or tsuite/**/*.suite.ts)", splitList);
}

export const splitList = (v: string, prev: string[] = []) => [...prev, ...v.split(',').map((s) => s.trim()).filter(Boolean)];

/** The options of every command that writes a run folder: where, which config, which run id. */
export function addRunFolderOptions(cmd: Command, writes: string): Command {
  return cmd
    .option('-o, --output-dir <dir>', `where ${writes} go (default: reports/<run-id>/)`)
    .option('-c, --config <file>', 'config file (default: ./tsuite.config.ts if present)')
    .option('--run-id <id>', 'run id (default: date, time and a random suffix)');
}
