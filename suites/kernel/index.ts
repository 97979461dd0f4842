import { defineSuite, TestOutcome, type ChildResult, type TestContext } from '../../src/index.js';
import { documentWarnings, ktapChildren, linesBefore, reportedKtapTests } from '../ktap-results.js';
import { ktapConsoleDurations } from '../ktap-durations.js';
import { waitForKtap } from './wait-for-ktap.js';

/** The exit device's verdict, when the target says which isa-debug-exit value means success. */
async function exitStatus(ctx: TestContext, expected: number): Promise<ChildResult> {
  const name = 'exit-status';
  const title = `the kernel exits through isa-debug-exit with value ${expected}`;
  if (!ctx.session.ended) return { name, title, status: 'skipped', reason: 'replayed log: no exit status to check' };
  // A cloud instance has no isa-debug-exit: the value the kernel writes goes nowhere.
  if (!ctx.session.channels.has('exit')) return { name, title, status: 'skipped', reason: 'the machine has no exit device (isa-debug-exit is a QEMU device; a cloud instance has none)' };
  const exit = await ctx.session.ended;
  const want = (expected << 1) | 1;
  if (exit.kind === 'exit-code' && exit.code === want) return { name, title, status: 'passed' };
  const got = exit.kind === 'exit-code' && exit.code !== undefined && exit.code % 2 === 1
    ? `value ${exit.code >> 1} (QEMU status ${exit.code})`
    : `${exit.kind}${exit.detail ? ` (${exit.detail})` : ''}`;
  return { name, title, status: exit.kind === 'reset' || exit.kind === 'panic' ? 'crashed' : 'failed', error: { message: `expected exit value ${expected} (QEMU status ${want}), got ${got}` } };
}

export default defineSuite({
  name: 'kernel',
  description: 'In-kernel tests the kernel prints as KTAP on its console, each as its own result, and its exit-device verdict',
  tests: [
    {
      name: 'ktap',
      title: 'in-kernel KTAP tests',
      requires: ['console', 'ktap'],
      // The kernel usually exits or powers off once its tests are done.
      endsSession: true,
      timeoutMs: 300_000,
      async run(ctx) {
        const end = await waitForKtap(ctx.session.console, ctx.session.eventPatterns, ctx.signal);
        const console = ctx.session.console.lines.map((l) => l.text);
        const reported = reportedKtapTests(end.docs);
        // Each test's time is the gap between its result line and the previous one on the console.
        const durations = ktapConsoleDurations(reported, end.docs, ctx.session.console.lines);
        ktapChildren(reported, end.docs, (line) => linesBefore(console, line)).forEach((child, i) => ctx.emit({ ...child, durationMs: durations[i] }));
        if (ctx.target.exitSuccessValue !== undefined && end.why !== 'panic') {
          ctx.emit(await exitStatus(ctx, ctx.target.exitSuccessValue));
        }
        const notes = reported.length === 0 ? documentWarnings(end.docs) : [];
        if (end.why === 'panic') throw new TestOutcome('crashed', [`the kernel panicked during its tests: ${end.panicLine}`, ...notes].join('\n'));
        // Once a complete plan ended the stream, whatever the machine did next is not the tests' doing.
        if (end.why !== 'complete' && ctx.session.exit?.kind === 'reset') throw new TestOutcome('crashed', `the machine reset during the kernel's tests (${ctx.session.exit.detail ?? 'triple fault?'})`);
        if (end.docs.length === 0) throw new TestOutcome('noTests', `the kernel printed no KTAP (no "KTAP version" or "TAP version" line) before the ${end.why === 'idle' ? 'output went idle' : 'console closed'}`);
        // kunit.py: a run whose plans are all `1..0` is "no tests run", and fails.
        if (reported.length === 0) throw new TestOutcome('noTests', [`the kernel ran no tests: its KTAP ${end.docs.map((d) => `"${d.version}" at line ${d.startLine + 1} plans ${d.expectedCount === undefined ? 'nothing' : `1..${d.expectedCount}`}`).join(', ')} and reports no result (kunit.py: no tests run)`, ...notes].join('\n'));
      },
    },
  ],
});
