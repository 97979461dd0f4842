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
