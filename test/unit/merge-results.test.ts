import { describe, expect, it } from 'vitest';
import { buildConformance, type ConformanceSpec } from '../../src/core/conformance.js';
import { UsageError } from '../../src/core/errors.js';
import { checkBlobs, mergeConformance, mergeResults, type ShardBlob } from '../../src/core/merge-results.js';
import { summarize, type RunResult, type SessionResult, type TestResult } from '../../src/core/result.js';
import type { ShardInfo } from '../../src/core/shard.js';

/**
 * A single run of five sessions, and the same run as if split into three shards: merging the
 * shards must give back the single run, and every kind of mismatched blob is refused.
 */

const SESSIONS = ['t-1', 't-2', 't-3', 't-4', 't-5'];
const SPEC: ConformanceSpec = { itemKind: 'call', itemDepth: 1 };

function test(session: string, name: string, status: TestResult['status'], extra: Partial<TestResult> = {}): TestResult {
  return { id: `sc/${name}`, suite: 'sc', title: name, session, status, durationMs: 10, metrics: [], ...extra };
}

const ALL_TESTS: TestResult[] = [
  test('t-1', 'open/a', 'passed'),
  test('t-1', 'open/b', 'failed', { error: { message: 'x' } }),
  test('t-2', 'open/c', 'passed'),
  test('t-2', 'read/a', 'skipped', { reason: 'no read' }),
  test('t-3', 'read/b', 'skipped', { reason: 'still no read' }),
  test('t-3', 'mmap/a', 'failed', { error: { message: 'y' }, expectation: { outcome: 'expected-failure', reason: 'known' } }),
  test('t-4', 'mmap/b', 'passed'),
  test('t-4', 'brk/a', 'crashed', { error: { message: 'z' }, expectation: { outcome: 'expected-failure', reason: 'known' } }),
  test('t-5', 'brk/b', 'failed', { error: { message: 'w' }, expectation: { outcome: 'expected-failure', reason: 'known too' } }),
  test('t-5', 'stat/a', 'passed'),
];

function session(id: string): SessionResult {
  return { id, target: 't', accel: 'tcg', consoleLog: `${id}/console.log`, bootMs: 100 };
}

function runOf(tests: TestResult[], sessions: string[], extra: Partial<RunResult['run']> = {}): RunResult {
  return {
    version: 1,
    run: { id: 'r', target: 't', startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:01:00.000Z', kernel: { path: 'k', source: 'fixture', cmdline: '' },
      accel: 'tcg', host: { hostname: 'h', platform: 'linux', arch: 'x64', cpuModel: 'c', cpus: 2, memoryMb: 1 }, tsuiteVersion: '0.1.0', ...extra },
    summary: summarize(tests, 1000),
    sessions: sessions.map(session),
    tests,
    conformance: { sc: buildConformance('sc', SPEC, tests, 'x86_64') },
  };
}

const SPLIT = [['t-1', 't-4'], ['t-2', 't-5'], ['t-3']];

function shardInfo(i: number, over: Partial<ShardInfo> = {}): ShardInfo {
  return { index: i + 1, total: 3, planDigest: 'abc', planSessions: SESSIONS, sessions: SPLIT[i]!, balancedBy: 'plan-order', ...over };
}

function blobs(): ShardBlob[] {
  return SPLIT.map((ids, i) => ({
    dir: `shard-${i + 1}`,
    result: runOf(ALL_TESTS.filter((t) => ids.includes(t.session)), ids, { id: `r${i + 1}`, shard: shardInfo(i) }),
  }));
}

function refusal(fn: () => unknown): UsageError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return err as UsageError;
  }
  throw new Error('expected a refusal');
}

