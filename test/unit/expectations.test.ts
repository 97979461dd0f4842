import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exitCodeFor } from '../../src/cli/exit-code.js';
import { buildConformance } from '../../src/core/conformance.js';
import { ConfigError, UsageError } from '../../src/core/errors.js';
import { findExpectation, loadExpectations, markExpectation } from '../../src/core/expectations.js';
import { summarize, type RunResult, type TestResult, type TestStatus } from '../../src/core/result.js';

const file = (text: string) => {
  const f = join(mkdtempSync(join(tmpdir(), 'tsuite-exp-')), 'expectations.yaml');
  writeFileSync(f, text);
  return f;
};
const test = (id: string, status: TestStatus, reason?: string): TestResult =>
  ({ id, suite: id.split('/')[0]!, title: id, status, durationMs: 0, metrics: [], session: 's', ...(reason && { reason }) });
const run = (tests: TestResult[]): RunResult => ({
  version: 1, sessions: [], tests, summary: summarize(tests, 0),
  run: { id: 'r', target: 't', startedAt: '', accel: 'tcg', tsuiteVersion: '0', kernel: { path: 'k', source: 'file', cmdline: '' },
    host: { hostname: 'h', platform: 'p', arch: 'x64', cpuModel: 'c', cpus: 1, memoryMb: 1 } },
});

describe('expectations files', () => {
  it('loads a YAML list of test patterns with reasons', async () => {
    const entries = await loadExpectations(file('# my kernel\n- test: syscall/memory/mremap/*\n  reason: no mremap yet\n  needs: mremap\n- test: isolation/seccomp_filter\n  reason: no seccomp\n'));
    expect(entries).toEqual([
      { test: 'syscall/memory/mremap/*', reason: 'no mremap yet', needs: 'mremap' },
      { test: 'isolation/seccomp_filter', reason: 'no seccomp' },
    ]);
    expect(findExpectation('syscall/memory/mremap/grows_mapping', entries)?.needs).toBe('mremap');
    expect(findExpectation('syscall/memory/mremapx/a', entries)).toBeUndefined();
  });

  it('reports every bad entry at once, and a missing file by name', async () => {
    const err = await loadExpectations(file('- test: a\n- reason: only a reason\n- test: c\n  reason: ok\n  typo: 1\n')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems.map((p) => p.path)).toEqual(['[0].reason', '[1].test', '[2]']);
    const missing = await loadExpectations('/nonexistent/exp.yaml').catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(UsageError);
    expect((missing as Error).message).toContain('/nonexistent/exp.yaml');
  });

  it('a listed failure is an expected failure, not a pass, and does not fail the run', () => {
    const t = test('syscall/memory/mremap/grows', 'failed');
    markExpectation(t, [{ test: 'syscall/memory/mremap/*', reason: 'no mremap' }]);
    expect(t.status).toBe('failed');
    expect(t.expectation).toEqual({ outcome: 'expected-failure', reason: 'no mremap' });
    const r = run([t, test('boot/cpus', 'passed')]);
    expect(r.summary).toMatchObject({ passed: 1, failed: 1, expectedFailures: 1 });
    expect(exitCodeFor(r)).toBe(0);
  });

  it('a listed test that passes is unexpectedly passing and fails the run', () => {
    const t = test('syscall/memory/mremap/grows', 'passed');
    markExpectation(t, [{ test: 'syscall/memory/mremap/grows', reason: 'no mremap' }]);
    expect(t.expectation?.outcome).toBe('unexpected-pass');
    const r = run([t]);
    expect(r.summary.unexpectedPasses).toBe(1);
    expect(exitCodeFor(r)).toBe(1);
  });

  it('an unlisted failure still fails the run; a listed skip is left alone', () => {
    const skipped = test('syscall/x/y/z', 'skipped', 'ENOSYS');
    markExpectation(skipped, [{ test: 'syscall/*', reason: 'r' }]);
    expect(skipped.expectation).toBeUndefined();
    expect(exitCodeFor(run([test('syscall/a/b/c', 'failed')]))).toBe(1);
  });
});

describe('conformance matrix', () => {
  it('folds behaviours into one row per syscall, and counts what ran', () => {
    const expected = test('syscall/memory/mremap/shrinks', 'failed');
    expected.expectation = { outcome: 'expected-failure', reason: 'no mremap' };
    const m = buildConformance('syscall', { itemKind: 'syscall', itemDepth: 2, details: (item) => ({ nr: item.length }) }, [
      test('syscall/files/openat/creates', 'passed'),
      test('syscall/files/openat/enoent', 'failed'),
      test('syscall/files/read/reads', 'passed'),
      test('syscall/proc/clone3/creates', 'skipped', 'ENOSYS on this kernel'),
      expected,
      test('boot/cpus', 'passed'),
    ], 'x86_64');
    expect(m.covered).toBe(3);
    expect(m.items.map((i) => [i.item, i.status, i.passed, i.failed, i.skipped])).toEqual([
      ['files/openat', 'fail', 1, 1, 0],
      ['files/read', 'pass', 1, 0, 0],
      ['proc/clone3', 'skip', 0, 0, 1],
      ['memory/mremap', 'expected-fail', 0, 1, 0],
    ]);
    expect(m.items[2]?.reasons).toEqual(['ENOSYS on this kernel']);
    expect(m.items[0]?.details).toEqual({ nr: 'files/openat'.length });
  });
});
