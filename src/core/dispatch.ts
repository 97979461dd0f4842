import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseBootReport, type BootReport } from '../parsers/boot-report.js';
import { scanKernelEvents } from '../parsers/kernel-events.js';
import type { Reporter, RunningSession, TestStart } from '../reporters/reporter.js';
import { buildConformance } from './conformance.js';
import { BootFailure, InfraError, InterruptedError, UsageError, describeError } from './errors.js';
import { markExpectation, type Expectation } from './expectations.js';
import type { PlannedTest, SessionPlan } from './plan.js';
import { RESULT_VERSION, summarize, type Metric, type RunInfo, type RunResult, type SessionResult, type TestResult } from './result.js';
import type { Session } from './session.js';
import { brokenChannel, consoleOnly, SkipTest, TestOutcome, unmetRequirement, type ChildResult, type TargetFacts, type TestContext } from './suite.js';
import { withoutUndeclared, type UndeclaredSkip } from './undeclared-skips.js';
import { serialQueue, SessionPool } from './session-pool.js';

export interface DispatchRequest {
  sessions: readonly SessionPlan[];
  target: TargetFacts;
  /** Boots the machine for one session plan. */
  provision(plan: SessionPlan, dir: string, signal: AbortSignal): Promise<Session>;
  reporters: readonly Reporter[];
  run: RunInfo;
  outputDir: string;
  /** For tests that set no time limit of their own. */
  testTimeoutMs: number;
  /** The user's explicit limit (--test-timeout): it wins over the tests' own. */
  testTimeoutOverrideMs?: number;
  signal: AbortSignal;
  /** How long a test that was aborted or timed out gets to clean up after itself (default 10 s). */
  testCleanupGraceMs?: number;
  /** The target's known gaps (its expectations file). */
  expectations?: { file: string; entries: readonly Expectation[] };
  /** Sessions booted and run at once (`--workers`); 1, the default, runs them one after another. */
  workers?: number;
}

/** Calls one hook on every reporter in order; a broken reporter is reported, never fatal to the run. */
export async function notify<K extends keyof Reporter>(reporters: readonly Reporter[], hook: K, ...args: unknown[]): Promise<void> {
  for (const r of reporters) {
    const fn = r[hook] as ((...a: unknown[]) => unknown) | undefined;
    try {
      await fn?.apply(r, args);
    } catch (err) {
      process.stderr.write(`tsuite: reporter '${r.name}' failed in ${String(hook)}: ${describeError(err)}\n`);
    }
  }
}

const base = (t: PlannedTest, session: string) => ({ id: t.id, suite: t.suite.name, title: t.test.title, session, metrics: [] as Metric[] });

