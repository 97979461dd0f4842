import { buildConformance, type ConformanceSpec } from './conformance.js';
import { UsageError } from './errors.js';
import { summarize, type ConformanceItem, type ConformanceMatrix, type RunResult, type SessionResult, type TestResult } from './result.js';

/**
 * Joins the results of the shards of one plan (`tsuite run --shard i/n`) into the result a single
 * unsharded run would have written. Pure: `tsuite merge` reads the blobs and writes the output.
 */

export interface ShardBlob {
  /** Where the blob came from, as the user named it: every refusal names it. */
  dir: string;
  result: RunResult;
}

/** What results.json says about a merged run (`run.merged`). */
export interface MergeInfo {
  planDigest: string;
  total: number;
  shards: { index: number; runId: string; dir: string; sessions: string[] }[];
  /** Shard indexes that were not given (only with --allow-missing): their sessions' tests are absent. */
  missing?: number[];
}

export interface MergeOptions {
  /** Merge even when some shards are absent; recorded in `run.merged.missing`. */
  allowMissing?: boolean;
  /** The merged run's id (default: the first shard's). */
  runId?: string;
  /**
   * The conformance specs of the suites (from the suite catalog): a suite found here gets its matrix
   * rebuilt from the merged tests, exactly as a single run builds it (row order and reasons
   * included); others are added up from the shards' matrices (mergeConformance).
   */
  conformanceSpecs?: ReadonlyMap<string, ConformanceSpec>;
}

/** Every way blobs can fail to belong together, each a UsageError naming the blob and the fix. */
export function checkBlobs(blobs: readonly ShardBlob[], opts: MergeOptions = {}): { total: number; missing: number[] } {
  if (blobs.length === 0) throw new UsageError('nothing to merge', 'give the shard dirs: tsuite merge <shard dir>... --output-dir <dir>');
  for (const b of blobs) {
    if (!b.result.run.shard) {
      throw new UsageError(`${b.dir}: results.json is not from a sharded run (no run.shard)`, 'merge only the output dirs of `tsuite run --shard i/n`');
    }
  }
  const first = blobs[0]!;
  const s0 = first.result.run.shard!;
  for (const b of blobs.slice(1)) {
    const s = b.result.run.shard!;
    if (b.result.run.tsuiteVersion !== first.result.run.tsuiteVersion) {
      throw new UsageError(`${b.dir} was written by tsuite ${b.result.run.tsuiteVersion}, ${first.dir} by tsuite ${first.result.run.tsuiteVersion}`, 'run every shard with the same tsuite version, then merge');
    }
    if (s.planDigest !== s0.planDigest || s.total !== s0.total) {
      throw new UsageError(`${b.dir} is a shard of another plan than ${first.dir} (plan ${s.planDigest.slice(0, 12)}/${s.total} shards vs ${s0.planDigest.slice(0, 12)}/${s0.total})`,
        'run every shard with the same target, kernel, --suite, --test and --shard total, then merge');
    }
  }
  const seen = new Map<number, string>();
  for (const b of blobs) {
    const i = b.result.run.shard!.index;
    const other = seen.get(i);
    if (other !== undefined) throw new UsageError(`${b.dir} and ${other} are both shard ${i}/${s0.total}`, 'give each shard once');
    seen.set(i, b.dir);
  }
  // Each shard computed the split itself: a shard that saw other durations may have run other sessions.
  const owner = new Map<string, string>();
  for (const b of blobs) {
    for (const id of b.result.run.shard!.sessions) {
      const other = owner.get(id);
      if (other !== undefined) {
        throw new UsageError(`session ${id} was run by both ${other} and ${b.dir}: the shards split the plan differently`,
          'give every shard the same --shard-durations (or none), then run them again');
      }
      owner.set(id, b.dir);
    }
  }
  const missing = Array.from({ length: s0.total }, (_, i) => i + 1).filter((i) => !seen.has(i));
  if (missing.length > 0 && !opts.allowMissing) {
    throw new UsageError(`shard(s) ${missing.join(', ')} of ${s0.total} missing`, 'give every shard dir, or pass --allow-missing to merge a partial run (its results then lack those shards\' tests)');
  }
  if (missing.length === 0) {
    const unrun = s0.planSessions.filter((id) => !owner.has(id));
    if (unrun.length > 0) {
      throw new UsageError(`no shard ran session(s) ${unrun.join(', ')}: the shards split the plan differently`, 'give every shard the same --shard-durations (or none), then run them again');
    }
  }
  return { total: s0.total, missing };
}

