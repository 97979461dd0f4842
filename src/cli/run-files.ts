import { existsSync, statSync } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { UsageError } from '../core/errors.js';

/**
 * The files a run leaves in its folder (results.json, bench.json), found the way every command
 * that reads them finds them: as given, or the newest under the reports folder.
 */

export const rel = (p: string) => relative(process.cwd(), p) || '.';
export const isDir = (p: string) => existsSync(p) && statSync(p).isDirectory();

/** A path the user gave: the file itself, or a run dir holding `name`. */
export function givenRunFile(path: string, name: string, flag: string): string {
  const full = resolve(path);
  const file = isDir(full) ? join(full, name) : full;
  if (!existsSync(file)) throw new UsageError(`${flag} ${path}: no ${isDir(full) ? `${name} in that folder` : 'such file'}`, `give a ${name} or the run dir that holds it`);
  return file;
}

/** The most recently written `name` in a run dir directly under `dir`, if any. */
export async function newestRunFile(dir: string, name: string): Promise<string | undefined> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  let best: { file: string; mtime: number } | undefined;
  for (const e of entries) {
    if (!e.isDirectory()) continue;
    const file = join(dir, e.name, name);
    const info = await stat(file).catch(() => undefined);
    if (info?.isFile() && (!best || info.mtimeMs > best.mtime)) best = { file, mtime: info.mtimeMs };
  }
  return best?.file;
}

/** A version 1 model file (results.json, bench.json); anything else is a UsageError naming it. */
export async function readRunModel<T>(file: string, name: string, looksRight: (v: Record<string, unknown>) => boolean): Promise<T> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`${rel(file)} is not readable JSON: ${(err as Error).message}`, `give a ${name} written by tsuite`);
  }
  const v = value as Record<string, unknown> | null;
  if (v === null || typeof v !== 'object' || v.version !== 1 || !looksRight(v)) {
    throw new UsageError(`${rel(file)} is not a version 1 ${name}`, `give a ${name} written by this tsuite (regenerate it if it came from another version)`);
  }
  return value as T;
}
