import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunResult } from '../../src/core/result.js';
import { tempDir, tsuite } from './cli.js';

/**
 * An expectations file against a real kernel: the fixture kernel booted with `fail`, whose
 * memory_address_in_address self-test fails for real and whose exit device then says "failed".
 */
async function runWith(expectations: string) {
  const dir = tempDir('expectations');
  const file = join(dir, 'fixture.yaml');
  writeFileSync(file, expectations);
  const out = join(dir, 'out');
  const run = await tsuite('run', '--target', 'qemu-x86', '--kernel', 'fixture', '--append', 'fail', '--suite', 'kernel',
    '--expectations', file, '--output-dir', out);
  return { run, result: JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as RunResult };
}

const KNOWN_GAPS = `# The fixture kernel in 'fail' mode: its known gaps.
- test: kernel/fixture/memory_address_in_address
  reason: address-in-address pattern is corrupted on purpose in fail mode
- test: kernel/exit-status
  reason: the exit value reports the failure above
`;

describe('expectations files', () => {
  it('listed failures are expected failures, not passes, and the run passes', async () => {
    const { run, result } = await runWith(KNOWN_GAPS);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const listed = result.tests.find((t) => t.id === 'kernel/fixture/memory_address_in_address');
    expect(listed).toMatchObject({ status: 'failed', expectation: { outcome: 'expected-failure' } });
    expect(result.summary).toMatchObject({ expectedFailures: 2, unexpectedPasses: 0 });
    expect(result.summary.passed).toBe(result.tests.filter((t) => t.status === 'passed').length);
    expect(result.tests.filter((t) => t.status === 'passed').map((t) => t.id)).not.toContain(listed!.id);
    expect(run.stdout).toMatch(/2 expected failure\(s\)/);
  });

  it('a listed test that passes is reported as unexpectedly passing and fails the run', async () => {
    const { run, result } = await runWith(`${KNOWN_GAPS}- test: kernel/fixture/cpuid_vendor\n  reason: thought broken\n- test: kernel/fixture/no_such_test\n  reason: stale\n`);
    expect(run.code).toBe(1);
    expect(result.tests.find((t) => t.id === 'kernel/fixture/cpuid_vendor')).toMatchObject({
      status: 'passed',
      expectation: { outcome: 'unexpected-pass', reason: 'thought broken' },
    });
    expect(run.stdout).toMatch(/unexpectedly passing: remove it from the expectations/);
    expect(result.run.expectations?.stale).toEqual(['kernel/fixture/no_such_test']);
  });

  it('an unlisted failure still fails the run', async () => {
    const { run } = await runWith('- test: kernel/exit-status\n  reason: the exit value reports the failure\n');
    expect(run.code).toBe(1);
  });
});
