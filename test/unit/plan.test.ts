import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { buildPlan, type PlanRequest, type SessionPlan } from '../../src/core/plan.js';
import { defineSuite, type TestDef } from '../../src/core/suite.js';

const test = (name: string, extra: Partial<TestDef> = {}): TestDef => ({ name, title: name, run: () => undefined, ...extra });

const boot = defineSuite({
  name: 'boot',
  description: 'boot checks',
  tests: [test('landmark'), test('power-off', { endsSession: true }), test('report')],
});
const isolation = defineSuite({
  name: 'isolation',
  description: 'isolation checks',
  tests: [test('pid-ns'), test('mount-ns')],
});
const suites = [boot, isolation];

const plan = (req: Partial<PlanRequest> = {}) => buildPlan({ suites, sessionKey: 'qemu-x86|reference|console=ttyS0', target: 'qemu-x86', ...req });
const ids = (sessions: SessionPlan[]) => sessions.map((s) => s.tests.map((t) => t.id));
const usageError = (req: Partial<PlanRequest>): UsageError => {
  try {
    plan(req);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return err as UsageError;
  }
  throw new Error('expected a UsageError');
};

describe('buildPlan benchmark sessions', () => {
  const bench = defineSuite({ name: 'bench', description: 'benchmarks', explicit: true, benchmarks: true, tests: [test('syscall'), test('ipc')] });
  const all = [boot, isolation, bench];

  it('boots the benchmarks apart, last, on the benchmark clock unless it is real time', () => {
    for (const clock of ['instructions', 'auto'] as const) {
      const sessions = plan({ suites: all, only: ['isolation', 'bench'], benchClock: clock });
      expect(ids(sessions)).toEqual([['isolation/pid-ns', 'isolation/mount-ns'], ['bench/syscall', 'bench/ipc']]);
      expect(sessions.map((s) => s.clock)).toEqual([undefined, clock]);
      expect(sessions[1]!.key).not.toBe(sessions[0]!.key);
    }
    const timed = plan({ suites: all, only: ['isolation', 'bench'], benchClock: 'time' });
    expect(ids(timed)).toEqual([['isolation/pid-ns', 'isolation/mount-ns', 'bench/syscall', 'bench/ipc']]);
    expect(timed[0]!.clock).toBe('time');
  });

  it('leaves a plan without benchmarks as it was', () => {
    const sessions = plan({ suites: all, only: ['isolation'], benchClock: 'instructions' });
    expect(sessions.map((s) => s.clock)).toEqual([undefined]);
    expect(sessions[0]!.key).toBe('qemu-x86|reference|console=ttyS0');
  });
});

describe('buildPlan sessions', () => {
  it('puts every test in one session when none ends it, in suite order', () => {
    const sessions = plan({ suites: [isolation, defineSuite({ name: 'more', description: '', tests: [test('a'), test('b')] })] });
    expect(sessions).toHaveLength(1);
    expect(sessions[0]!.id).toBe('qemu-x86-1');
    expect(sessions[0]!.key).toBe('qemu-x86|reference|console=ttyS0');
    expect(ids(sessions)).toEqual([['isolation/pid-ns', 'isolation/mount-ns', 'more/a', 'more/b']]);
  });

  it('runs a test that ends the machine last in its session', () => {
    const sessions = plan();
    expect(ids(sessions)).toEqual([['boot/landmark', 'boot/report', 'isolation/pid-ns', 'isolation/mount-ns', 'boot/power-off']]);
    expect(sessions[0]!.tests.at(-1)!.test.endsSession).toBe(true);
  });

  it('gives a second session-ending test a fresh session', () => {
    const twoEnders = defineSuite({
      name: 'shutdown',
      description: '',
      tests: [test('halt', { endsSession: true }), test('echo'), test('reboot', { endsSession: true })],
    });
    const sessions = plan({ suites: [twoEnders], target: 'qemu-arm64' });
    expect(sessions.map((s) => s.id)).toEqual(['qemu-arm64-1', 'qemu-arm64-2']);
    expect(ids(sessions)).toEqual([['shutdown/echo', 'shutdown/halt'], ['shutdown/reboot']]);
    expect(sessions.every((s) => s.key === 'qemu-x86|reference|console=ttyS0')).toBe(true);
  });

  it('keeps the suite and test definitions on each planned test', () => {
    const [session] = plan({ only: ['isolation'] });
    expect(session!.tests[0]!.suite).toBe(isolation);
    expect(session!.tests[0]!.test).toBe(isolation.tests[0]);
  });
});

