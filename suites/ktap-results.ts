import { flattenKtap, type ChildResult, type KtapDocument, type KtapFlatTest, type KtapTest, type TestStatus } from '../src/index.js';

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
export function reportedKtapTests(docs: readonly KtapDocument[]): ReportedKtapTest[] {
  const seen = new Map<string, number>();
  return docs
    .flatMap((doc, d) => withInherited(flattenKtap(doc)).map((f) => ({ ...f, doc: d })))
    .map(({ id, test, doc, inherited }) => {
      const n = (seen.get(id) ?? 0) + 1;
      seen.set(id, n);
      return { id: n === 1 ? id : `${id}#${n}`, test, doc, inherited };
    });
}

/**
 * The reported tests of one document; a parent that is not reported hands its warnings to its
 * last reported descendant (`<parent id>: <warning>`), so no warning is lost on the way to results.json.
 */
function withInherited(flat: readonly KtapFlatTest[]): (KtapFlatTest & { inherited: string[] })[] {
  const reported = flat.map((f) => ({ ...f, inherited: [] as string[], shown: f.leaf || (failing(f.test) && !anyFailing(f.test)) }));
  reported.forEach((parent, i) => {
    if (parent.shown || parent.test.warnings.length === 0) return;
    let heir: (typeof reported)[number] | undefined;
    for (let j = i + 1; j < reported.length && reported[j]!.id.startsWith(`${parent.id}/`); j++) if (reported[j]!.shown) heir = reported[j];
    heir?.inherited.push(...parent.test.warnings.map((w) => `${parent.id}: ${w}`));
  });
  return reported.filter((f) => f.shown);
}

export interface ReportedKtapTest {
  id: string;
  test: KtapTest;
  /** Index of its document in the list given to reportedKtapTests. */
  doc: number;
  /** Warnings of parents that are not reported themselves, each prefixed with the parent's id. */
  inherited: string[];
}

/** A document's own warnings (not its tests'), each saying which document it is about. */
export function documentWarnings(docs: readonly KtapDocument[], only?: number): string[] {
  return docs.flatMap((d, i) => (only === undefined || only === i ? d.warnings.map((w) => `KTAP document at line ${d.startLine + 1}: ${w}`) : []));
}

/**
 * The reported tests as child results. A document's own warnings (cut short, missing subtests,
 * bail out) go on the last test reported from it, where the document ended, so they reach results.json.
 */
export function ktapChildren(reported: readonly ReportedKtapTest[], docs: readonly KtapDocument[], excerpt: (line: number) => string): ChildResult[] {
  const lastOfDoc = new Map(reported.map((r, i) => [r.doc, i]));
  return reported.map((r, i) => ktapChild(r.id, r.test, excerpt, [...r.inherited, ...(lastOfDoc.get(r.doc) === i ? documentWarnings(docs, r.doc) : [])]));
}

/** One KTAP test as a child result; `excerpt` gives the evidence lines up to its result line. */
export function ktapChild(name: string, t: KtapTest, excerpt: (line: number) => string, moreWarnings: readonly string[] = []): ChildResult {
  const status = KTAP_STATUS[t.status];
  const warnings = [...t.warnings, ...moreWarnings];
  const detail = [...t.diagnostics, ...warnings].join('\n');
  return {
    name,
    title: t.name,
    status,
    // The parser's warnings reach results.json whatever the status.
    ...(warnings.length > 0 && { warnings }),
    ...(status === 'skipped' && { reason: t.reason || `KTAP ${t.directive ?? 'SKIP'}` }),
    ...(status !== 'passed' && status !== 'skipped' && {
      error: { message: [t.reason || `KTAP result: ${t.status}`, detail].filter(Boolean).join('\n'), consoleExcerpt: excerpt(t.line) },
    }),
  };
}

/** The lines before index `line` (inclusive), as evidence for a failure. */
export const linesBefore = (lines: readonly string[], line: number, count = 25) =>
  lines.slice(Math.max(0, line - count), line + 1).join('\n');
