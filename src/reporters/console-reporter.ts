import { describeMachine, isPlainMachine } from '../core/machine.js';
import { TEST_STATUSES, failsRun, type ConformanceMatrix, type RunInfo, type RunResult, type SessionResult, type TestResult, type TestStatus } from '../core/result.js';
import { formatDuration, formatMetric, plainText } from './format.js';
import type { Reporter, ReporterFactory, TestStart } from './reporter.js';

/** Enough of the console to see a panic and its call trace; the full log is on disk. */
const EXCERPT_LINES = 15;

const ANSI = { bold: 1, dim: 2, red: 31, green: 32, yellow: 33, magenta: 35 } as const;
type Style = keyof typeof ANSI;

const MARKS: Record<TestStatus, { mark: string; style: Style }> = {
  passed: { mark: '✓', style: 'green' },
  failed: { mark: '✗', style: 'red' },
  skipped: { mark: '-', style: 'yellow' },
  timedOut: { mark: '✗', style: 'red' },
  crashed: { mark: '✗', style: 'red' },
  parseError: { mark: '✗', style: 'red' },
  // Not the kernel's fault: a different mark so it does not read as a kernel failure.
  infraError: { mark: '!', style: 'magenta' },
  noTests: { mark: '?', style: 'yellow' },
};

/** Each distinct error of a list, with the status of the first test that had it. */
function distinctErrors(list: readonly TestResult[]): { status: TestStatus; error: { message: string; consoleExcerpt?: string } }[] {
  const seen = new Map<string, { status: TestStatus; error: { message: string; consoleExcerpt?: string } }>();
  for (const t of list) {
    const error = t.error ?? { message: t.status };
    if (!seen.has(error.message)) seen.set(error.message, { status: t.status, error });
  }
  return [...seen.values()];
}

function describeKernel(run: RunInfo): string {
  const { path, source, package: pkg, version } = run.kernel;
  const what = [source, pkg, version].filter(Boolean).join(' ');
  // A kernel tsuite did not load (the local host's, an engine's) has no path.
  return path ? `${path} (${what})` : what;
}

/**
 * Human output. On a TTY the running test is a status line rewritten in place; elsewhere (CI logs)
 * only plain lines, one per finished test, with no escape codes. With several sessions at once the
 * dispatcher hands over each session's events as one block when it ends (grouped, not interleaved);
 * the live line then lists what every running session is doing.
 */
