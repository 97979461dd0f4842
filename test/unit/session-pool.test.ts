import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ConsoleChannel } from '../../src/channels/console.js';
import { dispatch, type DispatchRequest } from '../../src/core/dispatch.js';
import { defaultWorkers, parseWorkers } from '../../src/core/default-workers.js';
import { BootFailure, InterruptedError, UsageError } from '../../src/core/errors.js';
import { buildPlan } from '../../src/core/plan.js';
import type { RunInfo } from '../../src/core/result.js';
import type { ExitInfo, Session } from '../../src/core/session.js';
import { SessionPool } from '../../src/core/session-pool.js';
import { defineSuite, type TestDef } from '../../src/core/suite.js';
import { LINUX_EVENT_PATTERNS } from '../../src/parsers/kernel-events.js';
import { consoleReporter } from '../../src/reporters/console-reporter.js';
import type { Reporter } from '../../src/reporters/reporter.js';

function fakeSession(id: string, live: Set<string>): Session & { exit?: ExitInfo } {
  const console = new ConsoleChannel();
  console.push('ready\n');
  live.add(id);
  const s: Session & { exit?: ExitInfo } = {
    id, dir: '/nonexistent', console, channels: new Set(['console']), accel: 'tcg',
    spec: { arch: 'x86_64', cpus: 1, memoryMb: 64, cmdline: '' }, landmarkLine: 0, eventPatterns: LINUX_EVENT_PATTERNS, canPowerOff: true,
    async shutdown() {
      s.exit = { kind: 'clean', code: 0 };
      return s.exit;
    },
    async [Symbol.asyncDispose]() {
      s.exit ??= { kind: 'killed' };
      live.delete(id);
    },
  };
  return s;
}

const run = (): RunInfo => ({
  id: 'r', target: 't', startedAt: '', accel: 'none', tsuiteVersion: '0',
  kernel: { path: 'k', source: 'file', cmdline: '' },
  host: { hostname: 'h', platform: 'p', arch: 'x64', cpuModel: 'c', cpus: 1, memoryMb: 1 },
});

/** Five sessions (each test ends its machine); the first boots slowest, so sessions finish out of plan order. */
const tests = (body: TestDef['run'] = () => undefined): TestDef[] =>
  ['a', 'b', 'c', 'd', 'e'].map((name) => ({ name, title: name, endsSession: true, async run(ctx) { await body(ctx); await ctx.session.shutdown('done'); } }));

async function dispatchWith(workers: number, opts: { tests?: TestDef[]; provision?: DispatchRequest['provision']; signal?: AbortSignal; reporters?: Reporter[] } = {}) {
  const live = new Set<string>();
  const stats = { inFlight: 0, maxInFlight: 0, finished: [] as string[], live };
  const suite = defineSuite({ name: 's', description: '', tests: opts.tests ?? tests() });
  const result = await dispatch({
    sessions: buildPlan({ suites: [suite], target: 't', sessionKey: 'k' }),
    target: { name: 't', arch: 'x86_64', ktap: false, containerImages: 'local' },
    provision: opts.provision ?? (async (plan) => {
      stats.inFlight++;
      stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
      // t-1 boots in 60 ms, the others in 10: t-2 and t-3 are done before t-1.
      await sleep(plan.id === 't-1' ? 60 : 10);
      const s = fakeSession(plan.id, live);
      const dispose = s[Symbol.asyncDispose].bind(s);
      s[Symbol.asyncDispose] = async () => { await dispose(); stats.inFlight--; stats.finished.push(plan.id); };
      return s;
    }),
    reporters: opts.reporters ?? [],
    run: run(),
    outputDir: '/nonexistent',
    testTimeoutMs: 2000,
    testCleanupGraceMs: 50,
    signal: opts.signal ?? new AbortController().signal,
    workers,
  });
  return { result, stats, summary: result.tests.map((t) => `${t.id}:${t.status}:${t.session}`) };
}

