import { join } from 'node:path';
import type * as Xml from 'xmlbuilder2';
import type { RunResult, TestResult } from '../core/result.js';
import { writeFileAtomic } from '../core/write-file-atomic.js';
import { formatMetricValue, plainText } from './format.js';
import type { ReporterFactory } from './reporter.js';
import { lazyRequire } from '../core/lazy-require.js';

// Loaded when a JUnit report is written, not at every start-up.
const xml = lazyRequire<typeof Xml>('xmlbuilder2');

/** Statuses JUnit calls failures; `infraError` is an `<error>`, the harness's fault, not the kernel's. */
const FAILURES = new Set(['failed', 'timedOut', 'crashed', 'parseError', 'noTests']);

const seconds = (ms: number) => (ms / 1000).toFixed(3);
const oneLine = (text: string) => text.replace(/\s*[\r\n]+\s*/g, ' ').trim();

function counts(tests: readonly TestResult[], durationMs: number) {
  return {
    tests: tests.length,
    failures: tests.filter((t) => (FAILURES.has(t.status) && !t.expectation) || t.expectation?.outcome === 'unexpected-pass').length,
    errors: tests.filter((t) => t.status === 'infraError').length,
    skipped: tests.filter((t) => t.status === 'skipped' || t.expectation?.outcome === 'expected-failure').length,
    time: seconds(durationMs),
  };
}

type XmlNode = ReturnType<typeof Xml.create>;

function addTestCase(suite: XmlNode, t: TestResult): void {
  const tc = suite.ele('testcase', { classname: t.suite, name: t.id, time: seconds(t.durationMs) });
  if (t.metrics.length || t.retries || t.warnings?.length) {
    const props = tc.ele('properties');
    for (const m of t.metrics) props.ele('property', { name: `metric:${m.name}`, value: formatMetricValue(m) });
    if (t.retries) props.ele('property', { name: 'retries', value: String(t.retries) });
    for (const w of t.warnings ?? []) props.ele('property', { name: 'warning', value: oneLine(plainText(w)) });
  }
  const message = plainText(t.error?.message ?? t.status);
  const excerpt = t.error?.consoleExcerpt && plainText(t.error.consoleExcerpt);
  const body = excerpt ? `${message}\n\n${excerpt}` : message;
  if (t.expectation?.outcome === 'expected-failure') {
    // JUnit has no expected failure: a skip keeps CI green and says why.
    tc.ele('skipped', { message: oneLine(`expected failure (${t.status}): ${t.expectation.reason}`) });
  } else if (t.expectation?.outcome === 'unexpected-pass') {
    tc.ele('failure', { type: 'unexpectedPass', message: `unexpectedly passing: remove it from the expectations (${oneLine(t.expectation.reason)})` });
  } else if (t.status === 'skipped') {
    tc.ele('skipped', { message: oneLine(t.reason ?? t.error?.message ?? t.status) });
  } else if (t.status === 'infraError') {
    tc.ele('error', { type: 'infraError', message: oneLine(message) }).txt(body);
  } else if (FAILURES.has(t.status)) {
    tc.ele('failure', { type: t.status, message: oneLine(message) }).txt(body);
  }
  if (excerpt && t.status !== 'passed') tc.ele('system-out').txt(excerpt);
}

export function formatJunit(result: RunResult): string {
  const { run } = result;
  const bySuite = new Map<string, TestResult[]>();
  for (const t of result.tests) bySuite.set(t.suite, [...(bySuite.get(t.suite) ?? []), t]);
  // A run that failed before any test would otherwise be an empty, green report in CI.
  const runError = run.infraError;
  const allCases = [...result.tests];
  if (runError) allCases.push({ id: 'run', suite: 'tsuite', title: 'run', status: 'infraError', durationMs: 0, metrics: [], session: '' });

  // Whatever control characters slip through plainText, XML 1.0 cannot hold them.
  const doc = xml().create({ version: '1.0', encoding: 'UTF-8', invalidCharReplacement: '' });
  const root = doc.ele('testsuites', { name: 'tsuite', ...counts(allCases, result.summary.durationMs), timestamp: run.startedAt });
  for (const [name, tests] of bySuite) {
    const suite = root.ele('testsuite', {
      name,
      ...counts(tests, tests.reduce((sum, t) => sum + t.durationMs, 0)),
      timestamp: run.startedAt,
      hostname: run.host.hostname,
    });
    const props = suite.ele('properties');
    props.ele('property', { name: 'target', value: run.target });
    props.ele('property', { name: 'kernel', value: run.kernel.path });
    props.ele('property', { name: 'accel', value: run.accel });
    for (const t of tests) addTestCase(suite, t);
  }
  if (runError) {
    const suite = root.ele('testsuite', { name: 'tsuite', tests: 1, failures: 0, errors: 1, skipped: 0, time: '0.000' });
    const tc = suite.ele('testcase', { classname: 'tsuite', name: 'run', time: '0.000' });
    const body = runError.fix ? `${runError.message}\nfix: ${runError.fix}` : runError.message;
    tc.ele('error', { type: 'infraError', message: oneLine(runError.message) }).txt(body);
  }
  return `${doc.end({ prettyPrint: true })}\n`;
}

export const junitReporter: ReporterFactory = ({ outputDir }) => ({
  name: 'junit',
  async onRunEnd(result) {
    await writeFileAtomic(join(outputDir, 'junit.xml'), formatJunit(result));
  },
});
