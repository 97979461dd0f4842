import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { exitCodeFor } from '../../src/cli/exit-code.js';
import { BootFailure, ExitCode } from '../../src/core/errors.js';
import { replaySession } from '../../src/core/replay-session.js';
import { RESULT_VERSION, summarize, TEST_STATUSES, type RunInfo, type RunResult, type TestResult, type TestStatus } from '../../src/core/result.js';
import { BOOT_REPORT_READY } from '../../src/parsers/boot-report.js';
import { LINUX_EVENT_PATTERNS } from '../../src/parsers/kernel-events.js';

const fixture = (name: string) => readFileSync(new URL(`../../fixtures/console/${name}`, import.meta.url), 'utf8');
const OK = fixture('reference-x86_64-ok.log');
const PANIC = fixture('reference-x86_64-panic-init.log');

const replay = (text: string) => replaySession('replay', '/tmp/replay', text, BOOT_REPORT_READY, LINUX_EVENT_PATTERNS);
const bootFailure = (text: string): BootFailure => {
  try {
    replay(text);
  } catch (err) {
    expect(err).toBeInstanceOf(BootFailure);
    return err as BootFailure;
  }
  throw new Error('expected a BootFailure');
};

describe('replaySession', () => {
  it('replays a successful boot up to the ready line', async () => {
    const session = replay(OK);
    expect(session.id).toBe('replay');
    expect(session.dir).toBe('/tmp/replay');
    expect(session.landmarkLine).toBeDefined();
    expect(session.console.lines[session.landmarkLine!]!.text).toBe('tsuite-boot: ready');
    expect(session.console.lines[session.landmarkLine! - 1]!.text).toBe('tsuite-boot: uptime_s=1.72');
    expect(session.console.isClosed).toBe(true);
    expect(session.console.lines.some((l) => l.text.includes('\r'))).toBe(false);
    expect(session.spec).toBeUndefined();
    expect(session.canPowerOff).toBe(false);
    expect(session.accel).toBe('none');
    expect([...session.channels]).toEqual(['console']);
    expect(session.eventPatterns).toBe(LINUX_EVENT_PATTERNS);
    await expect(session.shutdown()).resolves.toMatchObject({ kind: 'exit-code' });
    await session[Symbol.asyncDispose]();
  });

  it('uses the landmark it is given', () => {
    const session = replaySession('r', '/tmp/r', OK, /Run \/init as init process/, LINUX_EVENT_PATTERNS);
    expect(session.console.lines[session.landmarkLine!]!.text).toContain('Run /init as init process');
  });

  it('fails a boot that panicked as crashed, quoting the panic line', () => {
    const err = bootFailure(PANIC);
    expect(err.kind).toBe('crashed');
    expect(err.message).toContain('Kernel panic - not syncing: Attempted to kill init! exitcode=0x00007f00');
    expect(err.consoleTail).toContain('Kernel panic - not syncing');
    expect(err.consoleTail.split('\n').length).toBeLessThanOrEqual(40);
  });

  it('fails a log cut short before the ready line as timedOut', () => {
    const lines = OK.split('\n');
    const ready = lines.findIndex((l) => BOOT_REPORT_READY.test(l));
    const err = bootFailure(lines.slice(0, ready).join('\n'));
    expect(err.kind).toBe('timedOut');
    expect(err.message).toContain(String(BOOT_REPORT_READY));
    expect(err.consoleTail).toContain('tsuite-boot: uptime_s=1.72');
  });

  it('fails an empty log as timedOut', () => {
    expect(bootFailure('').kind).toBe('timedOut');
  });
});

const RUN: RunInfo = {
  id: 'run-1',
  target: 'qemu-x86',
  startedAt: '2026-01-01T00:00:00.000Z',
  kernel: { path: '/k', source: 'file', cmdline: 'console=ttyS0' },
  accel: 'tcg',
  host: { hostname: 'h', platform: 'linux', arch: 'x64', cpuModel: 'cpu', cpus: 2, memoryMb: 4096 },
  tsuiteVersion: '0.1.0',
};

const result = (statuses: TestStatus[], run: Partial<RunInfo> = {}): RunResult => {
  const tests: TestResult[] = statuses.map((status, i) => ({
    id: `s/t${i}`,
    suite: 's',
    title: `t${i}`,
    status,
    durationMs: 1,
    metrics: [],
    session: 'qemu-x86-1',
    ...(status === 'skipped' ? { reason: 'no agent' } : {}),
  }));
  return { version: RESULT_VERSION, run: { ...RUN, ...run }, summary: summarize(tests, 1), sessions: [], tests };
};

describe('exitCodeFor', () => {
  it('is 0 when every test passed or was skipped', () => {
    expect(exitCodeFor(result(['passed', 'skipped', 'passed']))).toBe(ExitCode.ok);
    expect(exitCodeFor(result(['skipped']))).toBe(0);
  });

  it.each(['failed', 'timedOut', 'crashed'] as const)('is 1 when a test %s, even beside an infraError', (status) => {
    expect(exitCodeFor(result(['passed', status]))).toBe(ExitCode.testFailed);
    expect(exitCodeFor(result(['infraError', status, 'skipped']))).toBe(1);
    expect(exitCodeFor(result([status], { infraError: { message: 'disk full' } }))).toBe(1);
  });

  it('is 3 when only the harness failed', () => {
    expect(exitCodeFor(result(['passed', 'infraError']))).toBe(ExitCode.infra);
    expect(exitCodeFor(result([], { infraError: { message: 'no qemu', fix: 'run `npx tsuite setup`' } }))).toBe(3);
    expect(exitCodeFor(result(['passed'], { infraError: { message: 'no qemu' } }))).toBe(3);
  });

  it('is 130 when interrupted, whatever the tests did', () => {
    expect(exitCodeFor(result(['passed'], { interrupted: { signal: 'SIGINT' } }))).toBe(ExitCode.interrupted);
    expect(exitCodeFor(result(['failed', 'infraError'], { interrupted: { signal: 'SIGTERM' } }))).toBe(130);
  });
});

describe('summarize', () => {
  it('counts each status and the total', () => {
    const s = summarize(result(['passed', 'passed', 'failed', 'skipped', 'timedOut', 'crashed', 'infraError', 'noTests', 'parseError']).tests, 1234);
    expect(s).toEqual({
      total: 9,
      passed: 2,
      failed: 1,
      skipped: 1,
      timedOut: 1,
      crashed: 1,
      infraError: 1,
      noTests: 1,
      parseError: 1,
      expectedFailures: 0,
      unexpectedPasses: 0,
      durationMs: 1234,
    });
  });

  it('has a zero count for every status of an empty run', () => {
    const s = summarize([], 0);
    expect(s.total).toBe(0);
    for (const status of TEST_STATUSES) expect(s[status]).toBe(0);
  });
});
