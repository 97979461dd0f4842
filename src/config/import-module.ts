import { existsSync, readFileSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../core/errors.js';
import { packageRoot } from '../core/paths.js';

/**
 * `import 'tsuite'` in a user's file (config, suite, reporter) resolves to the tsuite that is
 * running, wherever the file lives, so the file never needs tsuite installed beside it and always
 * sees the same classes (TestOutcome, errors). That is the index of the same build as this file:
 * beside it in the bundle the CLI runs from (dist/bundle/index.js), else one folder up
 * (dist/src/index.js from tsc, src/index.ts under vitest).
 */
export function selfAlias(): Record<string, string> {
  const here = fileURLToPath(import.meta.url);
  const name = `index${extname(here)}`;
  const index = [join(dirname(here), name), join(dirname(here), '..', name)].find((f) => existsSync(f));
  return index ? { tsuite: index } : {};
}

/**
 * Imports a user's TypeScript or JavaScript module with jiti and returns its namespace. A syntax
 * error, a throw at import or a missing import becomes a UsageError naming the file and, where the
 * error says, the line (`what` says what the file is, `fix` how it should look).
 */
export async function importUserModule(file: string, what: string, fix: string): Promise<Record<string, unknown>> {
  const jiti = loadJiti().createJiti(import.meta.url, { moduleCache: false, alias: selfAlias() });
  try {
    return await jiti.import<Record<string, unknown>>(file);
  } catch (err) {
    const where = errorLocation(err, file);
    const reason = firstLine(err instanceof Error ? err.message : String(err)).replace(/^(Error|ParseError):\s*/, '');
    // In the file itself: `file:line:col: ...`; in a module it imports: the file, then where.
    const inFile = where !== undefined && where.startsWith(`${file}:`);
    const head = inFile ? where : file;
    const tail = where && !inFile ? ` (at ${where})` : '';
    throw new UsageError(`${head}: could not load the ${what}: ${reason}${tail}`, `fix the error at ${where ?? file}; ${fix}`, { cause: err });
  }
}

/**
 * jiti, required rather than imported, and only when a user's file is loaded: jiti is CommonJS,
 * and an ESM import of it first scans its 190 kB bundle for export names, ~35 ms of every
 * `tsuite run` (measured on Node 20).
 */
function loadJiti(): typeof import('jiti') {
  return createRequire(import.meta.url)('jiti') as typeof import('jiti');
}

/** True when jiti's interop found a default export (`mod.default` is otherwise the namespace itself). */
export const hasDefaultExport = (mod: Record<string, unknown>): boolean => Object.keys(mod).includes('default');

/**
 * `file:line:column` of where a module failed to load, or undefined when nothing says. jiti's
 * parse errors and Node's stacks carry `path:line:col`; a missing import carries only the importing
 * file (`requireStack`), so the line is found by searching it for the specifier.
 */
export function errorLocation(err: unknown, file: string): string | undefined {
  if (!(err instanceof Error)) return undefined;
  const missing = /Cannot find (?:module|package) '([^']+)'/.exec(err.message);
  if (missing) {
    const stack = (err as { requireStack?: unknown }).requireStack;
    const importer = Array.isArray(stack) && typeof stack[0] === 'string' ? stack[0] : file;
    const line = lineOf(importer, missing[1]!);
    return line ? `${importer}:${line}` : importer;
  }
  const text = `${err.message}\n${err.stack ?? ''}`;
  const locations = [...text.matchAll(/((?:\/|[A-Za-z]:\\)[^\s():]+):(\d+)(?::(\d+))?/g)]
    .map((m) => ({ path: m[1]!, at: `${m[1]}:${m[2]}${m[3] ? `:${m[3]}` : ''}` }))
    .filter((l) => !l.path.includes('/node_modules/') && !l.path.startsWith('node:') && !isTsuiteSource(l.path));
  // The innermost frame of the user's code: the file itself, or a helper it imported that threw.
  return locations[0]?.at;
}

/** tsuite's own code (src/, dist/) is never where a user's file went wrong. */
function isTsuiteSource(path: string): boolean {
  return path.startsWith(join(packageRoot, 'src')) || path.startsWith(join(packageRoot, 'dist'));
}

/** 1-based line of the first quoted occurrence of `specifier` in the file, if it can be read. */
function lineOf(file: string, specifier: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const i = text.split('\n').findIndex((l) => l.includes(`'${specifier}'`) || l.includes(`"${specifier}"`));
  return i >= 0 ? i + 1 : undefined;
}

const firstLine = (s: string) => s.split('\n').find((l) => l.trim() !== '')?.trim() ?? s;
