import { flattenKtap, type ChildResult, type KtapDocument, type KtapTest, type TestStatus } from '../src/index.js';

/**
 * KTAP trees as tsuite child results, shared by every suite whose evidence is KTAP: the kernel's
 * own tests on the console, and the probes' output over the agent.
 */

/** How each KTAP outcome reads in tsuite's result model. */
export const KTAP_STATUS: Record<KtapTest['status'], TestStatus> = {
  passed: 'passed',
  // XFAIL: the tests themselves declare the failure expected.
  xfail: 'passed',
  failed: 'failed',
  error: 'failed',
  skipped: 'skipped',
  todo: 'skipped',
  crashed: 'crashed',
  timedOut: 'timedOut',
};

const failing = (t: KtapTest) => KTAP_STATUS[t.status] !== 'passed' && KTAP_STATUS[t.status] !== 'skipped';
const anyFailing = (t: KtapTest): boolean => t.subtests.some((s) => failing(s) || anyFailing(s));

/**
 * The tests that become results: every leaf, and a parent only when it failed with no failing
 * test below it (e.g. a suite whose init failed), so nothing is counted twice. Ids are unique
 * within a document; one repeated in a later document gets `#2`.
 */
export function reportedKtapTests(docs: readonly KtapDocument[]): { id: string; test: KtapTest }[] {
  const seen = new Map<string, number>();
  return docs
    .flatMap((doc) => flattenKtap(doc).filter(({ leaf, test }) => leaf || (failing(test) && !anyFailing(test))))
    .map(({ id, test }) => {
      const n = (seen.get(id) ?? 0) + 1;
      seen.set(id, n);
      return { id: n === 1 ? id : `${id}#${n}`, test };
    });
}

/** One KTAP test as a child result; `excerpt` gives the evidence lines up to its result line. */
export function ktapChild(name: string, t: KtapTest, excerpt: (line: number) => string): ChildResult {
  const status = KTAP_STATUS[t.status];
  const detail = [...t.diagnostics, ...t.warnings].join('\n');
  return {
    name,
    title: t.name,
    status,
    ...(status === 'skipped' && { reason: t.reason || `KTAP ${t.directive ?? 'SKIP'}` }),
    ...(status !== 'passed' && status !== 'skipped' && {
      error: { message: [t.reason || `KTAP result: ${t.status}`, detail].filter(Boolean).join('\n'), consoleExcerpt: excerpt(t.line) },
    }),
  };
}

/** The lines before index `line` (inclusive), as evidence for a failure. */
export const linesBefore = (lines: readonly string[], line: number, count = 25) =>
  lines.slice(Math.max(0, line - count), line + 1).join('\n');