export const consoleReporter: ReporterFactory = (options) => {
  const stream = options.stream ?? process.stdout;
  const tty = stream.isTTY === true;
  const colors = tty && !process.env.NO_COLOR;
  let liveShown = false;

  const paint = (style: Style, text: string) => (colors ? `\x1b[${ANSI[style]}m${text}\x1b[0m` : text);

  const clearLive = () => {
    if (liveShown) stream.write('\r\x1b[2K');
    liveShown = false;
  };
  const live = (text: string) => {
    if (!tty) return;
    // Longer than the terminal, the line would wrap and `\r` could no longer erase it.
    const width = (stream.columns ?? 80) - 1;
    stream.write(`\r\x1b[2K${paint('dim', text.length > width ? `${text.slice(0, width - 1)}…` : text)}`);
    liveShown = true;
  };
  const print = (...lines: string[]) => {
    clearLive();
    for (const line of lines) stream.write(`${line}\n`);
  };
  const indent = (text: string, prefix: string) => text.split('\n').map((l) => `${prefix}${l}`);

  function testLines(t: TestResult): string[] {
    const { mark, style } = MARKS[t.status];
    const head = `  ${paint(style, mark)} ${t.id}`;
    const time = paint('dim', `(${formatDuration(t.durationMs)})`);
    if (t.status === 'skipped') return [`${head} ${paint('dim', `(skipped: ${t.reason ?? 'no reason given'})`)}`];
    if (t.expectation?.outcome === 'unexpected-pass') {
      return [`${paint('yellow', '!')} ${t.id} ${paint('yellow', '[unexpectedly passing: remove it from the expectations]')} ${time}`,
        paint('dim', `      listed as: ${t.expectation.reason}`)];
    }
    if (t.expectation?.outcome === 'expected-failure') {
      return [`${paint('dim', `x ${t.id} [${t.status}, expected: ${t.expectation.reason}]`)} ${time}`];
    }
    if (t.status === 'passed') {
      const retry = t.retries ? ` ${paint('yellow', `[passed on retry ${t.retries}]`)}` : '';
      const metrics = t.metrics.length ? [paint('dim', `      ${t.metrics.map(formatMetric).join(' · ')}`)] : [];
      return [`${head} ${time}${retry}`, ...metrics];
    }
    const label = t.status === 'failed' ? '' : ` ${paint(style, `[${t.status}]`)}`;
    const lines = [`${head}${label} ${time}`];
    if (t.error) lines.push(...errorLines(t.error));
    return lines;
  }

  /** A message, and its console excerpt unless the one just shown was the same. */
  function errorLines(error: { message: string; consoleExcerpt?: string }): string[] {
    const lines = indent(plainText(error.message), '      ');
    const excerpt = error.consoleExcerpt && plainText(error.consoleExcerpt).replace(/\n+$/, '');
    if (excerpt && excerpt === lastExcerpt) {
      lines.push(paint('dim', '      console: same excerpt as above'));
    } else if (excerpt) {
      lastExcerpt = excerpt;
      const tail = excerpt.split('\n').slice(-EXCERPT_LINES);
      lines.push(paint('dim', `      console (last ${tail.length} lines):`));
      lines.push(...tail.map((l) => paint('dim', `      | ${l}`)));
    }
    return lines;
  }

  /**
   * Tests of a session that ended before any test started (a boot that failed, a harness that
   * could not start the machine) never ran: the reason once, prominently, with its console
   * excerpt, then one line per suite instead of one per test. results.json keeps each test.
   */
  let sessionStarted = false;
  const notRun: TestResult[] = [];

  function flushNotRun(session?: SessionResult): void {
    const boot = session?.bootFailure;
    const list = notRun.splice(0);
    if (list.length === 0) return;
    if (!boot && list.length === 1) return print(...testLines(list[0]!));
    const lines: string[] = [];
    const reasons = boot ? [{ status: boot.status as TestStatus, error: boot }] : distinctErrors(list);
    for (const { status, error } of reasons) {
      const { mark, style } = MARKS[status];
      const [first = '', ...rest] = plainText(error.message).split('\n');
      lines.push(`  ${paint(style, mark)} ${paint('bold', boot ? 'boot failed' : 'not run')} ${paint(style, `[${status}]`)}: ${first}`);
      lines.push(...errorLines({ message: rest.join('\n'), consoleExcerpt: error.consoleExcerpt }).filter((l) => l.trim() !== ''));
    }
    const groups = new Map<string, TestResult[]>();
    for (const t of list) groups.set(`${t.suite}\0${t.status}`, [...(groups.get(`${t.suite}\0${t.status}`) ?? []), t]);
    for (const group of groups.values()) {
      const { suite, status } = group[0]!;
      const why = boot && status === boot.status ? 'the boot failed' : 'see above';
      lines.push(`  ${paint(MARKS[status].style, MARKS[status].mark)} ${suite}: ${group.length} not run ${paint('dim', `(${status}: ${why})`)}`);
    }
    print(...lines);
  }

  let lastExcerpt: string | undefined;
  const passing = { group: undefined as string | undefined, count: 0, ms: 0 };

  // A suite the target cannot run (no docker channel) skips every test for one reason: one line.
  const skipping = { suite: undefined as string | undefined, reason: '', results: [] as TestResult[] };

  function flushPassing(): void {
    if (passing.count > 0) {
      print(`  ${paint('green', '✓')} ${passing.group}: ${passing.count} passed ${paint('dim', `(${formatDuration(passing.ms)})`)}`);
    }
    Object.assign(passing, { group: undefined, count: 0, ms: 0 });
    if (skipping.results.length > 1) {
      print(`  ${paint('yellow', '-')} ${skipping.suite}: ${skipping.results.length} skipped ${paint('dim', `(${skipping.reason})`)}`);
    } else if (skipping.results.length === 1) {
      print(...testLines(skipping.results[0]!));
    }
    Object.assign(skipping, { suite: undefined, reason: '', results: [] });
  }

  /** One line per matrix, then the items that are not a plain pass. */
  function matrixLines(suite: string, m: ConformanceMatrix): string[] {
    const count = (s: string) => m.items.filter((i) => i.status === s).length;
    const head = `  ${suite} conformance: ${m.covered} ${m.itemKind}s covered — ${count('pass')} pass, ${count('fail')} fail, ${count('expected-fail')} expected to fail, ${count('skip')} skipped${count('unimplemented') ? `, ${count('unimplemented')} unimplemented` : ''}`;
    const reasons = new Set(m.items.map((i) => i.reasons.join('; ')));
    if (m.items.length > 1 && count('skip') === m.items.length && reasons.size === 1) {
      return [head, paint('dim', `    ${'skip'.padEnd(13)} every ${m.itemKind} (${[...reasons][0]})`)];
    }
    const rows = m.items.filter((i) => i.status !== 'pass').map((i) =>
      paint(i.status === 'fail' ? 'red' : 'dim', `    ${i.status.padEnd(13)} ${i.item}${i.reasons.length ? ` (${i.reasons.join('; ')})` : ''}`));
    return [head, ...rows];
  }

  function summaryLines(result: RunResult): string[] {
    const { summary, run } = result;
    const counts = TEST_STATUSES.filter((s) => summary[s] > 0).map((s) => paint(MARKS[s].style, `${summary[s]} ${s}`));
    const bad = result.tests.some(failsRun) || summary.infraError > 0;
    const verdict = bad || run.infraError ? paint('red', 'FAIL') : run.interrupted ? paint('yellow', 'PARTIAL') : paint('green', 'PASS');
    const total = `${summary.total} test${summary.total === 1 ? '' : 's'}`;
    const lines = [
      '',
      `${verdict} ${counts.length ? `${counts.join(', ')} (${total})` : total} in ${formatDuration(summary.durationMs)}`,
      `  accel: ${run.accel}${run.accelReason ? ` (${run.accelReason})` : ''}`,
      `  output: ${options.outputDir}`,
    ];
    const machine = result.sessions.find((s) => s.machine)?.machine;
    if (machine && !isPlainMachine(machine)) lines.splice(3, 0, `  machine: ${describeMachine(machine)}`);
    if (summary.expectedFailures) lines.push(paint('dim', `  ${summary.expectedFailures} expected failure(s) listed in ${run.expectations?.file}`));
    if (summary.unexpectedPasses) lines.push(paint('yellow', `  ${summary.unexpectedPasses} unexpectedly passing: remove them from ${run.expectations?.file}`));
    if (run.expectations?.stale.length) lines.push(paint('yellow', `  expectations that matched no test (stale): ${run.expectations.stale.join(', ')}`));
    for (const [suite, m] of Object.entries(result.conformance ?? {})) lines.push(...matrixLines(suite, m));
    if (run.interrupted) lines.push(paint('yellow', `  run interrupted by ${run.interrupted.signal}: results are partial`));
    if (run.infraError) {
      lines.push(paint('magenta', `  infra error: ${run.infraError.message}`));
      if (run.infraError.fix) lines.push(`    fix: ${run.infraError.fix}`);
    }
    return lines;
  }

  return {
    name: 'console',
    onRunStart(run) {
      print(paint('bold', `tsuite run ${run.id}: target ${run.target}, kernel ${describeKernel(run)}`));
    },
    onSessionStart(session) {
      sessionStarted = false;
      live(`  … booting ${session.id} on ${session.target}`);
    },
    onTestStart(test: TestStart) {
      if (!sessionStarted) {
        flushPassing();
        flushNotRun();
      }
      sessionStarted = true;
      live(`  … ${test.id}`);
    },
    onProgress(running) {
      // Several sessions at once: their lines come in blocks as each ends; meanwhile one live line.
      if (running.length === 0) return clearLive();
      live(`  … ${running.length} running: ${running.map((r) => `${r.session} ${r.test ?? 'booting'}`).join(' · ')}`);
    },
    onTestEnd(result) {
      if (!sessionStarted && result.status !== 'passed' && result.status !== 'skipped' && !result.expectation) {
        flushPassing();
        notRun.push(result);
        return;
      }
      // Probes and in-kernel tests report hundreds of behaviours: passes print as one line per
      // group (`syscall/files`), everything else one line each.
      const parts = result.id.split('/');
      const group = parts.length >= 3 ? parts.slice(0, 2).join('/') : undefined;
      const skippedAlike = result.status === 'skipped' && skipping.suite === result.suite && skipping.reason === result.reason;
      if (group !== passing.group || (skipping.results.length > 0 && !skippedAlike)) flushPassing();
      if (result.status === 'skipped' && !result.expectation) {
        Object.assign(skipping, { suite: result.suite, reason: result.reason ?? 'no reason given' });
        skipping.results.push(result);
        return;
      }
      if (group && result.status === 'passed' && !result.expectation && !result.retries && result.metrics.length === 0) {
        passing.group = group;
        passing.count += 1;
        passing.ms += result.durationMs;
        return;
      }
      print(...testLines(result));
    },
    onSessionEnd(session) {
      flushPassing();
      flushNotRun(session);
    },
    onError(message) {
      const [first, ...rest] = plainText(message).split('\n');
      print(`  ${paint('magenta', '!')} ${first}`, ...rest.map((l) => `    ${l}`));
    },
    onRunEnd(result) {
      flushPassing();
      flushNotRun();
      print(...summaryLines(result));
    },
  };
};
