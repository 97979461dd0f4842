/** Starts the compiled test device plugin (build-plugin.ts) as a child process for the harness's `start`. */
import { spawn, type ChildProcess } from 'node:child_process';
import type { BrokenRule } from './broken-rules.js';
import type { BuiltPlugin } from './build-plugin.js';

export interface SpawnPluginOptions {
  rule?: BrokenRule;
  advertiseOptions?: boolean;
  /** Collects the plugin's stderr, for a failing test's message. */
  log?: string[];
}

export function spawnEduPlugin(built: BuiltPlugin, pluginDir: string, opts: SpawnPluginOptions = {}): ChildProcess {
  const env: NodeJS.ProcessEnv = { ...process.env, DP_PLUGIN_DIR: pluginDir, DP_PROTO_FILE: built.proto };
  delete env.TSUITE_BROKEN_RULE;
  delete env.TSUITE_PLUGIN_OPTIONS;
  if (opts.rule) env.TSUITE_BROKEN_RULE = opts.rule;
  if (opts.advertiseOptions === false) env.TSUITE_PLUGIN_OPTIONS = 'none';
  const child = spawn(process.execPath, [built.main], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr?.setEncoding('utf8').on('data', (s: string) => opts.log?.push(s));
  return child;
}