describe('SessionPool', () => {
  it('starts every index once, in order, never more than its workers at a time; claimed ones are skipped', async () => {
    const pool = new SessionPool(6, 2);
    const started: number[] = [];
    let inFlight = 0;
    let max = 0;
    await pool.run(async (i) => {
      started.push(i);
      inFlight++;
      max = Math.max(max, inFlight);
      if (i === 0) expect(pool.claim(3)).toBe(true);
      await sleep(i === 0 ? 30 : 5);
      inFlight--;
    });
    expect(started).toEqual([0, 1, 2, 4, 5]);
    expect(max).toBe(2);
    expect(pool.claim(1)).toBe(false);
  });

  it('a task that throws stops new starts, lets the running ones finish, then rethrows', async () => {
    const pool = new SessionPool(5, 2);
    const done: number[] = [];
    await expect(pool.run(async (i) => {
      if (i === 1) throw new UsageError('bad');
      await sleep(20);
      done.push(i);
    })).rejects.toThrow('bad');
    expect(done).toEqual([0]);
  });

  it('refuses fewer than one worker', () => {
    expect(() => new SessionPool(1, 0)).toThrow(RangeError);
  });
});

describe('dispatch with workers', () => {
  it('runs sessions at once, at most N, with the results of a serial run in plan order', async () => {
    const serial = await dispatchWith(1);
    const parallel = await dispatchWith(2);
    expect(serial.stats.maxInFlight).toBe(1);
    expect(parallel.stats.maxInFlight).toBe(2);
    // The check below is not vacuous: the sessions did finish out of plan order.
    expect(parallel.stats.finished).not.toEqual([...parallel.stats.finished].sort());
    expect(parallel.summary).toEqual(serial.summary);
    expect(parallel.result.sessions.map((s) => s.id)).toEqual(['t-1', 't-2', 't-3', 't-4', 't-5']);
    expect(parallel.result.summary).toEqual({ ...serial.result.summary, durationMs: parallel.result.summary.durationMs });
  });

  it('a session that fails to boot fails only its own tests', async () => {
    const live = new Set<string>();
    const { summary } = await dispatchWith(3, {
      provision: async (plan) => {
        await sleep(10);
        if (plan.id === 't-2') throw new BootFailure('timedOut', 'no landmark', 'console tail');
        return fakeSession(plan.id, live);
      },
    });
    expect(summary).toEqual(['s/a:passed:t-1', 's/b:timedOut:t-2', 's/c:passed:t-3', 's/d:passed:t-4', 's/e:passed:t-5']);
  });

  it('an abort stops every open session and starts no new one', async () => {
    const ac = new AbortController();
    const booted: string[] = [];
    const live = new Set<string>();
    setTimeout(() => ac.abort(new InterruptedError('SIGINT')), 100);
    const { result } = await dispatchWith(2, {
      signal: ac.signal,
      tests: tests((ctx) => new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }))),
      provision: async (plan) => (booted.push(plan.id), fakeSession(plan.id, live)),
    });
    expect(booted).toEqual(['t-1', 't-2']);
    expect(live.size).toBe(0);
    expect(result.run.interrupted).toEqual({ signal: 'SIGINT' });
    expect(result.tests.map((t) => t.status)).toEqual(['skipped', 'skipped', 'skipped', 'skipped', 'skipped']);
    expect(result.tests.slice(2).every((t) => t.reason?.startsWith('not run'))).toBe(true);
  });

  it('a usage error in one session aborts the sessions running beside it, and is thrown', async () => {
    const live = new Set<string>();
    const started = Date.now();
    await expect(dispatchWith(2, {
      tests: tests((ctx) => new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }))),
      provision: async (plan) => {
        await sleep(plan.id === 't-2' ? 50 : 5);
        if (plan.id === 't-2') throw new UsageError('no such host device');
        return fakeSession(plan.id, live);
      },
    })).rejects.toThrow('no such host device');
    expect(live.size).toBe(0);
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it("prints each session's events as one block when several run at once", async () => {
    const events: string[] = [];
    const reporter: Reporter = {
      name: 'rec',
      onSessionStart: (s) => void events.push(`start ${s.id}`),
      onTestEnd: (t) => void events.push(`test ${t.session}`),
      onSessionEnd: (s) => void events.push(`end ${s.id}`),
    };
    const progress: string[] = [];
    reporter.onProgress = (running) => void progress.push(running.map((r) => `${r.session}:${r.test ?? 'booting'}`).join(' '));
    await dispatchWith(2, { reporters: [reporter] });
    expect(progress).toContain('t-1:booting t-2:booting');
    expect(progress.at(-1)).toBe('');
    const blocks = Array.from({ length: events.length / 3 }, (_, i) => events.slice(3 * i, 3 * i + 3));
    for (const [start, test, end] of blocks) {
      const id = start!.split(' ')[1];
      expect([start, test, end]).toEqual([`start ${id}`, `test ${id}`, `end ${id}`]);
    }
    // Blocks come as sessions end: t-1, the slowest, is not first.
    expect(blocks[0]![0]).not.toBe('start t-1');
  });

  it('a machine left up serves the next session when no worker has booted it yet', async () => {
    // No test ends its machine: "a" stays up and takes "b" (a one-test session after it is planned
    // by hand here), exactly as a serial run does.
    const live = new Set<string>();
    const boots: string[] = [];
    const suite = defineSuite({ name: 's', description: '', tests: [{ name: 'a', title: 'a', run: () => undefined }, { name: 'b', title: 'b', run: () => undefined }] });
    const [one] = buildPlan({ suites: [suite], target: 't', sessionKey: 'k' });
    const sessions = [{ ...one!, tests: [one!.tests[0]!] }, { ...one!, id: 't-2', tests: [one!.tests[1]!] }];
    const result = await dispatch({
      sessions, target: { name: 't', arch: 'x86_64', ktap: false, containerImages: 'local' },
      provision: async (plan) => (boots.push(plan.id), await sleep(10), fakeSession(plan.id, live)),
      reporters: [], run: run(), outputDir: '/nonexistent', testTimeoutMs: 1000, signal: new AbortController().signal, workers: 1,
    });
    expect(boots).toEqual(['t-1']);
    expect(result.tests.map((t) => t.session)).toEqual(['t-1', 't-1']);
    // With two workers t-2 is booting already when t-1's test ends: it keeps its own machine.
    boots.length = 0;
    const both = await dispatch({
      sessions, target: { name: 't', arch: 'x86_64', ktap: false, containerImages: 'local' },
      provision: async (plan) => (boots.push(plan.id), await sleep(10), fakeSession(plan.id, live)),
      reporters: [], run: run(), outputDir: '/nonexistent', testTimeoutMs: 1000, signal: new AbortController().signal, workers: 2,
    });
    expect(boots).toEqual(['t-1', 't-2']);
    expect(both.tests.map((t) => `${t.id}:${t.status}`)).toEqual(result.tests.map((t) => `${t.id}:${t.status}`));
  });
});

