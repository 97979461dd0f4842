import type { Command } from 'commander';
import { loadConfig } from '../config/load-config.js';
import type { ResolvedConfig } from '../config/define-config.js';
import { reporters } from '../reporters/index.js';
import { builtInSuites } from '../../suites/index.js';

/** The config every command starts from, validated against the suites and reporters that exist. */
export function loadContext(file?: string): Promise<ResolvedConfig> {
  return loadConfig({
    cwd: process.cwd(),
    file,
    knownSuites: builtInSuites.map((s) => s.name),
    defaultSuites: builtInSuites.filter((s) => !s.explicit).map((s) => s.name),
    knownReporters: Object.keys(reporters),
  });
}

export const splitList = (v: string, prev: string[] = []) => [...prev, ...v.split(',').map((s) => s.trim()).filter(Boolean)];

/** The options of every command that writes a run folder: where, which config, which run id. */
export function addRunFolderOptions(cmd: Command, writes: string): Command {
  return cmd
    .option('-o, --output-dir <dir>', `where ${writes} go (default: reports/<run-id>/)`)
    .option('-c, --config <file>', 'config file (default: ./tsuite.config.ts if present)')
    .option('--run-id <id>', 'run id (default: date, time and a random suffix)');
}
