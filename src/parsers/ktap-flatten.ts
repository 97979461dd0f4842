/**
 * A KTAP tree as a flat list with slash-joined ids (`suite`, `suite/case`, `suite/case/param`),
 * the shape tsuite turns into its own tests. Ids are unique within a document: a `/` or `%` in a
 * name is percent-encoded, an empty name becomes `#<number>`, a repeated sibling name gets `#2`, `#3`.
 */

import type { KtapDocument, KtapTest } from './ktap.js';

export interface KtapFlatTest {
  id: string;
  /** The names from the top-level test down to this one, as printed. */
  path: string[];
  /** 0 for a top-level test (a KUnit suite). */
  depth: number;
  /** True when it has no subtests. */
  leaf: boolean;
  test: KtapTest;
}

/** Every test of the document, parents before their subtests, in output order. */
export function flattenKtap(doc: KtapDocument): KtapFlatTest[] {
  const out: KtapFlatTest[] = [];
  // Iterative: a hostile input may nest as deep as it has lines.
  const work: { tests: KtapTest[]; next: number; prefix: string; path: string[]; used: Map<string, number> }[] = [
    { tests: doc.tests, next: 0, prefix: '', path: [], used: new Map() },
  ];
  while (work.length > 0) {
    const level = work[work.length - 1]!;
    const test = level.tests[level.next++];
    if (!test) {
      work.pop();
      continue;
    }
    const segment = uniqueSegment(test, level.used);
    const id = level.prefix + segment;
    const path = [...level.path, test.name];
    out.push({ id, path, depth: work.length - 1, leaf: test.subtests.length === 0, test });
    if (test.subtests.length > 0) work.push({ tests: test.subtests, next: 0, prefix: `${id}/`, path, used: new Map() });
  }
  return out;
}

function uniqueSegment(test: KtapTest, used: Map<string, number>): string {
  const base = test.name === '' ? `#${test.number ?? used.size + 1}` : test.name.replace(/%/g, '%25').replace(/\//g, '%2F');
  let n = used.get(base) ?? 0;
  let segment = base;
  while (used.has(segment)) segment = `${base}#${++n + 1}`;
  used.set(base, n);
  used.set(segment, 0);
  return segment;
}
