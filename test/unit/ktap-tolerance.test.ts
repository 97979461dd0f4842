import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { flattenKtap, parseKtap, parseKtapAll, type KtapDocument } from '../../src/parsers/ktap.js';
import { leadingIndent } from '../../src/parsers/ktap-lines.js';

/**
 * KTAP read as tolerantly as kunit_tool (tools/testing/kunit/kunit_parser.py), which strips any
 * leading whitespace: tabs and spaces both introduce a level, and indentation deeper than expected
 * never invents a test. Every input here is a real KUnit console log (fixtures/ktap/README.md),
 * some with their indentation rewritten, as each test says.
 */

const read = (name: string) => readFileSync(new URL(`../../fixtures/ktap/${name}`, import.meta.url), 'utf8').split(/\r?\n/);

/** Every test of every document: id, status, number, diagnostics, warnings, as one comparable list. */
const shape = (docs: readonly KtapDocument[]) =>
  docs.flatMap((doc, d) => flattenKtap(doc).map((f) => `${d} ${f.id} ${f.test.status} #${f.test.number} [${f.test.diagnostics.join('|')}] {${f.test.warnings.join('|')}}`));

/** Where two parses differ, as readable lines; [] when they agree. */
function differences(want: readonly string[], got: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < Math.max(want.length, got.length); i++) if (want[i] !== got[i]) out.push(`want ${want[i]} | got ${got[i]}`);
  return out;
}

const KERNEL_TS = /^(\[ *\d+\.\d+\] )((?: {4})+)(.*)$/;

/** Rewrites the KTAP indentation after the printk timestamp, one 4-space step at a time. */
const reindent = (lines: readonly string[], step: (level: number) => string) =>
  lines.map((l) => {
    const m = KERNEL_TS.exec(l);
    if (!m) return l;
    const levels = m[2]!.length / 4;
    return m[1] + Array.from({ length: levels }, (_, i) => step(i)).join('') + m[3];
  });

describe('indentation: any leading whitespace introduces a level', () => {
  it('measures tabs to the next stop of 8, spaces one column each, mixed runs in order', () => {
    expect(leadingIndent('ok 1 a')).toEqual({ chars: 0, width: 0 });
    expect(leadingIndent('    ok 1 a')).toEqual({ chars: 4, width: 4 });
    expect(leadingIndent('\tok 1 a')).toEqual({ chars: 1, width: 8 });
    expect(leadingIndent('\t\tok 1 a')).toEqual({ chars: 2, width: 16 });
    expect(leadingIndent('  \tok')).toEqual({ chars: 3, width: 8 });
    expect(leadingIndent('\t    ok')).toEqual({ chars: 5, width: 12 });
  });

  // KUnit printed one tab per level before Linux 5.7; kunit-*-tabs-x86_64.log are the real 6.1
  // captures with each 4-space step after the timestamp rewritten to a tab (fixtures/ktap/README.md).
  it.each([
    ['kunit-builtin-tabs-x86_64.log', 'kunit-builtin-x86_64.log', 249],
    ['kunit-modules-tabs-x86_64.log', 'kunit-modules-x86_64.log', 98],
  ])('%s: every case is found with its own status, exactly as with spaces', (tabs, spaces, leaves) => {
    const tabLines = read(tabs);
    expect(tabLines.filter((l) => /^\[ *\d+\.\d+\] \t/.test(l)).length).toBeGreaterThan(100); // really tab-indented
    const got = parseKtapAll(tabLines);
    expect(differences(shape(parseKtapAll(read(spaces))), shape(got))).toEqual([]);
    const flat = got.flatMap((d) => flattenKtap(d));
    expect(flat.filter((f) => f.leaf)).toHaveLength(leaves);
    expect(flat.filter((f) => f.test.status === 'crashed')).toEqual([]);
    expect(got.flatMap((d) => d.warnings)).toEqual([]);
  });

  it('tab-indented: a failing case is blamed on the case, not on its suite', () => {
    // The real log with one case failing (its result line turned to `not ok`), indented with tabs.
    const lines = read('kunit-builtin-tabs-x86_64.log').map((l) => l.replace(/\tok 2 test_cpumask_first$/, '\tnot ok 2 test_cpumask_first'));
    expect(lines.some((l) => l.endsWith('\tnot ok 2 test_cpumask_first'))).toBe(true);
    const flat = flattenKtap(parseKtap(lines)!);
    expect(flat.filter((f) => f.test.status === 'failed').map((f) => f.id)).toEqual(['cpumask/test_cpumask_first']);
    // The suite itself printed `ok 7 cpumask`: it keeps its own status.
    expect(flat.find((f) => f.id === 'cpumask')!.test.status).toBe('passed');
  });

  it('mixed: a tab for the first level and tab + 4 spaces for the second read the same', () => {
    const mixed = reindent(read('kunit-builtin-x86_64.log'), (i) => (i === 0 ? '\t' : '    '));
    expect(mixed.some((l) => /\] \t {4}ok 1 Earliest possible UTC/.test(l))).toBe(true);
    expect(differences(shape(parseKtapAll(read('kunit-builtin-x86_64.log'))), shape(parseKtapAll(mixed)))).toEqual([]);
  });

  it('the comparison catches a case that went missing (it fails on a broken input)', () => {
    const broken = read('kunit-builtin-tabs-x86_64.log').filter((l) => !l.endsWith('\tok 3 test_cpumask_last'));
    const diff = differences(shape(parseKtapAll(read('kunit-builtin-x86_64.log'))), shape(parseKtapAll(broken)));
    expect(diff.length).toBeGreaterThan(0);
    expect(diff.join('\n')).toMatch(/got 0 cpumask\/#3 crashed/);
  });
});

