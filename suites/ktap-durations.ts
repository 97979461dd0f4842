import type { ConsoleLine, KtapDocument, KtapTest } from '../src/index.js';

/**
 * How long each reported KTAP test of the console took, by the console's own clock: from the
 * previous reported result line of its document (or the document's version line) to its own result
 * line, as the lines reached the host. KTAP carries no times, and a kernel prints a test's result
 * as soon as it is done, so the gap between result lines is the best evidence there is. A
 * document's tests add up to the time from its version line to its last result. A replayed log
 * arrives all at once: its tests take ~0.
 */
export function ktapConsoleDurations(
  reported: readonly { test: KtapTest; doc: number }[],
  docs: readonly KtapDocument[],
  lines: readonly ConsoleLine[],
): number[] {
  const at = (line: number) => lines[Math.min(Math.max(line, 0), lines.length - 1)]?.atMs ?? 0;
  const out: number[] = new Array<number>(reported.length).fill(0);
  // In console order per document: a failing parent is reported after its subtests' lines.
  const order = reported.map((r, i) => ({ ...r, i })).sort((a, b) => a.doc - b.doc || a.test.line - b.test.line);
  let doc = -1;
  let from = 0;
  for (const r of order) {
    if (r.doc !== doc) {
      doc = r.doc;
      from = at(docs[r.doc]?.startLine ?? r.test.line);
    }
    const to = at(r.test.line);
    out[r.i] = Math.max(0, Math.round(to - from));
    from = Math.max(from, to);
  }
  return out;
}