describe('buildPlan selection', () => {
  it('runs only the named suites, in the order named', () => {
    expect(ids(plan({ only: ['isolation'] }))).toEqual([['isolation/pid-ns', 'isolation/mount-ns']]);
    expect(ids(plan({ only: ['isolation', 'boot'] }))[0]!.slice(0, 3)).toEqual(['isolation/pid-ns', 'isolation/mount-ns', 'boot/landmark']);
  });

  it('runs every suite when only is empty', () => {
    expect(plan({ only: [] })[0]!.tests).toHaveLength(5);
  });

  it('fails on an unknown suite, naming it and listing the valid ones', () => {
    const err = usageError({ only: ['boot', 'nope'] });
    expect(err.message).toContain('nope');
    expect(err.message).not.toContain('boot');
    expect(err.fix).toContain('boot');
    expect(err.fix).toContain('isolation');
  });

  it('keeps tests whose id contains a grep substring', () => {
    expect(ids(plan({ grep: ['-ns'] }))).toEqual([['isolation/pid-ns', 'isolation/mount-ns']]);
    expect(ids(plan({ grep: ['boot/report', 'mount'] }))).toEqual([['boot/report', 'isolation/mount-ns']]);
  });

  it('treats a grep with * as a glob', () => {
    expect(ids(plan({ grep: ['isolation/*-ns'] }))).toEqual([['isolation/pid-ns', 'isolation/mount-ns']]);
    expect(ids(plan({ grep: ['boot/*'] }))).toEqual([['boot/landmark', 'boot/report', 'boot/power-off']]);
    expect(ids(plan({ grep: ['*power*'] }))).toEqual([['boot/power-off']]);
    // A glob matches the whole id: `oot/*` is not `boot/...`.
    expect(() => plan({ grep: ['oot/*'] })).toThrow(UsageError);
  });

  it('treats other regex characters in a glob literally', () => {
    const dotted = defineSuite({ name: 'v', description: '', tests: [test('a.b'), test('axb')] });
    expect(ids(plan({ suites: [dotted], grep: ['v/a.*'] }))).toEqual([['v/a.b']]);
  });

  it('combines only and grep', () => {
    expect(ids(plan({ only: ['boot'], grep: ['-ns', 'report'] }))).toEqual([['boot/report']]);
  });

  it('fails when no test matches', () => {
    const err = usageError({ grep: ['no-such-test'] });
    expect(err.message).toMatch(/no tests match/);
    expect(err.fix).toBeDefined();
    expect(usageError({ only: ['isolation'], grep: ['boot/*'] })).toBeInstanceOf(UsageError);
  });
});

describe('buildPlan and explicit suites', () => {
  const bench = defineSuite({ name: 'bench', description: 'slow', explicit: true, tests: [test('syscall'), test('memory')] });
  const all = [boot, bench, isolation];

  it('leaves an explicit suite out when no suite is named', () => {
    expect(ids(plan({ suites: all })).flat()).toEqual(['boot/landmark', 'boot/report', 'isolation/pid-ns', 'isolation/mount-ns', 'boot/power-off']);
  });

  it('runs it when named, alone or with others', () => {
    expect(ids(plan({ suites: all, only: ['bench'] }))).toEqual([['bench/syscall', 'bench/memory']]);
    expect(ids(plan({ suites: all, only: ['isolation', 'bench'] }))).toEqual([['isolation/pid-ns', 'isolation/mount-ns', 'bench/syscall', 'bench/memory']]);
  });

  it('a --test that matches only an explicit suite says to name it', () => {
    const err = usageError({ suites: all, grep: ['bench/sys'] });
    expect(err.fix).toMatch(/bench runs only when named: add --suite bench/);
  });
});

describe('buildPlan and suites that need more of the machine', () => {
  const gpu = defineSuite({ name: 'gpu', description: 'gpu', explicit: true, machine: { iommu: true, devices: ['edu'] }, tests: [test('vfio'), test('container-vfio')] });

  it('boots such a suite apart, with its needs on the session and in its key', () => {
    const sessions = plan({ suites: [boot, isolation, gpu], only: ['isolation', 'gpu'] });
    expect(ids(sessions)).toEqual([['isolation/pid-ns', 'isolation/mount-ns'], ['gpu/vfio', 'gpu/container-vfio']]);
    expect(sessions[0]!.machineNeeds).toBeUndefined();
    expect(sessions[1]!.machineNeeds).toEqual({ iommu: true, devices: ['edu'] });
    expect(sessions[1]!.key).not.toBe(sessions[0]!.key);
  });

  it('never mixes the tests of a suite that needs a machine with those that do not', () => {
    const sessions = plan({ suites: [boot, isolation, gpu], only: ['gpu'] });
    expect(sessions).toHaveLength(1);
    expect(sessions[0]!.machineNeeds?.iommu).toBe(true);
  });
});