/** The single run the shards add up to; checks them first (checkBlobs). */
export function mergeResults(blobs: readonly ShardBlob[], opts: MergeOptions = {}): RunResult {
  const { total, missing } = checkBlobs(blobs, opts);
  const ordered = [...blobs].sort((a, b) => a.result.run.shard!.index - b.result.run.shard!.index);
  const first = ordered[0]!.result;
  const position = new Map(first.run.shard!.planSessions.map((id, i) => [id, i]));
  const at = (session: string) => position.get(session) ?? Number.MAX_SAFE_INTEGER;
  // Stable sorts: within a session, a shard's own order (the order a single run records).
  const tests: TestResult[] = ordered.flatMap((b) => b.result.tests).sort((a, b) => at(a.session) - at(b.session));
  const sessions: SessionResult[] = ordered.flatMap((b) => b.result.sessions).sort((a, b) => at(a.id) - at(b.id));

  const runs = ordered.map((b) => b.result.run);
  const { shard: _shard, ...base } = first.run;
  const run: RunResult['run'] = {
    ...base,
    id: opts.runId ?? first.run.id,
    startedAt: runs.map((r) => r.startedAt).sort()[0]!,
    merged: {
      planDigest: first.run.shard!.planDigest,
      total,
      shards: ordered.map((b) => ({ index: b.result.run.shard!.index, runId: b.result.run.id, dir: b.dir, sessions: b.result.run.shard!.sessions })),
      ...(missing.length > 0 ? { missing } : {}),
    },
  };
  const finished = runs.map((r) => r.finishedAt).filter((f): f is string => f !== undefined).sort();
  if (finished.length > 0) run.finishedAt = finished[finished.length - 1];
  // The accelerator of the last session that booted, as a single run records it.
  const lastBooted = [...sessions].reverse().find((s) => s.accel !== 'none');
  if (lastBooted) {
    run.accel = lastBooted.accel;
    if (lastBooted.accelReason !== undefined) run.accelReason = lastBooted.accelReason;
  }
  const interrupted = runs.find((r) => r.interrupted)?.interrupted;
  if (interrupted) run.interrupted = interrupted;
  const infraError = runs.find((r) => r.infraError)?.infraError;
  if (infraError) run.infraError = infraError;
  const expectations = runs.filter((r) => r.expectations).map((r) => r.expectations!);
  if (expectations.length > 0) {
    // Stale only if no shard's tests used it.
    run.expectations = { file: expectations[0]!.file, stale: expectations[0]!.stale.filter((e) => expectations.every((x) => x.stale.includes(e))) };
  }
  // A parallel matrix takes as long as its slowest shard.
  const durationMs = Math.max(0, ...ordered.map((b) => b.result.summary.durationMs));
  const result: RunResult = { version: first.version, run, summary: summarize(tests, durationMs), sessions, tests };
  const conformance = mergeConformance(ordered.map((b) => b.result.conformance));
  if (conformance) {
    for (const [suite, added] of Object.entries(conformance)) {
      const spec = opts.conformanceSpecs?.get(suite);
      if (!spec) continue;
      // The target's arch is not in results.json: per-item details come from the shards' rows.
      const rebuilt = buildConformance(suite, spec, tests, '');
      const details = new Map(added.items.map((i) => [i.item, i.details]));
      for (const item of rebuilt.items) {
        delete item.details;
        const d = details.get(item.item);
        if (d) item.details = d;
      }
      conformance[suite] = rebuilt;
    }
    result.conformance = conformance;
  }
  return result;
}

/**
 * Adds up per-shard matrices, item by item. A row's status follows from its shards' (see
 * buildConformance): `fail` if any shard failed it unexpectedly, `expected-fail` if only listed
 * failures, `pass` if any passed, `unimplemented` if a shard saw only that, else `skip`.
 */
export function mergeConformance(parts: readonly (RunResult['conformance'] | undefined)[]): RunResult['conformance'] {
  const out: Record<string, ConformanceMatrix> = {};
  const rank: Record<ConformanceItem['status'], number> = { fail: 4, 'expected-fail': 3, pass: 2, unimplemented: 1, skip: 0 };
  for (const part of parts) {
    for (const [suite, matrix] of Object.entries(part ?? {})) {
      const into = (out[suite] ??= { itemKind: matrix.itemKind, covered: 0, items: [] });
      for (const item of matrix.items) {
        const row = into.items.find((r) => r.item === item.item);
        if (!row) {
          into.items.push({ ...item, reasons: [...item.reasons] });
          continue;
        }
        row.passed += item.passed;
        row.failed += item.failed;
        row.skipped += item.skipped;
        for (const r of item.reasons) if (!row.reasons.includes(r)) row.reasons.push(r);
        // fail/expected-fail beat pass, which beats unimplemented and skip, as in one run.
        if (rank[item.status] > rank[row.status]) row.status = item.status;
      }
    }
  }
  for (const m of Object.values(out)) m.covered = m.items.filter((i) => i.passed + i.failed > 0).length;
  return Object.keys(out).length > 0 ? out : undefined;
}
