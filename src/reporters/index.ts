import { UsageError } from '../core/errors.js';
import { consoleReporter } from './console-reporter.js';
import { jsonReporter } from './json-reporter.js';
import { junitReporter } from './junit-reporter.js';
import { isReporterPath, loadReporterFile } from './load-reporter.js';
import type { Reporter, ReporterFactory, ReporterOptions } from './reporter.js';
import { tapReporter } from './tap-reporter.js';

export type { Reporter, ReporterFactory, ReporterOptions, TestStart } from './reporter.js';
export { isReporterPath } from './load-reporter.js';

export const reporters: Record<string, ReporterFactory> = {
  console: consoleReporter,
  json: jsonReporter,
  tap: tapReporter,
  junit: junitReporter,
};

/** Builds the named reporters, failing on an unknown name with the list of valid ones. */
export function createReporters(names: string[], options: ReporterOptions): Reporter[] {
  const valid = Object.keys(reporters);
  return [...new Set(names.map((n) => n.trim()).filter(Boolean))].map((name) => {
    const factory = Object.hasOwn(reporters, name) ? reporters[name] : undefined;
    if (!factory) {
      throw new UsageError(`unknown reporter "${name}"; valid reporters: ${valid.join(', ')}, or the path of a reporter file`, `--reporter ${valid.join(',')} or --reporter ./my-reporter.ts`);
    }
    return factory(options);
  });
}

/** Like createReporters, and a name that is a file path loads a custom reporter from it (load-reporter.ts). */
export async function loadReporters(names: string[], options: ReporterOptions): Promise<Reporter[]> {
  const unique = [...new Set(names.map((n) => n.trim()).filter(Boolean))];
  const out: Reporter[] = [];
  for (const name of unique) out.push(isReporterPath(name) ? await loadReporterFile(name, options) : createReporters([name], options)[0]!);
  return out;
}
