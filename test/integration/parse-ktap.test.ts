import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunResult, TestResult } from '../../src/core/result.js';
import { tempDir, tsuite } from './cli.js';

/**
 * `tsuite parse` (the built CLI) on saved console logs that are not tsuite's: real KUnit logs
 * (fixtures/ktap/README.md) carry no tsuite boot landmark. No machine is booted: a few seconds.
 */

const KTAP = join('fixtures', 'ktap');

async function parse(log: string, ...extra: string[]) {
  const out = tempDir('parse-ktap');
  const p = await tsuite('parse', log, '--reporter', 'json', '--output-dir', out, ...extra);
  const r = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as RunResult;
  return { ...p, r, byId: new Map<string, TestResult>(r.tests.map((t) => [t.id, t])) };
}

/** Flags a skip reason or message suggests, e.g. `--landmark`. */
const flagsIn = (results: readonly TestResult[]) => [...new Set(results.flatMap((t) => `${t.reason ?? ''} ${t.error?.message ?? ''}`.match(/--[a-z][a-z-]+/g) ?? []))].sort();

describe('`tsuite parse` of a console log without tsuite\'s boot landmark', () => {
  it('reads the KTAP, skips the boot tests saying how to name a landmark, and suggests only flags parse takes', async () => {
    const log = join(KTAP, 'kunit-builtin-x86_64.log');
    const { code, stderr, r, byId } = await parse(log);
    expect(code, stderr).toBe(0);
    expect(stderr).toContain(`to run the boot tests, name the console line your kernel prints once it is up: tsuite parse ${log} --landmark '<regex>'`);
    const kernel = r.tests.filter((t) => t.suite === 'kernel');
    expect(kernel.filter((t) => t.status === 'passed')).toHaveLength(233);
    expect(kernel.filter((t) => t.status === 'skipped')).toHaveLength(16);
    expect(byId.get('kernel/hw_breakpoint/test_one_cpu')).toMatchObject({ status: 'skipped', reason: 'not enough cpus' });
    for (const id of ['boot/reaches-landmark', 'boot/boot-time', 'boot/no-kernel-errors']) {
      expect(byId.get(id), id).toMatchObject({ status: 'skipped', reason: expect.stringContaining("--landmark '<regex>'") });
    }
    expect(r.tests.filter((t) => !['passed', 'skipped'].includes(t.status))).toEqual([]);
    expect(flagsIn(r.tests)).toEqual(['--landmark']);
  });

  it('with the landmark named, the boot tests run on the same log', async () => {
    const { code, byId } = await parse(join(KTAP, 'kunit-builtin-x86_64.log'), '--landmark', 'KTAP version 1');
    expect(code).toBe(0);
    expect(byId.get('boot/reaches-landmark')?.status).toBe('passed');
    expect(byId.get('boot/no-kernel-errors')?.status).toBe('passed');
  });

  it('a named landmark the log lacks is a boot that never got there, as it would be live', async () => {
    const { code, byId } = await parse(join(KTAP, 'kunit-builtin-x86_64.log'), '--landmark', 'never printed by this kernel');
    expect(code).toBe(1);
    expect(byId.get('boot/reaches-landmark')).toMatchObject({ status: 'timedOut', error: { message: expect.stringContaining('never printed by this kernel') } });
  });

  it('a panic after the complete plan is not a crash during the tests (live runs agree: test/unit/ktap-kernel-suite.test.ts)', async () => {
    const { code, stderr, r } = await parse(join(KTAP, 'kunit-builtin-panic-after-plan-x86_64.log'), '--suite', 'kernel');
    expect(code, stderr).toBe(0);
    expect(r.tests.filter((t) => t.status === 'crashed')).toEqual([]);
    expect(r.summary).toMatchObject({ passed: 233, skipped: 16, crashed: 0 });
  });

  it('an empty plan (1..0, no test) is noTests and fails the run', async () => {
    const modules = readFileSync(join(KTAP, 'kunit-modules-x86_64.log'), 'utf8');
    const dir = tempDir('empty-plan');
    const log = join(dir, 'console.log');
    // The real modules-kernel log up to before its first module: the boot-time `1..0` document only.
    writeFileSync(log, modules.slice(0, modules.indexOf('tsuite-capture: insmod')));
    const { code, byId } = await parse(log, '--suite', 'kernel');
    expect(code).toBe(1);
    expect(byId.get('kernel/ktap')).toMatchObject({ status: 'noTests', error: { message: expect.stringContaining('no tests run') } });
  });

  it('a log with no KTAP: the kernel test is skipped naming --ktap, which parse takes; with it, the log is noTests', async () => {
    const log = join('fixtures', 'console', 'reference-x86_64-ok.log');
    const without = await parse(log, '--suite', 'kernel');
    expect(without.code).toBe(0);
    expect(without.byId.get('kernel/ktap')).toMatchObject({ status: 'skipped', reason: expect.stringContaining('--ktap') });
    const withKtap = await parse(log, '--suite', 'kernel', '--ktap');
    expect(withKtap.code).toBe(1);
    expect(withKtap.byId.get('kernel/ktap')).toMatchObject({ status: 'noTests', error: { message: expect.stringContaining('printed no KTAP') } });
  });
});
