import { existsSync } from 'node:fs';
import { appendFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../core/errors.js';
import type { StepVerdict } from './search.js';

/**
 * `bisect.jsonl` in the run folder: one JSON object a line, appended as the bisection goes, so an
 * interrupted run keeps every finished step and a rerun continues from it.
 *
 *   {"kind":"start", ...BisectSpec, "path":[...], "at":...}      first line: what is bisected
 *   {"kind":"step", "commit", "subject", "verdict", "evidence", "role"?, "at"}   one per tested commit
 *   {"kind":"end", "outcome":"found"|"ambiguous", "commit"?, "candidates"?, "at"}
 */

export const BISECT_LOG = 'bisect.jsonl';

/** What a bisection is about: a rerun must match these to continue a log. */
export interface BisectSpec {
  version: 1;
  mode: 'test' | 'metric';
  /** The test id (mode test) or metric name (mode metric). */
  subject: string;
  good: string;
  bad: string;
  /** The flags the run was started with (target, kernel source, build...), for `--resume` alone. */
  flags: Record<string, unknown>;
}

/** Evidence of one step: what the test said, or the metric's per-boot values. */
export interface StepEvidence {
  /** The test's status (mode test), or `build-failed` / `infraError` for a skipped step. */
  status?: string;
  message?: string;
  /** Mode metric: one value per boot. */
  samples?: number[];
  unit?: string;
  /**
   * Mode metric in real time: the endpoints' values from the boots around each of the step's:
   * samples[i] was booted between endpoints.good[i] and endpoints.bad[i].
   */
  endpoints?: { good: number[]; bad: number[] };
  /** Mode metric: where the step lies between good (0) and bad (1), and the rule's reasoning. */
  position?: number;
  why?: string;
  /** The step's own run folder (results.json, console logs, build log). */
  dir?: string;
}

export interface StepRecord {
  kind: 'step';
  commit: string;
  subject: string;
  verdict: StepVerdict;
  evidence: StepEvidence;
  /** Set for the measurements of the endpoints (mode metric): not search steps. */
  role?: 'good-endpoint' | 'bad-endpoint';
  at: string;
}

export interface StartRecord extends BisectSpec {
  kind: 'start';
  /** The commits searched, oldest first, the bad one last. */
  path: string[];
  at: string;
}

export interface EndRecord {
  kind: 'end';
  outcome: 'found' | 'ambiguous';
  commit?: string;
  candidates?: string[];
  at: string;
}

export type LogRecord = StartRecord | StepRecord | EndRecord;

export async function readBisectLog(dir: string): Promise<LogRecord[]> {
  const file = join(dir, BISECT_LOG);
  if (!existsSync(file)) return [];
  const lines = (await readFile(file, 'utf8')).split('\n');
  const out: LogRecord[] = [];
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    try {
      out.push(JSON.parse(line) as LogRecord);
    } catch {
      // A line cut short by a kill mid-write is the last one: drop it (that step is redone).
      if (i < lines.length - 2) throw new UsageError(`${file}: line ${i + 1} is not JSON`, 'remove the run folder to start the bisection afresh');
    }
  });
  if (out.length > 0 && out[0]!.kind !== 'start') throw new UsageError(`${file} does not begin with the bisection's start line`, 'remove the run folder to start afresh');
  return out;
}

export async function appendRecord(dir: string, record: LogRecord): Promise<void> {
  await appendFile(join(dir, BISECT_LOG), `${JSON.stringify(record)}\n`);
}

/** Refuses to continue a log written for another bisection, naming what differs. */
export function checkSameBisection(start: StartRecord, spec: BisectSpec, dir: string): void {
  const differs = (['mode', 'subject', 'good', 'bad'] as const).filter((k) => start[k] !== spec[k]);
  if (differs.length > 0) {
    throw new UsageError(
      `${join(dir, BISECT_LOG)} is the log of another bisection (${differs.map((k) => `${k} ${JSON.stringify(start[k])} there, ${JSON.stringify(spec[k])} here`).join('; ')})`,
      'give another --output-dir, or --resume that folder without those flags',
    );
  }
}

/**
 * The verdicts a log holds (the last one wins when a commit was retested), the endpoints' own
 * measurements included: a bad endpoint measured bad need not be measured again as a step.
 */
export function verdictsOf(records: readonly LogRecord[]): Map<string, StepVerdict> {
  const out = new Map<string, StepVerdict>();
  for (const r of records) if (r.kind === 'step') out.set(r.commit, r.verdict);
  return out;
}
