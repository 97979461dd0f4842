import { describe, expect, it } from 'vitest';
import { ConsoleChannel } from '../../src/channels/console.js';
import { dispatch, type DispatchRequest } from '../../src/core/dispatch.js';
import { BootFailure } from '../../src/core/errors.js';
import { buildPlan } from '../../src/core/plan.js';
import type { RunInfo } from '../../src/core/result.js';
import type { ExitInfo, Session } from '../../src/core/session.js';
import { defineSuite, TestOutcome, type TargetFacts, type TestDef } from '../../src/core/suite.js';
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

async function dispatchTests(tests: TestDef[], provision?: DispatchRequest['provision'], signal = new AbortController().signal, facts: Partial<TargetFacts> = {}) {
  const boots: string[] = [];
  const suite = defineSuite({ name: 's', description: '', tests });
  const result = await dispatch({
    sessions: buildPlan({ suites: [suite], target: 't', sessionKey: 'k' }),
    target: { name: 't', arch: 'x86_64', ktap: false, containerImages: 'local', ...facts },
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

  it('tests that need only the console run while the agent is still coming up; any other test waits for it', async () => {
    const order: string[] = [];
    let settle!: () => void;
    const settling = new Promise<void>((resolve) => (settle = () => (order.push('agent up'), resolve())));
    const session = (id: string) => Object.assign(fakeSession(id), { settling });
    const note = (name: string) => () => void order.push(name);
    const { status } = await dispatchTests([
      { name: 'report', title: 'r', requires: ['console', 'live'], run: () => { order.push('report'); setTimeout(settle, 20); } },
      { name: 'undeclared', title: 'u', run: note('undeclared') },
      { name: 'agent', title: 'a', requires: [['agent', 'console']], run: note('agent') },
    ], async (plan) => session(plan.id));
    expect(status).toEqual({ 's/report': 'passed', 's/undeclared': 'passed', 's/agent': 'passed' });
    // A test declaring no requirements may use any channel: it is not run before the agent is up.
    expect(order).toEqual(['report', 'agent up', 'undeclared', 'agent']);
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

  describe('a target that never offers what a test needs', () => {
    // A kernel with only its console (tsuite's fixture kernel), whose boot resets before the landmark.
    const consoleOnly: Partial<TargetFacts> = { channels: ['console', 'exit'], ktap: false, powerOff: false };
    const reset = async (): Promise<never> => {
      throw new BootFailure('crashed', 'the machine ended (guest reset (reboot or triple fault)) before the boot landmark /up/', 'raising a triple fault');
    };
    const plan: TestDef[] = [
      { name: 'landmark', title: 'l', requires: ['console'], run: () => undefined },
      { name: 'report', title: 'r', requires: ['boot-report', 'live'], run: () => undefined },
      { name: 'probe', title: 'p', requires: [['agent', 'docker']], run: () => undefined },
      { name: 'attempts', title: 'a', requires: ['agent'], run: () => undefined },
      { name: 'engine', title: 'e', requires: ['docker'], run: () => undefined },
      { name: 'ktap', title: 'k', requires: ['console', 'ktap'], run: () => undefined },
      { name: 'shutdown', title: 's', requires: ['live', 'power-off'], endsSession: true, run: () => undefined },
    ];

    it('skips them before the boot, naming what is missing; only the rest get the boot failure, which the session records once', async () => {
      const { result, status } = await dispatchTests(plan, reset, undefined, consoleOnly);
      expect(status).toEqual({
        's/landmark': 'crashed', 's/report': 'crashed',
        's/probe': 'skipped', 's/attempts': 'skipped', 's/engine': 'skipped', 's/ktap': 'skipped', 's/shutdown': 'skipped',
      });
      const reason = (id: string) => result.tests.find((t) => t.id === id)?.reason;
      expect(reason('s/attempts')).toBe("target 't' offers no 'agent' channel (agent: true in its config, or --agent)");
      expect(reason('s/engine')).toMatch(/^target 't' offers no 'docker' channel \(docker\.port in its config/);
      expect(reason('s/probe')).toMatch(/^needs one of the channels agent, docker: target 't' offers no 'agent' channel .*; target 't' offers no 'docker' channel/);
      expect(reason('s/ktap')).toMatch(/does not declare KTAP output/);
      expect(reason('s/shutdown')).toMatch(/no power-off command/);
      // Decided before the boot: the skips come first.
      expect(result.tests.slice(0, 5).every((t) => t.status === 'skipped')).toBe(true);
      expect(result.sessions).toEqual([expect.objectContaining({
        id: 't-1', bootFailure: { status: 'crashed', message: expect.stringContaining('triple fault'), consoleExcerpt: 'raising a triple fault' },
      })]);
      expect(result.tests.find((t) => t.id === 's/landmark')?.error).toEqual({ message: expect.stringContaining('triple fault'), consoleExcerpt: 'raising a triple fault' });
    });

    it('a channel the target declares is not skipped before the boot: its tests share the boot failure', async () => {
      const { status } = await dispatchTests(plan, reset, undefined, { channels: ['console', 'agent', 'docker'], ktap: true, powerOff: true });
      expect(Object.values(status)).toEqual(Array(plan.length).fill('crashed'));
    });

    it('the sessions a skipped session-ending test separated share one boot: one boot failure, not two', async () => {
      let boots = 0;
      const { result, status } = await dispatchTests([
        { name: 'landmark', title: 'l', requires: ['console'], run: () => undefined },
        { name: 'shutdown', title: 's', requires: ['live', 'power-off'], endsSession: true, run: () => undefined },
        { name: 'ktap', title: 'k', requires: ['console', 'ktap'], endsSession: true, run: () => undefined },
      ], async () => (boots++, reset()), undefined, { ...consoleOnly, ktap: true });
      expect(status).toEqual({ 's/landmark': 'crashed', 's/shutdown': 'skipped', 's/ktap': 'crashed' });
      expect(boots).toBe(1);
      expect(result.sessions.map((s) => s.id)).toEqual(['t-1']);
      expect(new Set(result.tests.map((t) => t.session))).toEqual(new Set(['t-1']));
    });

    it('a session left with no test boots nothing', async () => {
      const { boots, result } = await dispatchTests(plan.slice(2, 5), undefined, undefined, consoleOnly);
      expect(boots).toEqual([]);
      expect(result.sessions).toEqual([]);
      expect(result.tests.map((t) => t.status)).toEqual(['skipped', 'skipped', 'skipped']);
    });

    it('a declared docker endpoint that never answered still fails its tests', async () => {
      const broken = await dispatchTests([{ name: 'needs-docker', title: 'd', requires: ['docker'], run: () => undefined }],
        async (plan) => Object.assign(fakeSession(plan.id), { dockerProblem: 'no answer on tcp://127.0.0.1:1 within 1000 ms' }),
        undefined, { channels: ['console', 'docker'] });
      expect(broken.result.tests[0]).toMatchObject({ status: 'failed', error: { message: expect.stringContaining('did not come up: no answer') } });
    });

    it('a session-ending test skipped before any boot does not boot its session', async () => {
      const { boots, status } = await dispatchTests([
        { name: 'off-1', title: 'o', endsSession: true, requires: ['power-off'], run: () => undefined },
        { name: 'off-2', title: 'o', endsSession: true, run: ({ session }) => session.shutdown().then(() => undefined) },
        { name: 'off-3', title: 'o', endsSession: true, run: () => undefined },
      ], undefined, undefined, { powerOff: false });
      expect(status).toEqual({ 's/off-1': 'skipped', 's/off-2': 'passed', 's/off-3': 'passed' });
      // Nothing of t-1 can run: it boots nothing.
      expect(boots).toEqual(['t-2', 't-3']);
    });
  });

  it("a child without a time of its own took the time since the previous report (or the test's start)", async () => {
    const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const started = Date.now();
    const { result } = await dispatchTests([{ name: 'probe', title: 'p', run: async ({ emit }) => {
      await wait(60);
      emit({ name: 'probe/a', status: 'passed' });
      emit({ name: 'probe/b', status: 'passed' });
      await wait(30);
      emit({ name: 'probe/c', status: 'passed', durationMs: 5 });
      await wait(40);
      emit({ name: 'probe/d', status: 'passed' });
    } }]);
    const wall = Date.now() - started;
    const ms = Object.fromEntries(result.tests.map((t) => [t.id, t.durationMs]));
    expect(ms['s/probe/a']).toBeGreaterThanOrEqual(58);
    expect(ms['s/probe/b']).toBeLessThan(15);
    // Its own time is kept; the next child's is counted from its report.
    expect(ms['s/probe/c']).toBe(5);
    expect(ms['s/probe/d']).toBeGreaterThanOrEqual(38);
    expect(ms['s/probe/d']).toBeLessThan(100);
    const sum = ms['s/probe/a']! + ms['s/probe/b']! + ms['s/probe/d']!;
    expect(sum).toBeLessThanOrEqual(wall);
    expect(sum).toBeGreaterThanOrEqual(98);
  });
});
