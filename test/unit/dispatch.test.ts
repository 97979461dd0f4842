import { describe, expect, it } from 'vitest';
import { ConsoleChannel } from '../../src/channels/console.js';
import { dispatch, type DispatchRequest } from '../../src/core/dispatch.js';
import { BootFailure } from '../../src/core/errors.js';
import { buildPlan } from '../../src/core/plan.js';
import type { RunInfo } from '../../src/core/result.js';
import type { ExitInfo, Session } from '../../src/core/session.js';
import { defineSuite, TestOutcome, type TestDef } from '../../src/core/suite.js';
import { LINUX_EVENT_PATTERNS } from '../../src/parsers/kernel-events.js';

/** A machine that exists only in memory: its console is whatever the test pushes. */
function fakeSession(id: string, opts: { canPowerOff?: boolean } = {}): Session & { exit?: ExitInfo } {
  const console = new ConsoleChannel();
  console.push('booting\nready\n');
  const s: Session & { exit?: ExitInfo } = {
    id,
    dir: '/nonexistent',
    console,
    channels: new Set(['console']),
    accel: 'tcg',
    spec: { arch: 'x86_64', cpus: 1, memoryMb: 64, cmdline: '' },
    landmarkLine: 1,
    eventPatterns: LINUX_EVENT_PATTERNS,
    canPowerOff: opts.canPowerOff ?? false,
    async shutdown() {
      s.exit = { kind: 'clean', code: 0 };
      console.end();
      return s.exit;
    },
    async [Symbol.asyncDispose]() {
      s.exit ??= { kind: 'killed' };
    },
  };
  return s;
}

const run = (): RunInfo => ({
  id: 'r', target: 't', startedAt: '', accel: 'none', tsuiteVersion: '0',
  kernel: { path: 'k', source: 'file', cmdline: '' },
  host: { hostname: 'h', platform: 'p', arch: 'x64', cpuModel: 'c', cpus: 1, memoryMb: 1 },
});

async function dispatchTests(tests: TestDef[], provision?: DispatchRequest['provision'], signal = new AbortController().signal) {
  const boots: string[] = [];
  const suite = defineSuite({ name: 's', description: '', tests });
  const result = await dispatch({
    sessions: buildPlan({ suites: [suite], target: 't', sessionKey: 'k' }),
    target: { name: 't', arch: 'x86_64', ktap: false, containerImages: 'local' },
    provision: provision ?? (async (plan) => (boots.push(plan.id), fakeSession(plan.id))),
    reporters: [],
    run: run(),
    outputDir: '/nonexistent',
    testTimeoutMs: 1000,
    testCleanupGraceMs: 50,
    signal,
  });
  return { result, boots, status: Object.fromEntries(result.tests.map((t) => [t.id, t.status])) };
}

