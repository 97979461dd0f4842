import { defineSuite, TestOutcome, type ChildResult, type TestContext } from '../../src/index.js';
import { ktapChild, linesBefore, reportedKtapTests } from '../ktap-results.js';
import { waitForKtap } from './wait-for-ktap.js';

/** The exit device's verdict, when the target says which isa-debug-exit value means success. */
async function exitStatus(ctx: TestContext, expected: number): Promise<ChildResult> {
  const name = 'exit-status';
  const title = `the kernel exits through isa-debug-exit with value ${expected}`;
  if (!ctx.session.ended) return { name, title, status: 'skipped', reason: 'replayed log: no exit status to check' };
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
        for (const { id, test } of reportedKtapTests(end.docs)) ctx.emit(ktapChild(id, test, (line) => linesBefore(console, line)));
        if (ctx.target.exitSuccessValue !== undefined && end.why !== 'panic') {
          ctx.emit(await exitStatus(ctx, ctx.target.exitSuccessValue));
        }
        if (end.why === 'panic') throw new TestOutcome('crashed', `the kernel panicked during its tests: ${end.panicLine}`);
        if (ctx.session.exit?.kind === 'reset') throw new TestOutcome('crashed', `the machine reset during the kernel's tests (${ctx.session.exit.detail ?? 'triple fault?'})`);
        if (end.docs.length === 0) throw new TestOutcome('noTests', `the kernel printed no KTAP (no "KTAP version" or "TAP version" line) before the ${end.why === 'idle' ? 'output went idle' : 'console closed'}`);
      },
    },
  ],
});
