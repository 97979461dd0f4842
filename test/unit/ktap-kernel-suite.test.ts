import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as tick } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import kernelSuite from '../../suites/kernel/index.js';
import { ktapEndOf, waitForKtap } from '../../suites/kernel/wait-for-ktap.js';
import { ConsoleChannel } from '../../src/channels/console.js';
import { exitCodeFor } from '../../src/cli/exit-code.js';
import { dispatch } from '../../src/core/dispatch.js';
import { ExitCode } from '../../src/core/errors.js';
import { buildPlan } from '../../src/core/plan.js';
import { replaySession } from '../../src/core/replay-session.js';
import type { RunInfo, RunResult } from '../../src/core/result.js';
import type { Session } from '../../src/core/session.js';
import { BOOT_REPORT_READY } from '../../src/parsers/boot-report.js';
import { LINUX_EVENT_PATTERNS } from '../../src/parsers/kernel-events.js';
import { flattenKtap } from '../../src/parsers/ktap.js';
import { createReporters } from '../../src/reporters/index.js';
import { formatJunit } from '../../src/reporters/junit-reporter.js';
import { formatTap } from '../../src/reporters/tap-reporter.js';

/**
 * The kernel suite on real KUnit console logs (fixtures/ktap/), the same bytes two ways: live, as
 * a running machine's console fed line by line, and replayed from the saved log as `tsuite parse`
 * does. Both must give the same statuses.
 */

const text = (name: string) => readFileSync(new URL(`../../fixtures/ktap/${name}`, import.meta.url), 'utf8');
const outDirs: string[] = [];
afterAll(() => outDirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const RUN: RunInfo = {
  id: 'r', target: 't', startedAt: '', accel: 'none', tsuiteVersion: '0',
  kernel: { path: 'k', source: 'file', cmdline: '' },
  host: { hostname: 'h', platform: 'p', arch: 'x64', cpuModel: 'c', cpus: 1, memoryMb: 1 },
};

async function runKernelSuite(provision: () => Session, json = false): Promise<{ result: RunResult; outputDir: string }> {
  const outputDir = mkdtempSync(join(tmpdir(), 'tsuite-ktap-'));
  outDirs.push(outputDir);
  const result = await dispatch({
    sessions: buildPlan({ suites: [kernelSuite], target: 't', sessionKey: 'k' }),
    target: { name: 't', arch: 'x86_64', ktap: true, containerImages: 'local' },
    provision: async () => provision(),
    reporters: json ? createReporters(['json'], { outputDir }) : [],
    run: { ...RUN },
    outputDir,
    testTimeoutMs: 60_000,
    signal: new AbortController().signal,
  });
  return { result, outputDir };
}

/** `tsuite parse`'s session: the saved log, without tsuite's boot landmark (a KUnit kernel prints none). */
const replayed = (log: string) => () => replaySession('replay', '/nonexistent', log, BOOT_REPORT_READY, LINUX_EVENT_PATTERNS, { landmarkOptional: true });

/**
 * A running machine: `already` lines are on the console when the tests start, the rest arrive one
 * per event-loop turn; with `end`, the console closes after the last (the machine ended).
 */
function live(log: string, opts: { already?: number; end?: boolean } = {}) {
  const lines = log.split('\n');
  const console = new ConsoleChannel();
  const already = opts.already ?? 0;
  for (const l of lines.slice(0, already)) console.push(`${l}\n`);
  let feeding: Promise<void> = Promise.resolve();
  const provision = (): Session => {
    feeding = (async () => {
      for (const l of lines.slice(already)) {
        await tick();
        console.push(`${l}\n`);
      }
      if (opts.end) console.end();
    })();
    return {
      id: 'live', dir: '/nonexistent', console, channels: new Set(['console']), accel: 'tcg', eventPatterns: LINUX_EVENT_PATTERNS, canPowerOff: false,
      spec: { arch: 'x86_64', cpus: 1, memoryMb: 1024, cmdline: '' },
      shutdown: async () => ({ kind: 'killed' }),
      [Symbol.asyncDispose]: async () => undefined,
    };
  };
  return { provision, fed: () => feeding };
}

const statuses = (r: RunResult) => r.tests.map((t) => `${t.id} ${t.status}`);
const count = (r: RunResult, status: string) => r.tests.filter((t) => t.status === status).length;

/**
 * kunit-builtin-panic-after-plan-x86_64.log: the real built-in log up to its last result, then the
 * real oops and panic of the oops capture (fixtures/ktap/README.md).
 */
const PANIC_AFTER = text('kunit-builtin-panic-after-plan-x86_64.log');

describe('a panic printed after a complete plan is not a crash during the tests', () => {
  it('replayed (tsuite parse): every case keeps its status, nothing crashed, the run passes', async () => {
    const { result } = await runKernelSuite(replayed(PANIC_AFTER));
    expect(count(result, 'passed')).toBe(233);
    expect(count(result, 'skipped')).toBe(16);
    expect(result.tests.filter((t) => t.status !== 'passed' && t.status !== 'skipped')).toEqual([]);
    expect(result.tests.find((t) => t.id === 'kernel/ktap')).toBeUndefined();
    expect(exitCodeFor(result)).toBe(ExitCode.ok);
  });

  it.each([
    ['fed line by line from the first', { already: 0 }],
    ['already on the console when the test starts', { already: Infinity }],
    ['half there, the rest fed, then the machine ends', { already: 400, end: true }],
  ])('live, %s: the same statuses as replayed', async (_, opts) => {
    const [replay, run] = [await runKernelSuite(replayed(PANIC_AFTER)), live(PANIC_AFTER, opts)];
    const { result } = await runKernelSuite(run.provision);
    await run.fed();
    expect(statuses(result)).toEqual(statuses(replay.result));
  });

  it('the same check fails when the panic comes before the plan is complete: both paths say crashed', async () => {
    // The real lines again, with the last suite's result line moved after the panic.
    const lines = PANIC_AFTER.split('\n');
    const last = lines.findIndex((l) => /\] ok 29 property-entry\r?$/.test(l));
    const moved = [...lines.slice(0, last), ...lines.slice(last + 1), lines[last]!].join('\n');
    const replay = await runKernelSuite(replayed(moved));
    const run = live(moved);
    const { result } = await runKernelSuite(run.provision);
    await run.fed();
    expect(statuses(result)).toEqual(statuses(replay.result));
    expect(result.tests.filter((t) => t.status === 'crashed').map((t) => t.id)).toEqual(['kernel/property-entry', 'kernel/ktap']);
    expect(result.tests.find((t) => t.id === 'kernel/ktap')?.error?.message).toContain('Kernel panic - not syncing: Fatal exception');
    expect(exitCodeFor(result)).toBe(ExitCode.testFailed);
  });

  it('ktapEndOf decides where a live run would: the completing line, or the first panic before it', () => {
    const lines = PANIC_AFTER.split('\n').map((l) => l.replace(/\r$/, ''));
    const end = ktapEndOf(lines, LINUX_EVENT_PATTERNS)!;
    expect(end.why).toBe('complete');
    expect(lines[end.docs[0]!.endLine]).toMatch(/\] ok 29 property-entry$/);
    const panicFirst = ktapEndOf(lines.slice(0, 300).concat(lines.slice(-3)), LINUX_EVENT_PATTERNS)!;
    expect(panicFirst).toMatchObject({ why: 'panic', panicLine: expect.stringContaining('Kernel panic - not syncing') });
  });
});

