/**
 * The benchmark history: `bench-history/<target>.jsonl`, one HistoryRow per line, committed to
 * git and append-only. Appends are atomic (a reader sees the old file or the whole new one) and
 * serialised by a lock file, so two recorders never lose each other's rows. Existing bytes are
 * only ever copied as they are: a corrupt line is reported by loadHistory, never "repaired".
 */

import type { BenchClock } from './clock.js';
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { InfraError, UsageError } from '../core/errors.js';
import { pidAlive } from '../core/pid-alive.js';
import type { BenchRun, HistoryRow } from './model.js';

const finite = z.number();
const statsSchema = z.object({
  mean: finite,
  p50: finite,
  p75: finite,
  p99: finite,
  sd: finite,
  sem: finite,
  moe: finite,
  // JSON has no Infinity (tinybench's rme for a zero mean): it is written as null.
  rme: z.number().nullable().transform((v) => v ?? Infinity),
  min: finite,
  max: finite,
  samples: z.array(finite),
});

const isoDate = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'not a date');

export const historyRowSchema = z.object({
  version: z.literal(1),
  runId: z.string().min(1),
  date: isoDate,
  commit: z.string().optional(),
  ref: z.string().optional(),
  target: z.string().min(1),
  name: z.string().min(1),
  unit: z.string(),
  better: z.enum(['lower', 'higher']),
  clock: z.enum(['instructions', 'time']).optional(),
  kernel: z.object({ id: z.string().min(1), source: z.string(), version: z.string().optional(), cmdline: z.string() }),
  fingerprint: z.object({
    id: z.string().min(1),
    cpuModel: z.string(),
    cores: z.number().int(),
    accel: z.enum(['kvm', 'tcg', 'none']),
    qemuVersion: z.string(),
    runner: z.string(),
    instanceType: z.string(),
    // Rows written before the benchmark clock existed were measured in real time.
    clock: z.enum(['instructions', 'time']).default('time'),
  }),
  samples: z.array(finite),
  stats: statsSchema,
});

// Compile-time check that the schema's output is a HistoryRow.
const _rowMatches = (r: z.output<typeof historyRowSchema>): HistoryRow => r;
void _rowMatches;

export interface HistoryProblem {
  file: string;
  /** 1-based line number. */
  line: number;
  message: string;
}

export function historyFile(dir: string, target: string): string {
  // The target names a file: nothing that could climb out of the directory or hide the file.
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(target)) {
    throw new UsageError(`target name "${target}" cannot name a history file`, 'use letters, digits, ".", "_" and "-" in target names');
  }
  return join(dir, `${target}.jsonl`);
}

/** One history row per metric of the run (the raw per-boot samples stay in bench.json). */
export function rowsFromBenchRun(run: BenchRun): HistoryRow[] {
  return run.metrics.map((m) => ({
    version: 1,
    runId: run.runId,
    date: run.date,
    ...(run.commit !== undefined ? { commit: run.commit } : {}),
    ...(run.ref !== undefined ? { ref: run.ref } : {}),
    target: run.target,
    name: m.name,
    unit: m.unit,
    better: m.better,
    ...(m.clock !== undefined ? { clock: m.clock } : {}),
    kernel: run.kernel,
    fingerprint: run.fingerprint,
    samples: [...m.samples],
    stats: m.stats,
  }));
}

/**
 * Whether a history row was measured in the same way as a head metric: the run's clock and the
 * metric's own. An instruction count is never a baseline for a time, nor the reverse, whatever
 * the fingerprint says (a row without a clock predates it and was real time).
 */
export function sameClock(row: HistoryRow, head: { runClock: BenchClock; metricClock?: BenchClock }): boolean {
  return row.fingerprint.clock === head.runClock && (row.clock ?? 'time') === (head.metricClock ?? 'time');
}

/** Rows that may be compared with each other: same target, machine fingerprint and clock; oldest first. */
export function selectComparable(
  rows: readonly HistoryRow[],
  by: { target: string; fingerprintId: string; clock: BenchClock; metric?: string; ref?: string },
): HistoryRow[] {
  return rows
    .filter(
      (r) =>
        r.target === by.target &&
        r.fingerprint.id === by.fingerprintId &&
        r.fingerprint.clock === by.clock &&
        (by.metric === undefined || r.name === by.metric) &&
        (by.ref === undefined || r.ref === by.ref),
    )
    .sort((a, b) => Date.parse(a.date) - Date.parse(b.date));
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((i) => {
      const path = i.path.join('.') || '(row)';
      return /received undefined/.test(i.message) ? `missing ${path}` : `${path}: ${i.message}`;
    })
    .join('; ');
}

function parseLine(text: string): { row: HistoryRow } | { message: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { message: `not JSON: ${(err as Error).message}` };
  }
  const version = (value as { version?: unknown } | null)?.version;
  if (value !== null && typeof value === 'object' && version !== undefined && version !== 1) {
    return { message: `unsupported version ${JSON.stringify(version)}: this tsuite reads version 1` };
  }
  const parsed = historyRowSchema.safeParse(value);
  return parsed.success ? { row: parsed.data } : { message: describeIssues(parsed.error) };
}

