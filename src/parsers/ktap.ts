/**
 * KTAP (Documentation/dev-tools/ktap.rst) as kunit_tool's kunit_parser.py reads it: from a kernel
 * console log, the first `KTAP version N` / `TAP version 13|14` line starts the document, its
 * prefix (a printk timestamp, or any text before the marker) is stripped from the lines after it,
 * the plan may be missing, subtests nest by indentation, kernel lines interleaved anywhere are kept
 * as log and never change a status, and a stream cut short (a panic) marks what never reported
 * `crashed` ("missing expected subtest") together with every parent that was still open.
 *
 * Why a line-based parser and not tapjs's `tap-parser` (v18, tried against KUnit output):
 * - It does not know `KTAP version 1` (an "extra" line) nor the prefix, so every line must be
 *   rewritten before it sees it, i.e. the KTAP line rules would live here anyway.
 * - A stream cut short leaves it with nothing to report per test: a truncated suite never emits
 *   its `assert`, and the child only gets an anonymous "incorrect number of tests" failure, while
 *   KTAP needs each missing test named `crashed`, with the parents that were open at the crash.
 * - Only SKIP and TODO are directives to it; XFAIL, TIMEOUT and ERROR end up in the test name.
 * - Results are emitted one line late (it waits for a YAML block), so the console line of each
 *   result (what tsuite shows as evidence) has to be reconstructed from the event order.
 * Like kunit_tool, this parser is a small line-by-line state machine (ktap-builder.ts) over a line
 * classifier (ktap-lines.ts); unlike kunit_tool, which strips indentation and matches names, it
 * follows KTAP's indentation to find where a subtest ends (any width and any whitespace: ktap.rst
 * shows 2 spaces, KUnit prints 4, and printed a tab before Linux 5.7), and takes `# Subtest:` names
 * both at the subtest's level (KUnit) and at the parent's (TAP 14). As tolerant as kunit_tool: only
 * a header (`KTAP version`, `# Subtest:`) opens a level, so a result or plan indented deeper than
 * its level stays at that level with a warning instead of inventing a test.
 */

import { KtapBuilder } from './ktap-builder.js';
import { findKtapStart, type KtapDirective } from './ktap-lines.js';

export { flattenKtap, type KtapFlatTest } from './ktap-flatten.js';
export type { KtapDirective } from './ktap-lines.js';

export type KtapStatus = 'passed' | 'failed' | 'skipped' | 'crashed' | 'timedOut' | 'xfail' | 'todo' | 'error';

export interface KtapTest {
  /** The description of its result line (or its `# Subtest:` name when it never reported). */
  name: string;
  /** The number on its result line; for a test that never reported, the number it should have had. */
  number?: number;
  status: KtapStatus;
  directive?: KtapDirective;
  /** Diagnostic data after `#` on the result line (the SKIP reason), or why it is `crashed`. */
  reason?: string;
  /** Its `# ...` lines (without the `#`) and their indented continuation lines, in order. */
  diagnostics: string[];
  /** Other lines that arrived inside it (kernel messages, a panic), prefix stripped. */
  log: string[];
  subtests: KtapTest[];
  /** From its plan `1..N`; absent when it had none. */
  expectedCount?: number;
  warnings: string[];
  /** 0-based index in the input of its result line; for a test that never reported, of its last line. */
  line: number;
}

export interface KtapDocument {
  /** The version line that started it, e.g. `KTAP version 1`. */
  version: string;
  format: 'ktap' | 'tap';
  /** The console prefix as printed before the version marker (`[    0.912345] `); `''` when none. */
  prefix: string;
  /** Top-level tests: the suites, for KUnit. */
  tests: KtapTest[];
  /** The top-level plan; absent when there is none (KUnit tests loaded as modules print none). */
  expectedCount?: number;
  /** Problems with the document as a whole; each test carries its own. */
  warnings: string[];
  /** 0-based index of the version line. */
  startLine: number;
  /** 0-based index of its last line; parse `lines.slice(endLine + 1)` for a following document. */
  endLine: number;
}

/** Parses the first KTAP document in a console log; undefined when it holds none. Never throws. */
export function parseKtap(lines: readonly string[]): KtapDocument | undefined {
  return parseFrom(lines, 0);
}

/**
 * Every KTAP document in a console log, in order. A kernel with KUnit built in and its tests as
 * modules prints two: the boot-time executor's empty `KTAP version 1` / `1..0`, then the modules'
 * suites with no top-level header. Line numbers stay those of the whole log. Never throws.
 */
export function parseKtapAll(lines: readonly string[]): KtapDocument[] {
  const docs: KtapDocument[] = [];
  for (let doc = parseFrom(lines, 0); doc; doc = parseFrom(lines, doc.endLine + 1)) docs.push(doc);
  return docs;
}

function parseFrom(lines: readonly string[], from: number): KtapDocument | undefined {
  const found = findKtapStart(lines, from);
  if (!found) return undefined;
  const builder = new KtapBuilder(found.index, found.start);
  for (let i = found.index + 1; i < lines.length; i++) {
    if (!builder.feed(String(lines[i]), i)) break;
  }
  return builder.finish();
}
