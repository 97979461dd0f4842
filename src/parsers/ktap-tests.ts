/**
 * The tests themselves: what a result line means for a test's status, and the crashed placeholders
 * for what its plan promised but the output never delivered.
 */

import type { KtapStatus, KtapTest } from './ktap.js';
import type { KtapLine } from './ktap-lines.js';

type Result = Extract<KtapLine, { kind: 'result' }>;

/** Placeholders beyond this are summarised in one warning. */
const MAX_PLACEHOLDERS = 1000;

export function newTest(name: string, line: number): KtapTest {
  return { name, status: 'crashed', diagnostics: [], log: [], subtests: [], warnings: [], line };
}

export function applyResult(test: KtapTest, r: Result, expectedNumber: number): void {
  test.number = r.number;
  if (r.number !== expectedNumber) test.warnings.push(`expected test number ${expectedNumber} but found ${r.number}`);
  test.status = statusOf(r);
  if (r.directive) test.directive = r.directive;
  if (r.reason !== undefined) test.reason = r.reason;
}

function statusOf(r: Result): KtapStatus {
  switch (r.directive) {
    case 'SKIP':
      return 'skipped';
    case 'TODO':
      return 'todo';
    case 'XFAIL':
      return 'xfail';
    case 'TIMEOUT':
      return 'timedOut';
    case 'ERROR':
      return 'error';
    default:
      return r.ok ? 'passed' : 'failed';
  }
}

/** Compares a test's subtests with its plan: placeholders (`crashed`) for those that never came. */
export function addMissing(test: KtapTest, line: number): KtapTest[] {
  const expected = test.expectedCount;
  const have = test.subtests.length;
  if (expected === undefined || have === expected) return [];
  if (have > expected) {
    test.warnings.push(`planned ${expected} subtests but found ${have}`);
    return [];
  }
  test.warnings.push(`missing expected subtests: ${have} of ${expected} reported`);
  const seen = new Set(test.subtests.map((s) => s.number));
  const want = Math.min(expected - have, MAX_PLACEHOLDERS);
  const added: KtapTest[] = [];
  for (let n = 1; added.length < want; n++) {
    if (seen.has(n)) continue;
    const t = newTest('', line);
    Object.assign(t, { number: n, reason: 'missing expected subtest' });
    added.push(t);
  }
  if (want < expected - have) test.warnings.push(`only the first ${want} missing subtests are listed`);
  test.subtests.push(...added);
  return added;
}
