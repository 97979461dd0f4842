import type { ConformanceItem, ConformanceMatrix, TestResult } from './result.js';

/** How a suite's results fold into a conformance matrix. */
export interface ConformanceSpec {
  /** What an item is, for the report: `syscall`, `attempt`. */
  itemKind: string;
  /** How many id segments after the suite name the item takes: 2 for `syscall/<family>/<syscall>/...`. */
  itemDepth: number;
  /**
   * The item a result belongs to, from its id segments after the suite name, or undefined for none;
   * replaces the itemDepth rule (which counts only results below an item, never the item itself).
   */
  itemOf?(path: readonly string[]): string | undefined;
  /**
   * Every item a result counts toward (a CRI test counts for its area and for each RPC it calls);
   * replaces itemOf and itemDepth.
   */
  itemsOf?(path: readonly string[]): readonly string[];
  /**
   * The item a skip reason says the target does not implement (`... answers ListMetricDescriptors
   * with UNIMPLEMENTED`): a row with nothing run and such a skip is `unimplemented`, not `skip`.
   */
  unimplementedItem?(reason: string): string | undefined;
  /** Extra facts per item (e.g. the syscall number on the target's arch). */
  details?(item: string, arch: string): Record<string, string | number> | undefined;
}

const FAIL = new Set(['failed', 'crashed', 'timedOut', 'parseError', 'infraError']);

/**
 * Folds a suite's results into one row per item: `fail` if any behaviour failed (and was not an
 * expected failure), `expected-fail` if only listed ones did, `pass` if any passed, else `skip`.
 */
export function buildConformance(suite: string, spec: ConformanceSpec, tests: readonly TestResult[], arch: string): ConformanceMatrix {
  const rows = new Map<string, ConformanceItem & { expected: number; unimplemented: boolean }>();
  for (const t of tests) {
    const parts = t.id.split('/');
    if (parts[0] !== suite) continue;
    const items = spec.itemsOf
      ? spec.itemsOf(parts.slice(1))
      : [spec.itemOf ? spec.itemOf(parts.slice(1)) : parts.length >= spec.itemDepth + 2 ? parts.slice(1, spec.itemDepth + 1).join('/') : undefined].filter((i) => i !== undefined);
    const unimplemented = t.status === 'skipped' && t.reason ? spec.unimplementedItem?.(t.reason) : undefined;
    for (const item of items) {
      let row = rows.get(item);
      if (!row) {
        row = { item, status: 'skip', passed: 0, failed: 0, skipped: 0, reasons: [], expected: 0, unimplemented: false };
        const details = spec.details?.(item, arch);
        if (details) row.details = details;
        rows.set(item, row);
      }
      if (t.status === 'passed') row.passed += 1;
      else if (FAIL.has(t.status)) {
        row.failed += 1;
        if (t.expectation?.outcome === 'expected-failure') row.expected += 1;
      } else row.skipped += 1;
      if (unimplemented === item) row.unimplemented = true;
      const why = t.expectation?.reason ?? (t.status === 'skipped' ? t.reason : undefined);
      if (why && !row.reasons.includes(why)) row.reasons.push(why);
    }
  }
  const items = [...rows.values()].map(({ expected, unimplemented, ...row }) => {
    row.status = row.failed > expected ? 'fail' : row.failed > 0 ? 'expected-fail' : row.passed > 0 ? 'pass' : unimplemented ? 'unimplemented' : 'skip';
    return row;
  });
  return { itemKind: spec.itemKind, covered: items.filter((i) => i.passed + i.failed > 0).length, items };
}