describe('an empty plan is noTests and fails the run, as kunit.py\'s "no tests run"', () => {
  const MODULES = text('kunit-modules-x86_64.log');
  // The real log of the KUnit kernel whose tests are modules, up to before the first module is
  // loaded: the built-in executor's `KTAP version 1` / `1..0`, and no test at all.
  const EMPTY = MODULES.slice(0, MODULES.indexOf('tsuite-capture: insmod'));

  it.each([
    ['replayed', () => replayed(EMPTY)],
    ['live, the machine then ends', () => live(EMPTY, { end: true }).provision],
  ])('%s: kernel/ktap is noTests, and the exit code says the tests failed', async (_, make) => {
    const { result } = await runKernelSuite(make());
    expect(statuses(result)).toEqual(['kernel/ktap noTests']);
    expect(result.tests[0]!.error?.message).toMatch(/^the kernel ran no tests: its KTAP "KTAP version 1" at line 128 plans 1\.\.0 .*no tests run/);
    expect(exitCodeFor(result)).toBe(ExitCode.testFailed);
  });

  it('JUnit and TAP report it as a failure too, not as a skip', async () => {
    const { result } = await runKernelSuite(replayed(EMPTY));
    expect(formatJunit(result)).toMatch(/<failure type="noTests" message="the kernel ran no tests/);
    expect(formatTap(result)).toMatch(/^not ok 1 - kernel\/ktap$/m);
  });

  it('an empty document followed by the modules\' documents is not noTests: the modules kernel reads as before', async () => {
    const replay = await runKernelSuite(replayed(MODULES));
    expect(count(replay.result, 'passed')).toBe(96);
    expect(count(replay.result, 'skipped')).toBe(2);
    expect(replay.result.tests.filter((t) => t.status === 'noTests' || t.id === 'kernel/ktap')).toEqual([]);
    expect(exitCodeFor(replay.result)).toBe(ExitCode.ok);
    const run = live(MODULES, { end: true });
    const { result } = await runKernelSuite(run.provision);
    await run.fed();
    expect(statuses(result)).toEqual(statuses(replay.result));
  });

  it('live, with modules loaded after a pause and the machine left running: quiet ends it, with the modules\' results', async () => {
    const lines = MODULES.split('\n');
    const console = new ConsoleChannel();
    const wait = waitForKtap(console, LINUX_EVENT_PATTERNS, new AbortController().signal, 300);
    for (const [i, l] of lines.entries()) {
      if (l.startsWith('tsuite-capture: insmod kunit-example-test')) await new Promise((r) => setTimeout(r, 100)); // slower than one line, quicker than quiet
      console.push(`${l}\n`);
      if (i % 50 === 0) await tick();
    }
    const end = await wait;
    expect(end.why).toBe('idle');
    expect(end.docs.map((d) => d.tests.length)).toEqual([0, 9]);
    expect(flattenKtap(end.docs[1]!).filter((f) => f.leaf && f.test.status === 'passed')).toHaveLength(96);
  });
});

describe("the parser's warnings reach results.json", () => {
  const read = (dir: string) => JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as RunResult;

  it('per test: over-indented case results carry their warning', async () => {
    // The real built-in log with the cpumask suite's case results 4 columns deeper than its header.
    let suite = '';
    const log = text('kunit-builtin-x86_64.log').split('\n').map((l) => {
      suite = /\] {5}# Subtest: (\S+)/.exec(l)?.[1] ?? suite;
      return suite === 'cpumask' && /\] {5}ok \d+ /.test(l) ? l.replace(/\] {5}/, ']         ') : l;
    }).join('\n');
    const { outputDir } = await runKernelSuite(replayed(log), true);
    const r = read(outputDir);
    const cpumask = r.tests.filter((t) => t.id.startsWith('kernel/cpumask/'));
    expect(cpumask.map((t) => t.status)).toEqual(Array(6).fill('passed'));
    for (const t of cpumask) expect(t.warnings).toEqual([expect.stringMatching(/^result line indented deeper than expected \(column 8, its level is at 4\)/)]);
    expect(r.tests.filter((t) => t.warnings !== undefined)).toHaveLength(6);
    // The other reports show them too.
    expect(formatJunit(r)).toContain('<property name="warning" value="result line indented deeper than expected (column 8, its level is at 4)');
    expect(formatTap(r)).toMatch(/ok \d+ - kernel\/cpumask\/test_cpumask_first\n {2}---\n(?: {2}.*\n)*? {2}warnings:\n {4}- "result line indented deeper/);
  });

  it('per document: a log cut short by a panic says so on the last test reported from it', async () => {
    const { outputDir } = await runKernelSuite(replayed(text('kunit-builtin-oops-panic-x86_64.log')), true);
    const r = read(outputDir);
    const last = r.tests.filter((t) => t.id !== 'kernel/ktap').at(-1)!;
    expect(last).toMatchObject({ id: 'kernel/#30', status: 'crashed' });
    expect(last.warnings).toEqual([
      'KTAP document at line 124: the output ended inside test "tsuite_oops" before its result line',
      'KTAP document at line 124: missing expected subtests: 18 of 30 reported',
    ]);
    // The suite is not a result of its own (its cases are): its warning goes to its last case.
    expect(r.tests.find((t) => t.id === 'kernel/tsuite_oops')).toBeUndefined();
    expect(r.tests.find((t) => t.id === 'kernel/tsuite_oops/#3')?.warnings).toEqual(['tsuite_oops: missing expected subtests: 1 of 3 reported']);
    expect(r.tests.filter((t) => t.warnings !== undefined).map((t) => t.id)).toEqual(['kernel/tsuite_oops/#3', 'kernel/#30']);
  });

  it("per suite: an over-indented plan's warning reaches the suite's last case", async () => {
    const log = text('kunit-builtin-x86_64.log').replace(/^(\[ *\d+\.\d+\]) {5}1\.\.6\r?$/m, '$1         1..6');
    const { outputDir } = await runKernelSuite(replayed(log), true);
    const r = read(outputDir);
    expect(r.tests.filter((t) => t.warnings !== undefined).map((t) => [t.id, t.warnings])).toEqual([
      ['kernel/cpumask/test_cpumask_iterators_builtin', ['cpumask: plan 1..6 indented deeper than expected (column 8, its level is at 4): read at that level, as kunit_tool does']],
    ]);
  });
});
