import { readdir, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';

/**
 * Where a kernel team's own suites are found when the config does not say (`suiteFiles`): relative
 * to the config file's folder, or the working directory when there is no config file.
 */
export const DEFAULT_SUITE_FILES: readonly string[] = Object.freeze([
  'tsuite/**/*.suite.ts',
  'tsuite/**/*.suite.mts',
  'tsuite/**/*.suite.js',
  'tsuite/**/*.suite.mjs',
]);

/** Folders never searched: dependencies and tool state hold no suites of the user's. */
const SKIPPED_DIRS = new Set(['node_modules', '.git']);

/**
 * The files matching absolute glob patterns (`**` any folders, `*` and `?` within a name, `{a,b}`
 * alternatives), sorted and without duplicates. A pattern without wildcards names one file.
 * Returns, for each pattern, whether it matched anything, so a configured typo can be reported.
 */
export async function findSuiteFiles(patterns: readonly string[]): Promise<{ files: string[]; unmatched: string[] }> {
  const files = new Set<string>();
  const unmatched: string[] = [];
  for (const pattern of patterns) {
    const found = await matchPattern(resolve(pattern));
    if (found.length === 0) unmatched.push(pattern);
    for (const f of found) files.add(f);
  }
  return { files: [...files].sort(), unmatched };
}

async function matchPattern(pattern: string): Promise<string[]> {
  const segments = pattern.split(sep);
  const firstWild = segments.findIndex((s) => /[*?{]/.test(s));
  if (firstWild < 0) return (await stat(pattern).catch(() => undefined))?.isFile() ? [pattern] : [];
  const root = segments.slice(0, firstWild).join(sep) || sep;
  const regex = globRegex(segments.slice(firstWild).join('/'));
  const out: string[] = [];
  for await (const file of walk(root)) {
    if (regex.test(relative(root, file).split(sep).join('/'))) out.push(file);
  }
  return out;
}

async function* walk(dir: string): AsyncGenerator<string> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory()) {
      if (!SKIPPED_DIRS.has(e.name)) yield* walk(path);
    } else if (e.isFile()) yield path;
  }
}

/** A path glob as a regex over `/`-separated relative paths. */
export function globRegex(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      // `**/` is any number of folders, including none; a trailing `**` is anything.
      if (glob[i + 2] === '/') {
        out += '(?:.*/)?';
        i += 2;
      } else {
        out += '.*';
        i += 1;
      }
    } else if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else if (c === '{') out += '(?:';
    else if (c === '}') out += ')';
    else if (c === ',' && out.lastIndexOf('(?:') > out.lastIndexOf(')')) out += '|';
    else out += c.replace(/[.+^$()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${out}$`);
}

/** Absolute patterns: relative ones are taken from `base` (the config file's folder, or the cwd). */
export const absolutePatterns = (patterns: readonly string[], base: string): string[] =>
  patterns.map((p) => (isAbsolute(p) ? p : resolve(base, p)));
