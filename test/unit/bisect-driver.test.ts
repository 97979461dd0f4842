import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BISECT_LOG, readBisectLog, type BisectSpec } from '../../src/bisect/bisect-log.js';
import { runBisection, type StepOutcome } from '../../src/bisect/driver.js';
import { verdictForTest } from '../../src/bisect/test-verdict.js';
import type { RunResult, TestResult } from '../../src/core/result.js';

const path = Array.from({ length: 11 }, (_, i) => `c${i + 1}`);
const spec: BisectSpec = { version: 1, mode: 'test', subject: 'kernel/fixture/x', good: 'c0', bad: 'c11', flags: { target: 'qemu-x86' } };
const firstBad = 7; // c8

function request(dir: string, evaluated: string[], opts: { abortAfter?: number; skip?: string[] } = {}) {
  const controller = new AbortController();
  return {
    dir, spec, path, signal: controller.signal, log: () => undefined,
    subjectOf: async (c: string) => `subject of ${c}`,
    evaluate: async (commit: string): Promise<StepOutcome> => {
      evaluated.push(commit);
      if (opts.abortAfter !== undefined && evaluated.length > opts.abortAfter) controller.abort();
      if (opts.skip?.includes(commit)) return { verdict: 'skip', evidence: { status: 'build-failed', message: 'syntax error' } };
      const bad = path.indexOf(commit) >= firstBad;
      return { verdict: bad ? 'bad' : 'good', evidence: { status: bad ? 'failed' : 'passed' } };
    },
  };
}

describe('runBisection', () => {
  it('logs every step and the answer as JSON lines', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bisect-'));
    const seen: string[] = [];
    const r = await runBisection(request(dir, seen, { skip: ['c6'] }));
    expect(r.kind).toBe('found');
    if (r.kind !== 'interrupted') expect(r.answer).toEqual({ kind: 'found', commit: 'c8' });
    const log = await readBisectLog(dir);
    expect(log[0]).toMatchObject({ kind: 'start', subject: 'kernel/fixture/x', path });
    expect(log.filter((x) => x.kind === 'step').map((x) => x.kind === 'step' && x.commit)).toEqual(seen);
    expect(log.find((x) => x.kind === 'step' && x.commit === 'c6')).toMatchObject({ verdict: 'skip', subject: 'subject of c6', evidence: { status: 'build-failed' } });
    expect(log.at(-1)).toMatchObject({ kind: 'end', outcome: 'found', commit: 'c8' });
  });

  it('an interrupted run keeps its finished steps, drops the cut one, and a rerun continues without retesting', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bisect-'));
    const first: string[] = [];
    const cut = await runBisection(request(dir, first, { abortAfter: 2 }));
    expect(cut.kind).toBe('interrupted');
    expect(cut.steps.map((s) => s.commit)).toEqual(first.slice(0, 2));
    const again: string[] = [];
    const done = await runBisection(request(dir, again));
    expect(done.kind).toBe('found');
    // The third step was cut short, so it is redone; the two finished ones are not.
    expect(again[0]).toBe(first[2]);
    expect(again).not.toContain(first[0]);
    expect(again).not.toContain(first[1]);
    if (done.kind !== 'interrupted') expect(done.answer).toEqual({ kind: 'found', commit: 'c8' });
  });

  it('a finished log answers again without testing anything', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bisect-'));
    await runBisection(request(dir, []));
    const again: string[] = [];
    const r = await runBisection(request(dir, again));
    expect(again).toEqual([]);
    expect(r.kind).toBe('found');
    expect(readFileSync(join(dir, BISECT_LOG), 'utf8').match(/"kind":"end"/g)).toHaveLength(1);
  });

  it('refuses to continue the log of another bisection', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bisect-'));
    await runBisection(request(dir, []));
    await expect(runBisection({ ...request(dir, []), spec: { ...spec, subject: 'kernel/fixture/y' } })).rejects.toThrow(/another bisection.*subject/);
  });

  it('tests the bad endpoint before naming it, and refuses one that passes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bisect-'));
    const seen: string[] = [];
    const r = request(dir, seen);
    const allGood = { ...r, evaluate: async (c: string): Promise<StepOutcome> => (seen.push(c), { verdict: 'good', evidence: { status: 'passed' } }) };
    await expect(runBisection(allGood)).rejects.toThrow(/c11 was found good/);
    expect(seen.at(-1)).toBe('c11');
  });

  it('tolerates a last line cut short by a kill', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bisect-'));
    const first: string[] = [];
    await runBisection(request(dir, first, { abortAfter: 1 }));
    writeFileSync(join(dir, BISECT_LOG), `${readFileSync(join(dir, BISECT_LOG), 'utf8')}{"kind":"step","comm`);
    const r = await runBisection(request(dir, []));
    expect(r.kind).toBe('found');
  });
});

describe('verdictForTest', () => {
  const test = (id: string, status: TestResult['status'], message?: string): TestResult => ({
    id, suite: id.split('/')[0]!, title: id, status, durationMs: 1, metrics: [], session: 's', ...(message ? { error: { message } } : {}),
  });
  const run = (tests: TestResult[], infra?: string) => ({ run: { ...(infra ? { infraError: { message: infra } } : {}) }, tests }) as unknown as RunResult;

  it('passed is good; failed, crashed, timedOut are bad; infraError and skipped are skips', () => {
    expect(verdictForTest(run([test('k/x', 'passed')]), 'k/x').verdict).toBe('good');
    for (const s of ['failed', 'crashed', 'timedOut'] as const) expect(verdictForTest(run([test('k/x', s, 'why')]), 'k/x')).toMatchObject({ verdict: 'bad', evidence: { status: s, message: 'why' } });
    for (const s of ['infraError', 'skipped', 'noTests', 'parseError'] as const) expect(verdictForTest(run([test('k/x', s)]), 'k/x').verdict).toBe('skip');
  });

  it('a test that never reported is bad only when the kernel died first', () => {
    expect(verdictForTest(run([test('k/ktap', 'crashed', 'PANIC')]), 'k/x')).toMatchObject({ verdict: 'bad', evidence: { message: expect.stringContaining('k/ktap crashed') } });
    expect(verdictForTest(run([test('k/ktap', 'infraError', 'no qemu')], 'no qemu'), 'k/x')).toMatchObject({ verdict: 'skip', evidence: { status: 'infraError' } });
    expect(verdictForTest(run([test('k/other', 'passed')]), 'k/x')).toMatchObject({ verdict: 'skip', evidence: { status: 'missing' } });
  });
});
