import { terminalText, type ChildResult, type ShellStep, type ShellTestDef, type TestContext } from '../../src/index.js';

/** One result-bearing step: `send`, `expect` or `notExpect` (a `timeout` step only sets a limit). */
export interface PlannedStep {
  /** `<test>/<n>-<kind>`, n counting every step from 1, so ids stay stable when a step's text changes. */
  name: string;
  title: string;
  step: Exclude<ShellStep, { timeout: number }>;
  /** The last command sent before this step, which an expect checks; undefined: the console since boot. */
  command?: string;
  /** The limit in force for a send (the last `timeout` step before it). */
  timeoutMs?: number;
}

const KIND_IDS = { send: 'send', expect: 'expect', notExpect: 'not-expect' } as const;

/** The steps that become results, with their ids and titles, known before any boot (for `tsuite list`). */
export function planSteps(test: ShellTestDef): PlannedStep[] {
  const planned: PlannedStep[] = [];
  let command: string | undefined;
  let timeoutMs: number | undefined;
  test.steps.forEach((step, i) => {
    if ('timeout' in step) {
      timeoutMs = step.timeout;
      return;
    }
    const kind = 'send' in step ? 'send' : 'expect' in step ? 'expect' : 'notExpect';
    const name = `${test.name}/${i + 1}-${KIND_IDS[kind]}`;
    const what = command === undefined ? 'the console since boot' : `the output of '${command}'`;
    const title = 'send' in step ? `send '${step.send}'` : 'expect' in step ? `expect /${step.expect}/ in ${what}` : `no /${step.notExpect}/ in ${what}`;
    planned.push({ name, title, step, command, timeoutMs });
    if ('send' in step) command = step.send;
  });
  return planned;
}

/** How long a whole test may take: each send's own limit, plus a margin for the checks. */
export function testTimeoutMs(test: ShellTestDef, defaultSendMs: number): number {
  return planSteps(test).reduce((ms, p) => ms + ('send' in p.step ? p.timeoutMs ?? defaultSendMs : 0), 10_000);
}

const MAX_OUTPUT_IN_MESSAGE = 2_000;

/**
 * Runs a test's steps over the session's shell, reporting each send/expect/notExpect as a child.
 * A failed send leaves the shell in an unknown state, so the steps after it are skipped, naming it;
 * a failed check does not stop the next command.
 */
export async function runShellSteps(test: ShellTestDef, ctx: TestContext): Promise<void> {
  const { session } = ctx;
  const shell = session.shell!; // the test requires the shell channel
  // The console as a terminal shows it: escapes stripped, the waiting prompt included.
  const excerpt = () => terminalText([session.console.tail(30), session.console.partialLine].filter(Boolean).join('\n')) || undefined;
  let output = terminalText(session.console.lines.map((l) => l.text).join('\n'));
  let stoppedBy: string | undefined;
  for (const p of planSteps(test)) {
    const n = p.name.slice(test.name.length + 1).split('-')[0];
    const emit = (child: Omit<ChildResult, 'name' | 'title'>) => ctx.emit({ name: p.name, title: p.title, ...child });
    if (stoppedBy) {
      emit({ status: 'skipped', reason: `not run: ${stoppedBy} failed, so the shell's state is unknown` });
      continue;
    }
    const started = Date.now();
    if ('send' in p.step) {
      try {
        output = await shell.run(p.step.send, { timeoutMs: p.timeoutMs, signal: ctx.signal });
        emit({ status: 'passed', durationMs: Date.now() - started });
      } catch (err) {
        stoppedBy = `step ${n} (send '${p.step.send}')`;
        const message = `${stoppedBy}: ${err instanceof Error ? err.message : String(err)}`;
        emit({ status: 'failed', durationMs: Date.now() - started, error: { message, consoleExcerpt: excerpt() } });
      }
      continue;
    }
    const negate = 'notExpect' in p.step;
    const source = 'expect' in p.step ? p.step.expect : p.step.notExpect;
    const matched = new RegExp(source, 'm').test(output);
    if (matched !== negate) {
      emit({ status: 'passed', durationMs: Date.now() - started });
      continue;
    }
    const what = p.command === undefined ? 'the console since boot' : `the output of '${p.command}'`;
    const shown = output.length > MAX_OUTPUT_IN_MESSAGE ? `…${output.slice(-MAX_OUTPUT_IN_MESSAGE)}` : output;
    const message = negate
      ? `step ${n} (notExpect /${source}/): ${what} matches it:\n${shown}`
      : `step ${n} (expect /${source}/): no match in ${what}:\n${shown}`;
    emit({ status: 'failed', durationMs: Date.now() - started, error: { message, consoleExcerpt: excerpt() } });
  }
}
