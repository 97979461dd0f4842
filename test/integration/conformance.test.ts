import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunResult } from '../../src/core/result.js';
import { tempDir, tsuite } from './cli.js';

/**
 * The syscall and isolation suites on the reference guests: Linux is the oracle, so every probe
 * result must pass there (a failure on the reference is a bug in the probe).
 */
async function conformance(target: string) {
  const out = tempDir(`conformance-${target}`);
  const run = await tsuite('run', '--target', target, '--suite', 'syscall,isolation', '--reporter', 'json', '--output-dir', out);
  return { run, r: JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as RunResult };
}

function expectReferencePasses({ run, r }: Awaited<ReturnType<typeof conformance>>, minSyscalls: number) {
  const notPassed = r.tests.filter((t) => t.status !== 'passed').map((t) => `${t.id} ${t.status} ${t.reason ?? t.error?.message ?? ''}`);
  expect(notPassed, run.stderr).toEqual([]);
  expect(run.code).toBe(0);
  const syscalls = new Set(r.conformance!.syscall!.items.map((i) => i.item.split('/')[1]));
  expect(syscalls.size).toBeGreaterThanOrEqual(minSyscalls);
  expect(r.conformance!.syscall!.items.every((i) => i.status === 'pass' && typeof i.details?.number === 'number')).toBe(true);
  expect(r.conformance!.isolation!.covered).toBeGreaterThanOrEqual(20);
  expect(r.tests.find((t) => t.id === 'isolation/kernel-health')?.status).toBe('passed');
  // Ids as the issue spells them: syscall/<family>/<syscall>/<behaviour>.
  expect(r.tests.some((t) => /^syscall\/files\/openat\/[a-z0-9_]+$/.test(t.id))).toBe(true);
}

describe('tsuite run --suite syscall,isolation', () => {
  it('on qemu-x86: every probe passes on the reference guest, 150+ syscalls, 20+ isolation attempts', async () => {
    expectReferencePasses(await conformance('qemu-x86'), 150);
  }, 240_000);

  it('on qemu-arm64: the same probes, built for aarch64, pass too', async () => {
    expectReferencePasses(await conformance('qemu-arm64'), 150);
  }, 240_000);

  it('a kernel without an agent skips them, saying why', async () => {
    const out = tempDir('conformance-fixture');
    const run = await tsuite('run', '--target', 'qemu-x86', '--kernel', 'fixture', '--append', 'ok', '--suite', 'syscall', '--reporter', 'json', '--output-dir', out);
    expect(run.code).toBe(0);
    const r = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as RunResult;
    expect(r.tests.every((t) => t.status === 'skipped' && /offers no 'agent' channel/.test(t.reason ?? ''))).toBe(true);
    // Known from its config before any boot: nothing to run, nothing booted.
    expect(r.sessions).toEqual([]);
  }, 60_000);
});
