import { existsSync } from 'node:fs';
import { basename, extname, resolve } from 'node:path';
import { UsageError } from '../core/errors.js';
import { hasDefaultExport, importUserModule } from '../config/import-module.js';
import type { Reporter, ReporterFactory, ReporterOptions } from './reporter.js';

/**
 * A reporter name that is a file path (as Playwright allows): it starts with `.` or `/`, holds a
 * path separator, or ends in a script extension. Anything else is a built-in reporter's name.
 */
export function isReporterPath(name: string): boolean {
  return /^[./~]/.test(name) || name.includes('/') || name.includes('\\') || /\.[cm]?[jt]s$/.test(name);
}

const HOOKS = ['onRunStart', 'onSessionStart', 'onTestStart', 'onProgress', 'onOutput', 'onTestEnd', 'onSessionEnd', 'onError', 'onRunEnd'] as const;

const FIX =
  'the file must default-export a ReporterFactory `(options: ReporterOptions) => Reporter` or a class whose constructor takes ReporterOptions ' +
  "(import type { Reporter, ReporterOptions } from 'tsuite')";

/**
 * Loads a reporter from a file (relative paths against the working directory; the config's are
 * already absolute). Its default export is a factory function or a class; either gets the same
 * options the built-in reporters get, and the reporter's `name` defaults to the file's base name.
 */
export async function loadReporterFile(path: string, options: ReporterOptions): Promise<Reporter> {
  const file = resolve(path);
  if (!existsSync(file)) {
    throw new UsageError(`reporter file not found: ${file}`, 'check the path given to --reporter or in the config\'s reporters (relative to the config file\'s folder there, to the working directory on the command line)');
  }
  const mod = await importUserModule(file, 'reporter', FIX);
  const exported = hasDefaultExport(mod) ? mod.default : undefined;
  if (typeof exported !== 'function') throw new UsageError(`${file}: the default export is ${exported === undefined ? 'missing' : `a ${typeof exported}`}, not a reporter factory or class`, FIX);
  let reporter: unknown;
  try {
    reporter = isClass(exported) ? new (exported as new (o: ReporterOptions) => unknown)(options) : (exported as ReporterFactory)(options);
  } catch (err) {
    throw new UsageError(`${file}: creating the reporter threw: ${err instanceof Error ? err.message : String(err)}`, 'fix the reporter\'s factory or constructor', { cause: err });
  }
  if (typeof reporter !== 'object' || reporter === null) throw new UsageError(`${file}: the factory returned ${reporter === null ? 'null' : `a ${typeof reporter}`}, not a reporter object`, FIX);
  const r = reporter as Record<string, unknown>;
  const bad = HOOKS.filter((h) => r[h] !== undefined && typeof r[h] !== 'function');
  if (bad.length > 0) throw new UsageError(`${file}: reporter hook(s) ${bad.join(', ')} must be functions`, `a reporter's hooks are optional methods: ${HOOKS.join(', ')}`);
  if (!HOOKS.some((h) => typeof r[h] === 'function')) throw new UsageError(`${file}: the reporter has none of the hooks ${HOOKS.join(', ')}`, 'implement at least onRunEnd (the complete result) or onTestEnd');
  if (typeof r.name !== 'string' || r.name === '') Object.defineProperty(r, 'name', { value: basename(file, extname(file)), enumerable: true });
  return r as unknown as Reporter;
}

/** A `class` (which cannot be called without `new`) rather than a plain factory function. */
function isClass(fn: unknown): boolean {
  return typeof fn === 'function' && /^class[\s{]/.test(Function.prototype.toString.call(fn));
}