/** Runs every session of the plan and returns the complete result model. */
export async function dispatch(outer: DispatchRequest): Promise<RunResult> {
  const started = Date.now();
  // A usage error in one session ends the run: the sessions running beside it are aborted too.
  const failFast = new AbortController();
  const req: DispatchRequest = { ...outer, signal: AbortSignal.any([outer.signal, failFast.signal]) };
  await notify(req.reporters, 'onRunStart', req.run);

  // Tests needing what the target never offers are skipped before, and whatever, the boot; a
  // session left with no test boots nothing.
  const plans = withoutUndeclared(req.sessions, req.target);
  // Results by plan index: sessions that finish out of order still report in plan order.
  const slots: { tests: TestResult[]; session?: SessionResult }[] = plans.map(() => ({ tests: [] }));
  // More workers than sessions that boot would only give up the live line for nothing.
  const booting = plans.filter((p) => p.plan.tests.length > 0).length;
  const pool = new SessionPool(plans.length, Math.max(1, Math.min(req.workers ?? 1, booting)));
  const replay = serialQueue();
  const usedExpectations = new Set<Expectation>();

  // What each running session is doing, for a live line while their events are held.
  const running = new Map<number, RunningSession>();
  const progress = () => notify(req.reporters, 'onProgress', [...running.values()]);
  await pool.run(async (first) => {
    // One worker: events go out as they happen (a live line on a TTY). Several: a session's events
    // are held and replayed as one block when it ends, so each session's lines stay together.
    const held: [keyof Reporter, unknown[]][] = [];
    const emit = pool.workers === 1
      ? (hook: keyof Reporter, ...args: unknown[]) => notify(req.reporters, hook, ...args)
      : async (hook: keyof Reporter, ...args: unknown[]) => {
        held.push([hook, args]);
        if (hook === 'onSessionStart') running.set(first, { session: (args[0] as SessionResult).id });
        if (hook === 'onTestStart') running.set(first, { session: (args[0] as TestStart).session, test: (args[0] as TestStart).id });
        if (hook === 'onSessionStart' || hook === 'onTestStart') await progress();
      };
    try {
      await runPlan(first, emit);
    } catch (err) {
      failFast.abort(err);
      throw err;
    } finally {
      running.delete(first);
      if (held.length > 0) await replay(async () => { for (const [hook, args] of held) await notify(req.reporters, hook, ...args); });
      if (pool.workers > 1) await progress();
    }
  });

  async function runPlan(first: number, emit: (hook: keyof Reporter, ...args: unknown[]) => Promise<void>): Promise<void> {
    const slot = slots[first]!;
    const record = async (r: TestResult) => {
      const e = req.expectations && markExpectation(r, req.expectations.entries);
      if (e) usedExpectations.add(e);
      slot.tests.push(r);
      await emit('onTestEnd', r);
    };
    const recordAll = async (list: readonly PlannedTest[], session: string, make: (t: PlannedTest) => Partial<TestResult>) => {
      for (const t of list) await record({ ...base(t, session), status: 'skipped', durationMs: 0, ...make(t) } as TestResult);
    };
    const recordUndeclared = async (session: string, skipped: readonly UndeclaredSkip[]) => {
      for (const { test, reason } of skipped) await record({ ...base(test, session), status: 'skipped', durationMs: 0, reason });
    };
    // The next plan of the same key, when no other worker has started it: this session takes it on.
    let p = first;
    const claimNext = (plan: SessionPlan) => plans[p + 1]?.plan.key === plan.key && pool.claim(p + 1) ? plans[++p]! : undefined;

    const { plan, skipped } = plans[first]!;
    const runnable = plan.tests;
    await recordUndeclared(plan.id, skipped);
    if (runnable.length === 0) return;
    const info: SessionResult = { id: plan.id, target: req.run.target, accel: req.run.accel, consoleLog: join(plan.id, 'console.log') };
    if (req.signal.aborted) {
      await recordAll(runnable, plan.id, () => ({ reason: `not run: ${interruptReason(req.signal)}` }));
      return;
    }
    await emit('onSessionStart', info);
    let session: Session;
    try {
      session = await req.provision(plan, join(req.outputDir, plan.id), req.signal);
    } catch (err) {
      if (err instanceof UsageError) throw err;
      if (err instanceof BootFailure) {
        if (err.accel) req.run.accel = info.accel = err.accel;
        info.exit = err.exit;
        // Recorded on the session before its tests, so a reporter can show it once.
        info.bootFailure = { status: err.kind, message: err.message, ...(err.consoleTail && { consoleExcerpt: err.consoleTail }) };
        const failed = [...runnable];
        // The next session of the same key would have shared this boot had its session-ending
        // test been able to run (it never can): its tests share the failure, not boot again.
        for (let next; !plans[p]!.plan.tests.some((t) => t.test.endsSession) && (next = claimNext(plan));) {
          await recordUndeclared(plan.id, next.skipped);
          failed.push(...next.plan.tests);
        }
        await recordAll(failed, plan.id, () => ({ status: err.kind, error: { message: err.message, consoleExcerpt: err.consoleTail } }));
      } else if (req.signal.aborted) {
        await recordAll(runnable, plan.id, () => ({ reason: `not run: ${interruptReason(req.signal)}` }));
      } else {
        const message = describeError(err);
        // The fix has a field of its own here; the tests' messages carry it inline.
        req.run.infraError ??= err instanceof InfraError ? { message: err.message, fix: err.fix } : { message };
        await recordAll(runnable, plan.id, () => ({ status: 'infraError', error: { message } }));
      }
      slot.session = info;
      await emit('onSessionEnd', info);
      return;
    }

    info.accel = session.accel;
    info.accelReason = session.accelReason;
    req.run.accel = session.accel;
    req.run.accelReason = session.accelReason;
    info.bootMs = session.bootMs;
    if (session.docker) info.docker = { endpoint: session.docker.endpoint.url, ...session.docker.info };
    if (session.dockerProblem) info.dockerProblem = session.dockerProblem;
    if (session.cri) info.cri = { ...session.cri.info };
    if (session.criProblem) info.criProblem = session.criProblem;
    if (session.machine) info.machine = session.machine;
    if (session.clock) info.clock = session.clock;
    if (session.hostCpus) info.hostCpus = [...session.hostCpus];
    if (session.hostPriority) info.hostPriority = session.hostPriority;
    const upTo = session.landmarkLine === undefined ? undefined : session.landmarkLine + 1;
    const report = parseBootReport(session.console.lines.slice(0, upTo).map((l) => l.text));
    const queue = [...runnable];
    // What tests set up for the whole session (a registry, a shared pod), undone before the machine goes.
    const sessionCleanups: SessionCleanup[] = [];
    try {
      for (let i = 0; i < queue.length; i++) {
        const t = queue[i]!;
        if (session.settling && !consoleOnly(t.test)) await session.settling;
        await emit('onTestStart', { id: t.id, suite: t.suite.name, title: t.test.title, session: plan.id });
        const exitedBefore = session.exit !== undefined;
        const results = await runTest(t, session, report, plan.id, { ...req, runId: req.run.id, sessionCleanups });
        for (const result of results) await record(result);
        // Only a test that ran while the machine was up can be where it died.
        const diedDuring = !exitedBefore && session.exit !== undefined && !results.every((r) => r.status === 'skipped');
        // A session-ending test that was skipped left the machine up: the next session's tests
        // (same key, by construction of the plan) reuse it instead of booting again, unless
        // another worker has booted that session already.
        const next = i === queue.length - 1 && !session.exit && !req.signal.aborted ? claimNext(plan) : undefined;
        if (next) {
          await recordUndeclared(plan.id, next.skipped);
          queue.push(...next.plan.tests);
        }
        const rest = queue.slice(i + 1);
        if (req.signal.aborted) {
          await recordAll(rest, plan.id, () => ({ reason: `not run: ${interruptReason(req.signal)}` }));
          break;
        }
        if (diedDuring && session.exit && !t.test.endsSession) {
          const why = `the machine ended during ${t.id} (${session.exit.detail ?? session.exit.kind})`;
          await recordAll(rest, plan.id, () => ({ status: 'crashed', error: { message: why, consoleExcerpt: session.console.tail(30) } }));
          break;
        }
      }
    } finally {
      for (const cleanup of sessionCleanups.reverse()) {
        try {
          await cleanup.run();
        } catch (err) {
          info.cleanupProblems = [...(info.cleanupProblems ?? []), `${cleanup.what}: ${describeError(err)}`];
        }
      }
      // Disposing ends a machine "after the session's last test"; an interrupted run says so instead.
      if (req.signal.aborted && !session.exit) await session.shutdown(`when the run was interrupted (${interruptReason(req.signal)})`).catch(() => undefined);
      await session[Symbol.asyncDispose]();
      info.exit = session.exit;
      // Read after disposal: teardown has said by then what it deleted.
      if (session.cloud) info.cloud = session.cloud;
      slot.session = info;
      await emit('onSessionEnd', info);
    }
  }

  const tests = slots.flatMap((s) => s.tests);
  const sessions = slots.flatMap((s) => (s.session ? [s.session] : []));
  if (req.signal.aborted) req.run.interrupted = { signal: req.signal.reason instanceof InterruptedError ? req.signal.reason.signal : 'abort' };
  req.run.finishedAt = new Date().toISOString();
  if (req.expectations) {
    const stale = req.expectations.entries.filter((e) => !usedExpectations.has(e)).map((e) => e.test);
    req.run.expectations = { file: req.expectations.file, stale };
  }
  const result: RunResult = { version: RESULT_VERSION, run: req.run, summary: summarize(tests, Date.now() - started), sessions, tests };
  const matrices = conformanceOf(req.sessions, tests, req.target.arch);
  if (matrices) result.conformance = matrices;
  await notify(req.reporters, 'onRunEnd', result);
  return result;
}

