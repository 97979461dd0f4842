import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from './write-file-atomic.js';

/**
 * What tells a file's content apart without reading it: a file written or replaced gets a new
 * ctime (which nothing can set back, unlike mtime), and a replaced one a new inode.
 */
export async function fileStamp(path: string): Promise<string | undefined> {
  return (await stampAndAge(path))?.stamp;
}

/**
 * How long a file must have been left alone before its stamp is trusted: a file's times advance by
 * the kernel's clock tick, so a file rewritten (with its size unchanged) within the tick its stamp was
 * taken in would look unchanged. Git calls such files "racily clean" and reads them again; here they
 * are simply not recorded.
 */
export const SETTLED_MS = 1000;

async function stampAndAge(path: string): Promise<{ stamp: string; ctimeMs: number } | undefined> {
  const s = await stat(path, { bigint: true }).catch(() => undefined);
  return s?.isFile() ? { stamp: `${s.dev}:${s.ino}:${s.size}:${s.ctimeNs}`, ctimeMs: Number(s.ctimeNs / 1_000_000n) } : undefined;
}

interface MemoRecord<T> {
  key: string;
  inputs: Record<string, string>;
  value: T;
}

/** What `compute` found, and the files it depends on: the memo holds while none of them changes. */
export interface Computed<T> {
  value: T;
  /** Empty: nothing to keep (the answer was a failure, or depends on no file). */
  inputs: readonly string[];
}

/**
 * A value derived from files (a digest over megabytes of them, a program's `--version`), kept in
 * `dir` under `key` and given back without the work while every file it was derived from is the
 * one it was (fileStamp). Start-up costs of every run, not correctness: a missing, unreadable or
 * stale record only means computing again. Each input is stamped before `compute` reads it and
 * checked after, so a file changed meanwhile is not recorded as the one that was read; nor is one
 * changed less than SETTLED_MS ago.
 */
export async function statMemo<T>(dir: string, key: string, compute: () => Promise<Computed<T>>, known: readonly string[] = []): Promise<T> {
  const file = join(dir, `${createHash('sha256').update(key).digest('hex').slice(0, 24)}.json`);
  const record = await readFile(file, 'utf8').then((t) => JSON.parse(t) as MemoRecord<T>).catch(() => undefined);
  if (record?.key === key && record.inputs && typeof record.inputs === 'object' && (await stampsHold(record.inputs))) return record.value;

  const before = await stamps(known);
  const { value, inputs } = await compute();
  if (inputs.length === 0) return value;
  const after = await stamps(inputs);
  if (!after || after.newestMs > Date.now() - SETTLED_MS) return value;
  if (before && Object.entries(before.stamps).some(([p, s]) => after.stamps[p] !== undefined && after.stamps[p] !== s)) return value;
  await writeFileAtomic(file, `${JSON.stringify({ key, inputs: after.stamps, value } satisfies MemoRecord<T>)}\n`).catch(() => undefined);
  return value;
}

async function stamps(paths: readonly string[]): Promise<{ stamps: Record<string, string>; newestMs: number } | undefined> {
  const out: Record<string, string> = {};
  let newestMs = 0;
  for (const p of paths) {
    const s = await stampAndAge(p);
    if (s === undefined) return undefined;
    out[p] = s.stamp;
    newestMs = Math.max(newestMs, s.ctimeMs);
  }
  return { stamps: out, newestMs };
}

async function stampsHold(recorded: Record<string, unknown>): Promise<boolean> {
  for (const [p, s] of Object.entries(recorded)) if ((await fileStamp(p)) !== s) return false;
  return Object.keys(recorded).length > 0;
}
