import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The tsuite package root, found from this file whether it runs from src/ (vitest) or dist/. */
export const packageRoot: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('tsuite: cannot find its own package.json');
    dir = parent;
  }
  return dir;
})();

/** A file shipped with tsuite (init script, fixtures), by its path from the package root. */
export function assetPath(...parts: string[]): string {
  return join(packageRoot, ...parts);
}

/** `TSUITE_CACHE_DIR`, else `$XDG_CACHE_HOME/tsuite`, else `~/.cache/tsuite`. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TSUITE_CACHE_DIR) return env.TSUITE_CACHE_DIR;
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, 'tsuite');
  return join(homedir(), '.cache', 'tsuite');
}