/** The matrix of each suite in the plan that declares one and has results. */
function conformanceOf(plans: readonly SessionPlan[], tests: readonly TestResult[], arch: string): RunResult['conformance'] {
  const suites = new Map(plans.flatMap((p) => p.tests.map((t) => [t.suite.name, t.suite] as const)));
  const out: NonNullable<RunResult['conformance']> = {};
  for (const [name, suite] of suites) {
    if (suite.conformance) out[name] = buildConformance(name, suite.conformance, tests, arch);
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

function interruptReason(signal: AbortSignal): string {
  return signal.reason instanceof InterruptedError ? signal.reason.message : 'run aborted';
}

async function runTest(
  t: PlannedTest,
  session: Session,
  report: BootReport | undefined,
  sessionId: string,
  req: Pick<DispatchRequest, 'target' | 'testTimeoutMs' | 'testTimeoutOverrideMs' | 'signal' | 'testCleanupGraceMs'> & { runId: string; sessionCleanups?: SessionCleanup[] },
): Promise<TestResult[]> {
  const runSignal = req.signal;
  const result = { ...base(t, sessionId), durationMs: 0 };
  for (const need of t.test.requires ?? []) {
    const broken = brokenChannel(need, session);
    if (broken) return [{ ...result, status: 'failed', error: { message: broken, consoleExcerpt: session.console.tail(30) || undefined } }];
    const reason = unmetRequirement(need, session, report, req.target);
    if (reason) return [{ ...result, status: 'skipped', reason }];
  }
  const timeoutMs = req.testTimeoutOverrideMs ?? t.test.timeoutMs ?? req.testTimeoutMs;
  const fromLine = session.console.lines.length;
  const timeout = new AbortController();
  const children: TestResult[] = [];
  const started = Date.now();
  // A child that brings no time of its own took what passed since the previous report (or the
  // test's start), so a test's children add up to its wall time.
  let lastReport = started;
  const ctx: TestContext = {
    session,
    bootReport: report,
    target: req.target,
    runId: req.runId,
    signal: AbortSignal.any([runSignal, timeout.signal]),
    // In a benchmark session a figure is the guest's unless the test says it timed it on the host.
    metric: (m) => result.metrics.push(session.clock && !m.clock ? { ...m, clock: session.clock } : m),
    emit: (c: ChildResult) => {
      const now = Date.now();
      const sinceLast = now - lastReport;
      lastReport = now;
      children.push({
        id: `${t.suite.name}/${c.name}`,
        suite: t.suite.name,
        title: c.title ?? c.name,
        session: sessionId,
        status: c.status,
        durationMs: c.durationMs ?? sinceLast,
        metrics: c.metrics ?? [],
        ...(c.reason !== undefined && { reason: c.reason }),
        ...(c.error !== undefined && { error: c.error }),
        ...(c.warnings !== undefined && c.warnings.length > 0 && { warnings: c.warnings }),
      });
    },
    skip: (reason) => {
      throw new SkipTest(reason);
    },
    atSessionEnd: (what, run) => {
      req.sessionCleanups?.push({ what, run });
    },
  };
  let timer: NodeJS.Timeout | undefined;
  let onAbort = () => {};
  const excerpt = () => session.console.tail(40) || undefined;
  // A test that reported children stands for them when it succeeds; a failure of its own joins them.
  const done = (own: TestResult): TestResult[] => (children.length > 0 && own.status === 'passed' ? children : [...children, own]);
  const running = Promise.resolve().then(() => t.test.run(ctx));
  try {
    await Promise.race([
      running,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          timeout.abort();
          reject(new TestTimeout(timeoutMs));
        }, timeoutMs);
        onAbort = () => reject(runSignal.reason);
        runSignal.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
    return done({ ...result, status: 'passed', durationMs: Date.now() - started });
  } catch (err) {
    const durationMs = Date.now() - started;
    if (err instanceof SkipTest) return done({ ...result, status: 'skipped', reason: err.reason, durationMs });
    if (runSignal.aborted || err instanceof TestTimeout) {
      // The test saw its signal abort: let it remove what it made (containers on a remote engine)
      // before the run moves on or ends, within a bound, since a hung test may never return.
      await Promise.race([running.catch(() => undefined), sleep(req.testCleanupGraceMs ?? TEST_CLEANUP_GRACE_MS, undefined, { ref: false })]);
    }
    if (runSignal.aborted) return done({ ...result, status: 'skipped', reason: `not finished: ${interruptReason(runSignal)}`, durationMs });
    if (err instanceof TestTimeout) return done({ ...result, status: 'timedOut', durationMs, error: { message: err.message, consoleExcerpt: excerpt() } });
    if (err instanceof InfraError) return done({ ...result, status: 'infraError', durationMs, error: { message: describeError(err) } });
    if (err instanceof TestOutcome) return done({ ...result, status: err.status, durationMs, error: { message: err.message, consoleExcerpt: excerpt() } });
    // A panic on the console since the test began means the kernel died, not that the check failed.
    const texts = session.console.lines.map((l) => l.text);
    const panic = scanKernelEvents(texts, session.eventPatterns, fromLine).find((e) => e.kind === 'panic');
    if (panic || (session.exit?.kind === 'panic' && !t.test.endsSession)) {
      const message = `kernel died during the test: ${panic?.text ?? session.exit?.detail}`;
      return done({ ...result, status: 'crashed', durationMs, error: { message, consoleExcerpt: excerpt() } });
    }
    return done({ ...result, status: 'failed', durationMs, error: { message: describeError(err), consoleExcerpt: excerpt() } });
  } finally {
    clearTimeout(timer);
    runSignal.removeEventListener('abort', onAbort);
  }
}

/** Something a test set up for its whole session, undone after the session's last test. */
interface SessionCleanup {
  what: string;
  run: () => Promise<void>;
}

/** How long a test that was aborted or timed out gets to clean up after itself. */
const TEST_CLEANUP_GRACE_MS = 10_000;

class TestTimeout extends Error {
  constructor(ms: number) {
    super(`the test did not finish within ${ms} ms`);
  }
}