describe('dispatch', () => {
  it('records passes, failures, skips for unmet requirements and timeouts', async () => {
    const { status, result } = await dispatchTests([
      { name: 'ok', title: 'ok', run: () => undefined },
      { name: 'bad', title: 'bad', run: () => { throw new Error('nope'); } },
      { name: 'needs-report', title: 'r', requires: ['boot-report'], run: () => undefined },
      { name: 'slow', title: 'slow', timeoutMs: 20, run: () => new Promise(() => undefined) },
    ]);
    expect(status).toEqual({ 's/ok': 'passed', 's/bad': 'failed', 's/needs-report': 'skipped', 's/slow': 'timedOut' });
    expect(result.tests.find((t) => t.id === 's/needs-report')?.reason).toContain('no tsuite boot report');
  });

  it('a list of channels is met by any one; a promised docker channel that never came up fails the test', async () => {
    const { status, result } = await dispatchTests([
      { name: 'either', title: 'e', requires: [['agent', 'console']], run: () => undefined },
      { name: 'neither', title: 'n', requires: [['agent', 'docker']], run: () => undefined },
    ]);
    expect(status).toEqual({ 's/either': 'passed', 's/neither': 'skipped' });
    expect(result.tests[1]!.reason).toMatch(/one of the channels agent, docker/);
    const broken = await dispatchTests([{ name: 'needs-docker', title: 'd', requires: ['docker'], run: () => undefined }],
      async (plan) => Object.assign(fakeSession(plan.id), { dockerProblem: 'no answer on tcp://127.0.0.1:1 within 1000 ms' }));
    expect(broken.result.tests[0]).toMatchObject({ status: 'failed', error: { message: expect.stringContaining('did not come up: no answer') } });
  });

  it('an interrupted test gets to finish its cleanup before the run ends', async () => {
    const stop = new AbortController();
    const cleaned: string[] = [];
    const { status } = await dispatchTests([{ name: 'makes-things', title: 'm', run: async ({ signal }) => {
      try {
        setTimeout(() => stop.abort(), 5);
        await new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
      } finally {
        await new Promise((r) => setTimeout(r, 20));
        cleaned.push('removed its container');
      }
    } }], undefined, stop.signal);
    expect(status['s/makes-things']).toBe('skipped');
    expect(cleaned).toEqual(['removed its container']);
  });

  it('a failing check after a panic on the console is crashed, not failed', async () => {
    const { status } = await dispatchTests([
      { name: 'dies', title: 'd', run: ({ session }) => {
        session.console.push('[ 1.0] Kernel panic - not syncing: oops\n');
        throw new Error('no answer');
      } },
    ]);
    expect(status['s/dies']).toBe('crashed');
  });

  it('tests after the machine died are crashed, naming the test it died in', async () => {
    const { result } = await dispatchTests([
      { name: 'kills', title: 'k', run: ({ session }) => void ((session as { exit?: ExitInfo }).exit = { kind: 'reset' }) },
      { name: 'after', title: 'a', run: () => undefined },
    ]);
    expect(result.tests[1]).toMatchObject({ id: 's/after', status: 'crashed', error: { message: expect.stringContaining('during s/kills') } });
  });

  it('children reported with emit stand for a passing parent; a failing parent joins them', async () => {
    const { status } = await dispatchTests([
      { name: 'ktap', title: 'k', run: ({ emit }) => {
        emit({ name: 'ktap/a', status: 'passed' });
        emit({ name: 'ktap/b', status: 'failed', error: { message: 'b broke' } });
      } },
      { name: 'cut', title: 'c', run: ({ emit }) => {
        emit({ name: 'cut/a', status: 'passed' });
        throw new TestOutcome('crashed', 'stream ended early');
      } },
    ]);
    expect(status).toEqual({ 's/ktap/a': 'passed', 's/ktap/b': 'failed', 's/cut/a': 'passed', 's/cut': 'crashed' });
  });

  it('a boot failure gives every test of the session that status and the console tail', async () => {
    const { result } = await dispatchTests(
      [{ name: 'a', title: 'a', run: () => undefined }, { name: 'b', title: 'b', run: () => undefined }],
      async () => { throw new BootFailure('timedOut', 'no landmark', 'last line'); },
    );
    expect(result.tests.map((t) => [t.status, t.error?.consoleExcerpt])).toEqual([['timedOut', 'last line'], ['timedOut', 'last line']]);
  });

  it('a session-ending test that is skipped leaves the machine up for the next one: one boot', async () => {
    const { boots, status } = await dispatchTests([
      { name: 'off-1', title: 'o', endsSession: true, requires: ['power-off'], run: () => undefined },
      { name: 'off-2', title: 'o', endsSession: true, run: ({ session }) => session.shutdown().then(() => undefined) },
      { name: 'off-3', title: 'o', endsSession: true, run: () => undefined },
    ]);
    expect(status).toEqual({ 's/off-1': 'skipped', 's/off-2': 'passed', 's/off-3': 'passed' });
    // off-1 skipped (no power-off) so off-2 reused the boot; off-2 really ended it, so off-3 booted anew.
    expect(boots).toEqual(['t-1', 't-3']);
  });
});
