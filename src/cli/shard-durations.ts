import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunResult } from '../core/result.js';
import { sessionDurations } from '../core/shard.js';
import { givenRunFile, readRunModel, rel } from './run-files.js';

/** How many of the newest run dirs are looked at for an unsharded results.json. */
const LOOK_BACK = 20;

const looksLikeResults = (v: Record<string, unknown>) => Array.isArray(v.tests) && Array.isArray(v.sessions) && typeof v.run === 'object';

/**
 * The session durations `--shard` balances by: those of `--shard-durations` (a results.json or its
 * run dir), else of the newest results.json under the reports folder that covers a whole plan (an
 * unsharded or merged run: a shard's own covers only part of it). Undefined when there is none:
 * the split is then round-robin in plan order.
 */
export async function durationsForSharding(given: string | undefined, reportsDir: string): Promise<{ durations: Map<string, number>; from: string } | undefined> {
  if (given) {
    const file = givenRunFile(given, 'results.json', '--shard-durations');
    const result = await readRunModel<RunResult>(file, 'results.json', looksLikeResults);
    return { durations: sessionDurations(result), from: rel(file) };
  }
  const entries = await readdir(reportsDir, { withFileTypes: true }).catch(() => []);
  const candidates: { file: string; mtime: number }[] = [];
  for (const e of entries) {
    if (!e.isDirectory()) continue;
    const file = join(reportsDir, e.name, 'results.json');
    const info = await stat(file).catch(() => undefined);
    if (info?.isFile()) candidates.push({ file, mtime: info.mtimeMs });
  }
  candidates.sort((a, b) => b.mtime - a.mtime || a.file.localeCompare(b.file));
  for (const { file } of candidates.slice(0, LOOK_BACK)) {
    const result = await readFile(file, 'utf8').then((t) => JSON.parse(t) as RunResult).catch(() => undefined);
    if (!result || !Array.isArray(result.tests) || !Array.isArray(result.sessions) || result.run?.shard) continue;
    return { durations: sessionDurations(result), from: rel(file) };
  }
  return undefined;
}
