import type { Command } from 'commander';
import { loadConfig } from '../config/load-config.js';
import type { ResolvedConfig } from '../config/define-config.js';
import { builtInCatalog, loadSuiteCatalog, type SuiteCatalog } from '../config/load-suites.js';
import { absolutePatterns } from '../config/suite-files.js';
import { reporters } from '../reporters/index.js';
import { builtInSuites } from '../../suites/index.js';

/** The config, and the one list of suites every command plans from: the built-in ones and the user's. */
export interface Context extends ResolvedConfig {
  readonly catalog: SuiteCatalog;
}

/**
 * The config every command starts from, validated against the suites and reporters that exist. The
 * user's suite files (`suiteFiles`, or `--suite-files` relative to the cwd) are loaded first, since
 * the config's `suites` may name them.
 */
export async function loadContext(file?: string, flags: { suiteFiles?: readonly string[] } = {}): Promise<Context> {
  let catalog = builtInCatalog(builtInSuites);
  const config = await loadConfig({
    cwd: process.cwd(),
    file,
    knownSuites: builtInSuites.map((s) => s.name),
    defaultSuites: builtInSuites.filter((s) => !s.explicit).map((s) => s.name),
    knownReporters: Object.keys(reporters),
    ...(flags.suiteFiles?.length ? { suiteFiles: absolutePatterns(flags.suiteFiles, process.cwd()) } : {}),
    loadSuites: async (patterns, explicit, source) => {
      catalog = await loadSuiteCatalog({ patterns, explicit, source, builtIn: builtInSuites });
      const user = catalog.suites.filter((s) => catalog.files.has(s.name));
      return { known: user.map((s) => s.name), defaults: user.filter((s) => !s.explicit).map((s) => s.name) };
    },
  });
  return { ...config, catalog };
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