describe('indentation deeper than expected: accepted with a warning, never an invented test', () => {
  /** The real built-in log with every case result of the suites named pushed 4 columns deeper. */
  const overIndent = (suites: readonly string[]) => {
    const lines = read('kunit-builtin-x86_64.log');
    let suite = '';
    return lines.map((l) => {
      const header = /\] {5}# Subtest: (\S+)$/.exec(l);
      if (header) suite = header[1]!;
      return suites.includes(suite) && /\] {5}(not )?ok \d+ /.test(l) ? l.replace(/\] {5}/, ']         ') : l;
    });
  };

  it('over-indented case results stay their suite\'s cases, each with its own status and a warning', () => {
    const lines = overIndent(['cpumask', 'hash', 'kunit_status']);
    const doc = parseKtap(lines)!;
    const orig = flattenKtap(parseKtap(read('kunit-builtin-x86_64.log'))!).map((f) => `${f.id} ${f.test.status}`);
    const flat = flattenKtap(doc);
    expect(flat.map((f) => `${f.id} ${f.test.status}`)).toEqual(orig);
    expect(flat.filter((f) => f.test.status === 'crashed')).toEqual([]);
    const warned = flat.filter((f) => f.test.warnings.length > 0);
    expect(warned.map((f) => f.id)).toEqual(flat.filter((f) => /^(cpumask|hash|kunit_status)\//.test(f.id)).map((f) => f.id));
    expect(warned[0]!.test.warnings).toEqual(['result line indented deeper than expected (column 8, its level is at 4): read at that level, as kunit_tool does']);
    expect(doc.warnings).toEqual([]);
  });

  it('an over-indented plan is its level\'s plan, and still promises what it promised', () => {
    const lines = read('kunit-builtin-x86_64.log').map((l) => l.replace(/^(\[ *\d+\.\d+\]) {5}1\.\.6$/, '$1         1..6'));
    expect(lines.filter((l) => /\] {9}1\.\.6$/.test(l))).toHaveLength(1); // cpumask's plan
    const doc = parseKtap(lines)!;
    const cpumask = doc.tests.find((t) => t.name === 'cpumask')!;
    expect(cpumask).toMatchObject({ status: 'passed', expectedCount: 6 });
    expect(cpumask.subtests.map((t) => t.status)).toEqual(Array(6).fill('passed'));
    expect(cpumask.warnings).toEqual(['plan 1..6 indented deeper than expected (column 8, its level is at 4): read at that level, as kunit_tool does']);
    expect(flattenKtap(doc).filter((f) => f.test.status === 'crashed')).toEqual([]);
    // Cut the cpumask suite short after its third case: the plan still names the missing ones.
    const end = lines.findIndex((l) => l.endsWith('ok 3 test_cpumask_last'));
    const cut = parseKtap(lines.slice(0, end + 1))!;
    expect(cut.tests.find((t) => t.name === 'cpumask')!.subtests.map((t) => t.status)).toEqual([...Array(3).fill('passed'), ...Array(3).fill('crashed')]);
  });

  it('an over-indented `# Subtest:` right after its suite\'s version line names that suite', () => {
    const lines = read('kunit-builtin-x86_64.log').map((l) => l.replace(/\] {5}# Subtest: hash$/, ']         # Subtest: hash'));
    const doc = parseKtap(lines)!;
    expect(doc.tests.map((t) => t.name)).toEqual(parseKtap(read('kunit-builtin-x86_64.log'))!.tests.map((t) => t.name));
    expect(doc.tests.find((t) => t.name === 'hash')!.warnings).toEqual([
      '`# Subtest:` line indented deeper than expected (column 8, its level is at 4): read at that level, as kunit_tool does',
    ]);
    expect(flattenKtap(doc).filter((f) => f.test.status === 'crashed')).toEqual([]);
  });

  it('the "nothing crashed" check fails on a broken input: a case result really missing is crashed', () => {
    const lines = overIndent(['cpumask']).filter((l) => !/\] {9}ok 4 test_cpumask_next$/.test(l));
    const crashed = flattenKtap(parseKtap(lines)!).filter((f) => f.test.status === 'crashed').map((f) => f.id);
    expect(crashed).toEqual(['cpumask', 'cpumask/#4']);
  });

  it('TAP 14 keeps its form: a `# Subtest:` at the parent level announces the deeper lines as a subtest', () => {
    const doc = parseKtap(['TAP version 14', '1..1', '# Subtest: parser', '    1..1', '    ok 1 - reads a plan', 'ok 1 - parser'])!;
    expect(flattenKtap(doc).map((f) => `${f.id} ${f.test.status}`)).toEqual(['parser passed', 'parser/reads a plan passed']);
    expect(flattenKtap(doc).flatMap((f) => f.test.warnings)).toEqual([]);
  });
});

describe('an empty plan', () => {
  it('the real boot-time document of a KUnit kernel whose tests are modules: 1..0 and no test', () => {
    const lines = read('kunit-modules-x86_64.log');
    const first = lines.findIndex((l) => l.startsWith('tsuite-capture: insmod'));
    const docs = parseKtapAll(lines.slice(0, first));
    expect(docs.map((d) => [d.version, d.expectedCount, d.tests.length])).toEqual([['KTAP version 1', 0, 0]]);
    // The whole log: the empty document, then the modules' suites, read as before.
    expect(parseKtapAll(lines).map((d) => [d.startLine, d.endLine, d.expectedCount, d.tests.length])).toEqual([
      [127, 128, 0, 0],
      [136, 309, undefined, 9],
    ]);
  });
});
