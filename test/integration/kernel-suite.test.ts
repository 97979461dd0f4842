import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunResult, TestResult } from '../../src/core/result.js';
import { FIXTURE_TESTS } from '../../kernel/fixture/fixture-protocol.js';
import { tempDir, tsuite } from './cli.js';

/**
 * tsuite's own non-Linux kernel (kernel/fixture/) booted through the CLI: each behaviour chosen on
 * its command line must end with the right statuses and a message a kernel developer understands.
 */

async function runFixture(mode: string, ...extra: string[]) {
  const out = tempDir(`fixture-${mode.replace(/\W/g, '')}`);
  const run = await tsuite('run', '--target', 'qemu-x86', '--kernel', 'fixture', '--append', mode, '--reporter', 'json', '--output-dir', out, ...extra);
  const result = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as RunResult;
  const byId = new Map<string, TestResult>(result.tests.map((t) => [t.id, t]));
  return { run, result, byId, out };
}

const kernelTests = (byId: Map<string, TestResult>) => [...byId.values()].filter((t) => t.id.startsWith('kernel/fixture/'));

describe('the fixture kernel through `tsuite run --kernel fixture`', () => {
  it('ok: every in-kernel KTAP test is its own passing result, and the exit device says success', async () => {
    const { run, byId, result } = await runFixture('ok');
    expect(run.code, run.stderr).toBe(0);
    expect(kernelTests(byId).map((t) => [t.id, t.status])).toEqual(FIXTURE_TESTS.map((n) => [`kernel/fixture/${n}`, 'passed']));
    expect(byId.get('kernel/exit-status')?.status).toBe('passed');
    expect(byId.get('boot/reaches-landmark')?.status).toBe('passed');
    expect(byId.get('boot/cpus')).toMatchObject({ status: 'skipped', reason: expect.stringContaining('no tsuite boot report') });
    // The machine that ran the KTAP tests ended through the exit device with value 0 (status 1).
    const ktapSession = result.sessions.find((s) => s.id === byId.get('kernel/exit-status')?.session);
    expect(ktapSession?.exit).toMatchObject({ kind: 'exit-code', code: 1 });
  });

  it('fail: the failing self-test fails with its diagnostic, and so does the exit status', async () => {
    const { run, byId } = await runFixture('fail');
    expect(run.code).toBe(1);
    const failed = byId.get('kernel/fixture/memory_address_in_address');
    expect(failed?.status).toBe('failed');
    expect(failed?.error?.message).toMatch(/bad word/);
    expect(failed?.error?.consoleExcerpt).toContain('not ok 2 memory_address_in_address');
    expect(byId.get('kernel/fixture/cpuid_vendor')?.status).toBe('passed');
    expect(byId.get('kernel/exit-status')?.error?.message).toBe('expected exit value 0 (QEMU status 1), got value 1 (QEMU status 3)');
  });

  it('panic: the tests it never reached are crashed, and the panic line is the message', async () => {
    const { run, byId } = await runFixture('panic');
    expect(run.code).toBe(1);
    expect(byId.get('kernel/fixture/memory_walking_ones')?.status).toBe('passed');
    const crashed = kernelTests(byId).filter((t) => t.status === 'crashed');
    expect(crashed.length).toBe(FIXTURE_TESTS.length - 1);
    expect(byId.get('kernel/ktap')).toMatchObject({ status: 'crashed', error: { message: expect.stringContaining('PANIC: fixture panic requested') } });
  });

  it('hang: the in-kernel tests time out with the console tail, and no pass is claimed', async () => {
    const { run, byId } = await runFixture('hang', '--test-timeout', '4000');
    expect(run.code).toBe(1);
    expect(byId.get('kernel/ktap')).toMatchObject({ status: 'timedOut', error: { consoleExcerpt: expect.stringContaining('KTAP version 1') } });
    expect(kernelTests(byId).filter((t) => t.status === 'passed')).toEqual([]);
  });

  it('triple fault: QEMU ends by itself, the machine reset is crashed', async () => {
    const { run, byId, result } = await runFixture('triple-fault');
    expect(run.code).toBe(1);
    expect(result.sessions.find((x) => x.id === byId.get('kernel/ktap')?.session)?.exit?.kind).toBe('reset');
    expect(byId.get('kernel/exit-status')).toMatchObject({ status: 'crashed', error: { message: expect.stringContaining('got reset') } });
    expect(byId.get('kernel/ktap')).toMatchObject({ status: 'crashed', error: { message: expect.stringContaining('machine reset') } });
  });

  it('garbage on the console never crashes the parser: the KTAP between it still counts', async () => {
    const { run, byId } = await runFixture('garbage');
    expect(run.code, run.stderr).toBe(0);
    expect(kernelTests(byId).every((t) => t.status === 'passed')).toBe(true);
    expect(kernelTests(byId)).toHaveLength(FIXTURE_TESTS.length);
  });

  it('exit=7: the exit device value is decoded as (status - 1) / 2 and judged against the target', async () => {
    const { byId, result } = await runFixture('exit=7');
    const session = result.sessions.find((x) => x.id === byId.get('kernel/exit-status')?.session);
    expect(session?.exit).toMatchObject({ kind: 'exit-code', code: 15, detail: expect.stringContaining('value 7') });
    expect(byId.get('kernel/exit-status')).toMatchObject({ status: 'failed', error: { message: expect.stringContaining('got value 7 (QEMU status 15)') } });
  });

  it('`tsuite parse` turns the saved console log into the same KTAP results offline', async () => {
    const { out } = await runFixture('fail');
    const offline = tempDir('fixture-parse');
    const p = await tsuite('parse', join(out, 'qemu-x86-1', 'console.log'), '--target', 'qemu-x86', '--landmark', 'tsuite-fixture: ready',
      '--reporter', 'json', '--output-dir', offline);
    expect(p.code).toBe(1);
    const r = JSON.parse(readFileSync(join(offline, 'results.json'), 'utf8')) as RunResult;
    const statuses = Object.fromEntries(r.tests.filter((t) => t.id.startsWith('kernel/')).map((t) => [t.id, t.status]));
    expect(statuses['kernel/fixture/memory_address_in_address']).toBe('failed');
    expect(statuses['kernel/fixture/syscall_add']).toBe('passed');
    expect(statuses['kernel/exit-status']).toBeUndefined(); // a log carries no exit status: not judged
  });
});

