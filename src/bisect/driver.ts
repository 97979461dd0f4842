import { mkdir } from 'node:fs/promises';
import { UsageError } from '../core/errors.js';
import { appendRecord, checkSameBisection, readBisectLog, verdictsOf, type BisectSpec, type LogRecord, type StepEvidence, type StepRecord } from './bisect-log.js';
import { nextStep, type NextStep, type StepVerdict } from './search.js';

/** What testing one commit found. */
export interface StepOutcome {
  verdict: StepVerdict;
  evidence: StepEvidence;
}

export interface BisectionRequest {
  /** The run folder: bisect.jsonl, one folder per step. */
  dir: string;
  spec: BisectSpec;
  /** The commits after good up to bad, oldest first. */
  path: readonly string[];
  subjectOf(commit: string): Promise<string>;
  /** Checks out, builds and tests one commit. Called with the step's number (1-based, across resumes). */
  evaluate(commit: string, step: number): Promise<StepOutcome>;
  signal: AbortSignal;
  /** One line per step and for the answer. */
  log(line: string): void;
}

export type BisectionResult =
  | { kind: 'found' | 'ambiguous'; answer: Exclude<NextStep, { kind: 'test' }>; steps: StepRecord[]; tested: number }
  | { kind: 'interrupted'; steps: StepRecord[]; tested: number };

/** Opens the run's log: a new one starts with the spec; an existing one must be of the same bisection. */
export async function openLog(dir: string, spec: BisectSpec, path: readonly string[]): Promise<LogRecord[]> {
  await mkdir(dir, { recursive: true });
  const records = await readBisectLog(dir);
  if (records.length > 0) {
    const start = records[0] as Extract<LogRecord, { kind: 'start' }>;
    checkSameBisection(start, spec, dir);
    return records;
  }
  const start: LogRecord = { kind: 'start', ...spec, path: [...path], at: new Date().toISOString() };
  await appendRecord(dir, start);
  return [start];
}

export const short = (commit: string) => commit.slice(0, 12);

/** A message's first line and its most telling later one (a KTAP diagnostic, a compiler error): a build log is 15 lines. */
function gist(message: string | undefined): string | undefined {
  const lines = (message ?? '').split('\n').map((l) => l.trim()).filter(Boolean);
  if (lines.length <= 1) return lines[0];
  const telling = lines.slice(1).find((l) => /\berror:|expected|panic|fail/i.test(l)) ?? lines[1]!;
  return `${lines[0]!.replace(/:$/, '')}: ${telling}`;
}

export function describeStep(r: StepRecord): string {
  const e = r.evidence;
  const detail = e.samples
    ? `${e.samples.map((s) => +s.toPrecision(6)).join(', ')} ${e.unit ?? ''}${e.why ? `; ${e.why}` : ''}`.trim()
    : [e.status, gist(e.message)].filter(Boolean).join(': ');
  return `${short(r.commit)} ${r.subject}: ${r.verdict}${detail ? ` (${detail})` : ''}`;
}

/**
 * Runs the search to its end, one commit at a time, appending each step to the log before the
 * next starts. A step cut short by an interrupt is not logged (a resume redoes it).
 */
export async function runBisection(req: BisectionRequest): Promise<BisectionResult> {
  const records = await openLog(req.dir, req.spec, req.path);
  const verdicts = verdictsOf(records);
  const steps = records.filter((r): r is StepRecord => r.kind === 'step' && !r.role);
  steps.forEach((s, i) => req.log(`step ${i + 1} (from the log): ${describeStep(s)}`));
  let tested = 0;
  for (;;) {
    let next: NextStep;
    try {
      next = nextStep(req.path, verdicts);
    } catch (err) {
      if (!(err instanceof RangeError)) throw err;
      throw new UsageError(err.message, 'check --bad (and --test or --metric): the bisection needs a commit that shows the problem');
    }
    if (next.kind !== 'test') {
      const done = records.some((r) => r.kind === 'end');
      if (!done) {
        await appendRecord(req.dir, {
          kind: 'end', outcome: next.kind, at: new Date().toISOString(),
          ...(next.kind === 'found' ? { commit: next.commit } : { candidates: next.candidates }),
        });
      }
      return { kind: next.kind, answer: next, steps, tested };
    }
    if (req.signal.aborted) return { kind: 'interrupted', steps, tested };
    const n = steps.length + 1;
    req.log(`step ${n}: testing ${short(next.commit)} (${next.remaining} commit(s) still suspected)`);
    const outcome = await req.evaluate(next.commit, n);
    if (req.signal.aborted) return { kind: 'interrupted', steps, tested };
    const record: StepRecord = { kind: 'step', commit: next.commit, subject: await req.subjectOf(next.commit), ...outcome, at: new Date().toISOString() };
    await appendRecord(req.dir, record);
    steps.push(record);
    verdicts.set(record.commit, record.verdict);
    tested++;
    req.log(`step ${n}: ${describeStep(record)}`);
  }
}