/** Every row of every `*.jsonl` in `dir`; each corrupt line is reported and skipped. */
export async function loadHistory(dir: string): Promise<{ rows: HistoryRow[]; problems: HistoryProblem[] }> {
  const rows: HistoryRow[] = [];
  const problems: HistoryProblem[] = [];
  let names: string[];
  try {
    names = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isFile() && e.name.endsWith('.jsonl')).map((e) => e.name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { rows, problems };
    throw new InfraError(`cannot read the benchmark history ${dir}: ${(err as Error).message}`, `check that ${dir} is a readable directory`);
  }
  for (const name of names.sort()) {
    const file = join(dir, name);
    const text = await readFile(file, 'utf8');
    const lines = text.split('\n');
    const complete = text.endsWith('\n');
    if (complete) lines.pop();
    lines.forEach((raw, i) => {
      const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      if (line.trim() === '') return;
      const out = parseLine(line);
      if ('row' in out) rows.push(out.row);
      else {
        const cut = !complete && i === lines.length - 1;
        problems.push({ file, line: i + 1, message: cut ? `truncated last line (no newline at its end): ${out.message}` : out.message });
      }
    });
  }
  return { rows, problems };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


/** A lock whose owner is gone: a dead pid on this host, or unreadable and older than a minute. */
async function isStale(lock: string, content: string): Promise<boolean> {
  try {
    const owner = JSON.parse(content) as { pid?: unknown; host?: unknown };
    if (typeof owner.pid === 'number' && owner.host === os.hostname()) return !pidAlive(owner.pid);
    if (typeof owner.pid === 'number') return false; // Another host's process: we cannot tell.
  } catch {
    // Written half (the owner died between creating and writing it): judge by age.
  }
  const info = await stat(lock).catch(() => undefined);
  return info !== undefined && Date.now() - info.mtimeMs > 60_000;
}

/**
 * Removes `lock` if it is stale; true when the caller should try to take it again at once.
 * Moving it aside first and checking it is still the stale one keeps two processes that both
 * saw the stale lock from deleting the fresh lock one of them has just taken.
 */
async function breakIfStale(lock: string): Promise<boolean> {
  const content = await readFile(lock, 'utf8').catch(() => undefined);
  if (content === undefined) return true;
  if (!(await isStale(lock, content))) return false;
  const aside = `${lock}.${process.pid}.${randomBytes(4).toString('hex')}.stale`;
  try {
    await rename(lock, aside);
  } catch {
    return true;
  }
  const moved = await readFile(aside, 'utf8').catch(() => undefined);
  if (moved !== content) await link(aside, lock).catch(() => undefined);
  await rm(aside, { force: true });
  return true;
}

/** Runs `fn` holding `<file>.lock` (created with O_EXCL), waiting up to `timeoutMs` for it. */
async function withLock<T>(file: string, fn: () => Promise<T>, timeoutMs = 60_000): Promise<T> {
  const lock = `${file}.lock`;
  const owner = JSON.stringify({ pid: process.pid, host: os.hostname(), token: randomBytes(8).toString('hex'), since: new Date().toISOString() });
  const deadline = Date.now() + timeoutMs;
  for (let delay = 5; ; delay = Math.min(delay * 2, 250)) {
    try {
      const fh = await open(lock, 'wx');
      try {
        await fh.writeFile(owner);
      } finally {
        await fh.close();
      }
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new InfraError(`cannot create the history lock ${lock}: ${(err as Error).message}`, `check that ${file}'s directory is writable`);
      }
      if (Date.now() > deadline) {
        const holder = await readFile(lock, 'utf8').catch(() => '?');
        throw new InfraError(`the history file ${file} is locked by ${holder}`, `wait for that recording to finish, or remove ${lock} if no tsuite process is running`);
      }
      if (await breakIfStale(lock)) continue;
      await sleep(delay * (0.5 + Math.random()));
    }
  }
  try {
    return await fn();
  } finally {
    // Only remove the lock if it is still ours.
    if ((await readFile(lock, 'utf8').catch(() => undefined)) === owner) await rm(lock, { force: true });
  }
}

/** Writes `data` to a temp file beside `file`, flushes it to disk, then renames it over `file`. */
async function replaceDurably(file: string, dir: string, data: Buffer): Promise<void> {
  const tmp = join(dir, `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const fh = await open(tmp, 'wx');
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new InfraError(`cannot write the history file ${file}: ${(err as Error).message}`, `check free space and permissions in ${dir}; the file is unchanged`);
  }
  // Make the rename itself durable; not every platform can fsync a directory.
  const d = await open(dir, 'r').catch(() => undefined);
  await d?.sync().catch(() => undefined);
  await d?.close();
}

/** Appends `rows` (all of one target) to `<dir>/<target>.jsonl`; returns that file's path. */
export async function appendHistory(dir: string, rows: readonly HistoryRow[]): Promise<string> {
  const targets = [...new Set(rows.map((r) => r.target))];
  if (targets.length !== 1) {
    throw new UsageError(
      targets.length === 0 ? 'no history rows to append: the run measured no metric' : `history rows for several targets (${targets.join(', ')})`,
      targets.length === 0 ? 'record only runs that produced metrics' : "append each target's rows separately",
    );
  }
  const file = historyFile(dir, targets[0]!);
  const lines = rows.map((r) => `${JSON.stringify(r)}\n`).join('');
  await mkdir(dir, { recursive: true });
  await withLock(file, async () => {
    const existing = await readFile(file).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return Buffer.alloc(0);
      throw new InfraError(`cannot read the history file ${file}: ${err.message}`, `check its permissions`);
    });
    // A last line cut short stays as it is; the new rows start on a line of their own.
    const sep = existing.length > 0 && existing[existing.length - 1] !== 0x0a ? '\n' : '';
    await replaceDurably(file, dir, Buffer.concat([existing, Buffer.from(sep + lines, 'utf8')]));
  });
  return file;
}