describe('`tsuite parse` on real KUnit console logs (fixtures/ktap/, captured from a KUnit kernel built from linux-source-6.1)', () => {
  async function parseLog(name: string) {
    const out = tempDir(`kunit-${name}`);
    const p = await tsuite('parse', join('fixtures', 'ktap', name), '--landmark', 'Linux version', '--suite', 'kernel', '--reporter', 'json', '--output-dir', out);
    const r = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as RunResult;
    return { code: p.code, r, byId: new Map(r.tests.map((t) => [t.id, t])) };
  }

  it('built in: every KUnit case is a result, counted as KUnit counted them', async () => {
    const { code, r, byId } = await parseLog('kunit-builtin-x86_64.log');
    expect(code).toBe(0);
    // The oracle: KUnit's own `# Totals:` line after each suite (suites of one case print none).
    const log = readFileSync(join('fixtures', 'ktap', 'kunit-builtin-x86_64.log'), 'utf8');
    const totals = new Map<string, { passed: number; failed: number; skipped: number }>();
    let suite = '';
    for (const line of log.split('\n')) {
      const header = /\] {5}# Subtest: (\S+)/.exec(line);
      if (header) suite = header[1]!;
      const m = /\] # Totals: pass:(\d+) fail:(\d+) skip:(\d+)/.exec(line);
      if (m) totals.set(suite, { passed: Number(m[1]), failed: Number(m[2]), skipped: Number(m[3]) });
    }
    expect(totals.size).toBeGreaterThan(20);
    for (const [name, want] of totals) {
      const ours = r.tests.filter((t) => t.id.startsWith(`kernel/${name}/`));
      const got = { passed: 0, failed: 0, skipped: 0 };
      for (const t of ours) if (t.status in got) got[t.status as keyof typeof got] += 1;
      expect(got, name).toEqual(want);
    }
    expect(byId.get('kernel/hw_breakpoint/test_one_cpu')).toMatchObject({ status: 'skipped', reason: 'not enough cpus' });
  });

  it('as modules: the documents after the empty boot-time one are read too', async () => {
    const { code, r, byId } = await parseLog('kunit-modules-x86_64.log');
    expect(code).toBe(0);
    expect(r.summary.passed).toBeGreaterThan(50);
    expect(byId.get('kernel/example/example_skip_test')?.status).toBe('skipped');
  });

  it('a panic mid-suite: what ran keeps its status, the rest is crashed, the panic is the message', async () => {
    const { code, byId } = await parseLog('kunit-builtin-oops-panic-x86_64.log');
    expect(code).toBe(1);
    expect(byId.get('kernel/tsuite_oops/tsuite_oops_before')?.status).toBe('passed');
    expect(byId.get('kernel/tsuite_oops/#2')).toMatchObject({ status: 'crashed', error: { message: expect.stringContaining('missing expected subtest') } });
    expect(byId.get('kernel/ktap')).toMatchObject({ status: 'crashed', error: { message: expect.stringContaining('Kernel panic - not syncing') } });
  });
});
