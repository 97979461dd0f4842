import { join } from 'node:path';
import type { RunResult, TestResult } from '../core/result.js';
import { writeFileAtomic } from '../core/write-file-atomic.js';
import { plainText } from './format.js';
import type { ReporterFactory } from './reporter.js';

// TAP version 14: https://testanything.org/tap-version-14-specification.html

const oneLine = (text: string) => text.replace(/\s*[\r\n]+\s*/g, ' ').trim();

/** TAP 14 requires `\` and `#` in a description to be escaped, or `#` would start a directive. */
export function escapeDescription(text: string): string {
  return oneLine(text).replace(/\\/g, '\\\\').replace(/#/g, '\\#');
}

/** A `key: |` block scalar; `|2` when the text starts with spaces, which YAML would take for indentation. */
function yamlBlock(key: string, text: string): string[] {
  const lines = plainText(text).replace(/\n+$/, '').split('\n');
  const indicator = /^\s/.test(lines.find((l) => l.trim() !== '') ?? '') ? '|2' : '|';
  return [`${key}: ${indicator}`, ...lines.map((l) => (l === '' ? '' : `  ${l}`))];
}

function diagnostics(t: TestResult): string[] {
  // JSON strings are valid YAML double-quoted scalars: escaping for free.
  const yaml = [`status: ${t.status}`];
  if (t.error) yaml.push(`message: ${JSON.stringify(plainText(t.error.message))}`);
  yaml.push(`durationMs: ${t.durationMs}`, `session: ${JSON.stringify(t.session)}`);
  if (t.retries) yaml.push(`retries: ${t.retries}`);
  if (t.expectation) yaml.push(`expectation: ${t.expectation.outcome}`, `expectationReason: ${JSON.stringify(t.expectation.reason)}`);
  // One JSON object per metric: a valid YAML flow mapping, so TAP consumers get the numbers too.
  if (t.metrics.length > 0) yaml.push('metrics:', ...t.metrics.map((m) => `  - ${JSON.stringify(m)}`));
  if (t.warnings?.length) yaml.push('warnings:', ...t.warnings.map((w) => `  - ${JSON.stringify(plainText(w))}`));
  if (t.error?.consoleExcerpt) yaml.push(...yamlBlock('consoleExcerpt', t.error.consoleExcerpt));
  return ['  ---', ...yaml.map((l) => (l === '' ? '' : `  ${l}`)), '  ...'];
}

function testPoint(t: TestResult, n: number): string[] {
  const point = `${n} - ${escapeDescription(t.id)}`;
  // TAP's TODO directive is exactly "expected to fail": a listed failure does not fail the stream.
  if (t.expectation?.outcome === 'expected-failure') return [`not ok ${point} # TODO expected failure: ${oneLine(t.expectation.reason)}`, ...diagnostics(t)];
  // A listed test that passed must fail the stream until the entry is removed.
  if (t.expectation?.outcome === 'unexpected-pass') return [`not ok ${point}`, ...diagnostics(t)];
  switch (t.status) {
    case 'passed':
      // A pass after a retry carries its retries in YAML, so it never reads as a plain pass; metrics go there too.
      return [`ok ${point}`, ...(t.retries || t.metrics.length > 0 || t.warnings?.length ? diagnostics(t) : [])];
    case 'skipped':
      return [`ok ${point} # SKIP ${oneLine(t.reason ?? 'no reason given')}`];
    default:
      return [`not ok ${point}`, ...diagnostics(t)];
  }
}

export function formatTap(result: RunResult): string {
  const { run, tests } = result;
  const lines = [
    'TAP version 14',
    `1..${tests.length}`,
    `# tsuite run ${run.id}: target ${run.target}, kernel ${run.kernel.path}, accel ${run.accel}`,
    ...tests.flatMap((t, i) => testPoint(t, i + 1)),
  ];
  if (run.interrupted) lines.push(`# run interrupted by ${run.interrupted.signal}: results are partial`);
  // The harness itself failed: Bail out! tells consumers not to trust the plan.
  if (run.infraError) lines.push(`Bail out! infra error: ${oneLine(run.infraError.message)}`);
  return `${lines.join('\n')}\n`;
}

export const tapReporter: ReporterFactory = ({ outputDir }) => ({
  name: 'tap',
  async onRunEnd(result) {
    await writeFileAtomic(join(outputDir, 'results.tap'), formatTap(result));
  },
});