describe('the console reporter with several sessions at once', () => {
  it('shows one live line of the running sessions on a TTY, and nothing of it in CI logs', async () => {
    for (const isTTY of [true, false]) {
      let text = '';
      const stream = Object.assign(new PassThrough(), { isTTY, columns: 200 });
      stream.on('data', (d: Buffer) => (text += d.toString()));
      await dispatchWith(2, { reporters: [consoleReporter({ outputDir: '/nonexistent', stream })] });
      expect(text.includes('2 running: t-1 booting · t-2 booting')).toBe(isTTY);
      // eslint-disable-next-line no-control-regex
      expect(text.replace(/\x1b\[\d+m/g, '')).toContain('PASS 5 passed');
    }
  });
});

describe('default workers', () => {
  const host = { hostCpus: 2, availableMemoryMb: 20_000, guestCpus: 1, guestMemoryMb: 512 };
  it('TCG: one host CPU per vCPU; KVM: two vCPUs per host CPU; memory caps both; never below 1', () => {
    expect(defaultWorkers({ ...host, accel: 'tcg' }).workers).toBe(2);
    expect(defaultWorkers({ ...host, guestCpus: 2, accel: 'tcg' }).workers).toBe(1);
    expect(defaultWorkers({ ...host, guestCpus: 4, accel: 'tcg' }).workers).toBe(1);
    expect(defaultWorkers({ ...host, accel: 'kvm' }).workers).toBe(4);
    // 1600 MiB × 0.75 / (512 + 128) = 1.875: one.
    expect(defaultWorkers({ ...host, availableMemoryMb: 1600, accel: 'kvm' }).workers).toBe(1);
    expect(defaultWorkers({ ...host, hostCpus: 16, accel: 'none' }).workers).toBe(1);
  });

  it('--workers takes a whole number from 1 to 64; anything else is a usage error', () => {
    expect(parseWorkers('3')).toBe(3);
    for (const bad of ['0', '-1', '1.5', 'two', '', '65']) expect(() => parseWorkers(bad)).toThrow(UsageError);
  });
});
