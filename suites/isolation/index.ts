import assert from 'node:assert/strict';
import { defineSuite, scanKernelEvents, type Session } from '../../src/index.js';
import { probeCatalog } from '../probe-catalog.js';
import { runProbe } from '../probe-runner.js';

/** The taint flags and console position before the attempts, to judge the kernel after them. */
const before = new WeakMap<Session, { taint: string; line: number }>();

async function taint(session: Session): Promise<string> {
  const res = await session.agent!.exec(['/bin/cat', '/proc/sys/kernel/tainted'], { timeoutMs: 10_000 });
  return res.stdout.toString('utf8').trim();
}

export default defineSuite({
  name: 'isolation',
  description: 'Attempts to cross process, user and namespace boundaries must fail cleanly, and the kernel must survive them',
  tests: [
    {
      name: 'attempts',
      title: 'each attempt fails with the right errno, or stays contained',
      requires: ['agent'],
      timeoutMs: 240_000,
      async run(ctx) {
        before.set(ctx.session, { taint: await taint(ctx.session), line: ctx.session.console.lines.length });
        await runProbe(ctx, 'isolation', '', 230_000);
      },
      describeChildren() {
        return { ids: probeCatalog('isolation').names.map((n) => `${n}/…`), notes: ['runs as root in the guest; attacks run as uid 1000 unless about root in a namespace'] };
      },
    },
    {
      name: 'kernel-health',
      title: 'after the attempts: no panic, oops, BUG or WARN on the console, and no new taint',
      requires: ['agent'],
      async run({ session, skip }) {
        const start = before.get(session);
        if (!start) skip('isolation/attempts did not run in this session');
        const events = scanKernelEvents(session.console.lines.map((l) => l.text), session.eventPatterns, start!.line);
        assert.deepEqual(events.map((e) => `${e.kind}: ${e.text}`), [], 'the kernel reported problems during the attempts');
        assert.equal(await taint(session), start!.taint, 'the kernel taint flags changed during the attempts (/proc/sys/kernel/tainted)');
      },
    },
  ],
  conformance: { itemKind: 'attempt', itemDepth: 1 },
});