describe('tsuite merge: the result', () => {
  const single = runOf(ALL_TESTS, SESSIONS);

  it('equals a single run: ids, statuses, sessions, counts, conformance', () => {
    // Shards given in any order.
    const merged = mergeResults([...blobs()].reverse());
    expect(merged.tests.map((t) => [t.id, t.status, t.session])).toEqual(single.tests.map((t) => [t.id, t.status, t.session]));
    expect(merged.sessions.map((s) => s.id)).toEqual(SESSIONS);
    expect({ ...merged.summary, durationMs: 0 }).toEqual({ ...single.summary, durationMs: 0 });
    // Rebuilt from the suite's spec: exactly the single run's matrix, row order included.
    expect(mergeResults(blobs(), { conformanceSpecs: new Map([['sc', SPEC]]) }).conformance).toEqual(single.conformance);
    // Added up from the shards' matrices (a suite not in the catalog): the same rows, in shard order.
    const byItem = (m: RunResult['conformance']) => [...m!.sc!.items].sort((x, y) => x.item.localeCompare(y.item));
    expect(byItem(merged.conformance)).toEqual(byItem(single.conformance));
    expect(merged.conformance!.sc!.covered).toBe(single.conformance!.sc!.covered);
    expect(merged.run.shard).toBeUndefined();
    expect(merged.run.merged).toMatchObject({ planDigest: 'abc', total: 3, shards: [{ index: 1, runId: 'r1' }, { index: 2 }, { index: 3 }] });
    expect(merged.run.id).toBe('r1');
  });

  it('folds conformance rows split across shards into the single run\'s statuses', () => {
    // Each shard's matrix alone disagrees with the whole run's (open is pass on shard 2, fail on 1).
    const parts = blobs().map((b) => b.result.conformance);
    const row = (item: string) => mergeConformance(parts)!.sc!.items.find((i) => i.item === item);
    expect(parts[1]!.sc!.items.find((i) => i.item === 'open')!.status).toBe('pass');
    expect(row('open')).toMatchObject({ status: 'fail', passed: 2, failed: 1 });
    expect(row('mmap')).toMatchObject({ status: 'expected-fail', passed: 1, failed: 1 });
    expect(row('brk')!.status).toBe('expected-fail');
    expect(row('read')).toMatchObject({ status: 'skip', skipped: 2, reasons: ['no read', 'still no read'] });
    expect(mergeConformance(parts)!.sc!.covered).toBe(single.conformance!.sc!.covered);
  });

  it('keeps an expectation stale only if no shard used it, and the earliest start and latest finish', () => {
    const b = blobs();
    b[0]!.result.run.expectations = { file: 'e.yaml', stale: ['x', 'y'] };
    b[1]!.result.run.expectations = { file: 'e.yaml', stale: ['x'] };
    b[2]!.result.run.expectations = { file: 'e.yaml', stale: ['x', 'y'] };
    b[1]!.result.run.startedAt = '2025-12-31T00:00:00.000Z';
    b[2]!.result.run.finishedAt = '2026-01-02T00:00:00.000Z';
    const merged = mergeResults(b);
    expect(merged.run.expectations).toEqual({ file: 'e.yaml', stale: ['x'] });
    expect(merged.run.startedAt).toBe('2025-12-31T00:00:00.000Z');
    expect(merged.run.finishedAt).toBe('2026-01-02T00:00:00.000Z');
  });
});

describe('tsuite merge: refusals, each naming the blob and the fix', () => {
  it('a blob of another plan', () => {
    const b = blobs();
    b[2]!.result.run.shard!.planDigest = 'def';
    const err = refusal(() => mergeResults(b));
    expect(err.message).toMatch(/shard-3 is a shard of another plan than shard-1/);
    expect(err.fix).toMatch(/same target, kernel, --suite/);
  });

  it('a different shard total', () => {
    const b = blobs();
    b[1]!.result.run.shard!.total = 4;
    expect(refusal(() => mergeResults(b)).message).toMatch(/shard-2 is a shard of another plan/);
  });

  it('another tsuite version', () => {
    const b = blobs();
    b[1]!.result.run.tsuiteVersion = '0.2.0';
    const err = refusal(() => mergeResults(b));
    expect(err.message).toMatch(/shard-2 was written by tsuite 0\.2\.0, shard-1 by tsuite 0\.1\.0/);
    expect(err.fix).toMatch(/same tsuite version/);
  });

  it('the same shard twice', () => {
    const b = blobs();
    const err = refusal(() => mergeResults([b[0]!, b[1]!, { ...b[1]!, dir: 'copy-of-2' }]));
    expect(err.message).toMatch(/copy-of-2 and shard-2 are both shard 2\/3/);
  });

  it('a missing shard, by default; merged with --allow-missing and recorded', () => {
    const b = blobs();
    const err = refusal(() => mergeResults([b[0]!, b[2]!]));
    expect(err.message).toMatch(/shard\(s\) 2 of 3 missing/);
    expect(err.fix).toMatch(/--allow-missing/);
    const partial = mergeResults([b[0]!, b[2]!], { allowMissing: true });
    expect(partial.run.merged!.missing).toEqual([2]);
    expect(partial.sessions.map((s) => s.id)).toEqual(['t-1', 't-3', 't-4']);
    expect(partial.summary.total).toBe(6);
  });

  it('a results.json of an unsharded run', () => {
    const b = blobs();
    delete b[1]!.result.run.shard;
    expect(refusal(() => mergeResults(b)).message).toMatch(/shard-2: results.json is not from a sharded run/);
  });

  it('shards that split the plan differently: a session run twice, or by none', () => {
    const twice = blobs();
    twice[1]!.result.run.shard!.sessions = ['t-2', 't-5', 't-1'];
    expect(refusal(() => mergeResults(twice)).message).toMatch(/session t-1 was run by both shard-1 and shard-2/);
    const none = blobs();
    none[2]!.result.run.shard!.sessions = [];
    const err = refusal(() => checkBlobs(none));
    expect(err.message).toMatch(/no shard ran session\(s\) t-3/);
    expect(err.fix).toMatch(/--shard-durations/);
  });

  it('nothing at all', () => {
    expect(refusal(() => mergeResults([])).message).toMatch(/nothing to merge/);
  });
});
