import {
  defineSuite,
  flattenKtap,
  TestOutcome,
  type ChildResult,
  type KtapDocument,
  type KtapTest,
  type TestContext,
  type TestStatus,
} from '../../src/index.js';
import { waitForKtap } from './wait-for-ktap.js';

/** How each KTAP outcome reads in tsuite's result model. */
const STATUS: Record<KtapTest['status'], TestStatus> = {
  passed: 'passed',
  // XFAIL: the kernel's own tests declare the failure expected.
  xfail: 'passed',
  failed: 'failed',
  error: 'failed',
  skipped: 'skipped',
  todo: 'skipped',
  crashed: 'crashed',
  timedOut: 'timedOut',
};

/** Console lines around a result, for the failures' evidence. */
function excerpt(ctx: TestContext, line: number): string {
  return ctx.session.console.lines
    .slice(Math.max(0, line - 25), line + 1)
    .map((l) => l.text)
    .join('\n');
}

function childOf(ctx: TestContext, id: string, t: KtapTest): ChildResult {
  const status = STATUS[t.status];
  const detail = [...t.diagnostics, ...t.warnings].join('\n');
  return {
    name: id,
    title: t.name,
    status,
    ...(status === 'skipped' && { reason: t.reason || `KTAP ${t.directive ?? 'SKIP'}` }),
    ...(status !== 'passed' && status !== 'skipped' && {
      error: { message: [t.reason || `KTAP result: ${t.status}`, detail].filter(Boolean).join('\n'), consoleExcerpt: excerpt(ctx, t.line) },
    }),
  };
}

const failing = (t: KtapTest) => STATUS[t.status] !== 'passed' && STATUS[t.status] !== 'skipped';
const anyFailing = (t: KtapTest): boolean => t.subtests.some((s) => failing(s) || anyFailing(s));

/**
 * The tests that become results: every leaf (a KUnit case), and a parent (a suite) only when it
 * failed with no failing test below it (e.g. its init failed), so nothing is counted twice.
 */
function reported(docs: readonly KtapDocument[]) {
  const seen = new Map<string, number>();
  return docs.flatMap((doc) => flattenKtap(doc).filter(({ leaf, test }) => leaf || (failing(test) && !anyFailing(test))))
    .map((t) => {
      // Ids are unique within a document; a suite printed again in a later one gets `#2`.
      const n = (seen.get(t.id) ?? 0) + 1;
      seen.set(t.id, n);
      return n === 1 ? t : { ...t, id: `${t.id}#${n}` };
    });
}

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
        for (const { id, test } of reported(end.docs)) ctx.emit(childOf(ctx, id, test));
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
