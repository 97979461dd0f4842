import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { flattenKtap, parseKtap, type KtapDocument, type KtapTest } from '../../src/parsers/ktap.js';

const fixture = (name: string) => readFileSync(new URL(`../../fixtures/ktap/${name}`, import.meta.url), 'utf8').split(/\r?\n/);

function parse(lines: readonly string[]): KtapDocument {
  const doc = parseKtap(lines);
  if (!doc) throw new Error('no KTAP document found');
  return doc;
}

/** `id status` for every test, parents first: nesting, names and statuses in one exact list. */
const tree = (doc: KtapDocument) => flattenKtap(doc).map((f) => `${f.id} ${f.test.status}`);
const find = (doc: KtapDocument, id: string): KtapTest => {
  const hit = flattenKtap(doc).find((f) => f.id === id);
  if (!hit) throw new Error(`no test ${id}`);
  return hit.test;
};
const allWarnings = (doc: KtapDocument) => flattenKtap(doc).flatMap((f) => f.test.warnings.map((w) => `${f.id}: ${w}`));

/** Small seeded PRNG, so the fuzz cases are the same on every run. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('parseKtap on hand-made fixtures', () => {
  it('nests three levels (the example of Documentation/dev-tools/ktap.rst, 2-space indents)', () => {
    const doc = parse(fixture('nested-three-levels.ktap'));
    expect(doc).toMatchObject({ version: 'KTAP version 1', format: 'ktap', prefix: '', expectedCount: 1, startLine: 0, endLine: 21, warnings: [] });
    expect(tree(doc)).toEqual([
      'main_test failed',
      'main_test/example_test_1 passed',
      'main_test/example_test_1/test_1 passed',
      'main_test/example_test_2 passed',
      'main_test/example_test_2/test_1 skipped',
      'main_test/example_test_2/test_2 passed',
      'main_test/example_test_3 failed',
      'main_test/example_test_3/test_1 passed',
      'main_test/example_test_3/test_2 failed',
      'main_test/example_test_3/test_3 skipped',
    ]);
    expect(doc.tests[0]!.expectedCount).toBe(3);
    expect(doc.tests[0]!.line).toBe(21);
    expect(find(doc, 'main_test/example_test_1/test_1').diagnostics).toEqual(['test_1: initializing test_1']);
    expect(find(doc, 'main_test/example_test_3/test_2').diagnostics).toEqual(['test_2: FAIL']);
    expect(find(doc, 'main_test/example_test_2/test_1')).toMatchObject({ directive: 'SKIP', reason: 'test_1 skipped', number: 1, line: 11 });
    expect(allWarnings(doc)).toEqual([]);
  });

  it('reads nesting without any plan (KUnit parameterised tests print none)', () => {
    const doc = parse(fixture('missing-plans.ktap'));
    expect(doc.expectedCount).toBeUndefined();
    expect(tree(doc)).toEqual([
      'alpha failed',
      'alpha/alpha_one passed',
      'alpha/alpha_two passed',
      'alpha/alpha_params failed',
      'alpha/alpha_params/size=1 passed',
      'alpha/alpha_params/size=4096 failed',
      'alpha/alpha_params/size=0 skipped',
      'beta passed',
      'beta/beta_one passed',
    ]);
    expect(flattenKtap(doc).every((f) => f.test.expectedCount === undefined)).toBe(true);
    // The stats line printed after the last parameter belongs to the case, the suite's to the suite.
    expect(find(doc, 'alpha/alpha_params').diagnostics).toEqual(['alpha_params: pass:1 fail:1 skip:1 total:3']);
    expect(find(doc, 'alpha').diagnostics).toEqual(['alpha: pass:2 fail:1 skip:0 total:3']);
    expect(find(doc, 'alpha/alpha_params/size=0').reason).toBe('zero-sized buffers are not supported');
    expect(doc.endLine).toBe(17);
    expect(allWarnings(doc)).toEqual([]);
    expect(doc.warnings).toEqual([]);
  });

  it('maps every directive, in any case, after `#`', () => {
    const doc = parse(fixture('directives.ktap'));
    const rows = doc.tests.map((t) => [t.number, t.name, t.status, t.directive, t.reason]);
    expect(rows).toEqual([
      [1, 'plain', 'passed', undefined, undefined],
      [2, 'failing', 'failed', undefined, undefined],
      [3, 'skipped_ok', 'skipped', 'SKIP', 'no hardware'],
      [4, 'skipped_not_ok', 'skipped', 'SKIP', 'lowercase directive'],
      [5, 'known_broken', 'todo', 'TODO', 'fix the frobnicator'],
      [6, 'expected_failure', 'xfail', 'XFAIL', 'kselftest style'],
      [7, 'too_slow', 'timedOut', 'TIMEOUT', '30 seconds'],
      [8, 'harness_error', 'error', 'ERROR', 'could not open /dev/kvm'],
      // Not a directive: diagnostic data, and the TAP `- ` separator is not part of the name.
      [9, 'check return code', 'passed', undefined, 'rcode=0'],
    ]);
    expect(doc.expectedCount).toBe(9);
    expect(allWarnings(doc)).toEqual([]);
  });

  it('strips timestamp prefixes, wider timestamps and the PRINTK_CALLER field included', () => {
    const lines = fixture('timestamps.log');
    const doc = parse(lines);
    expect(doc).toMatchObject({ prefix: '[    9.998001] ', startLine: 2, endLine: 15, expectedCount: 2, warnings: [] });
    expect(tree(doc)).toEqual([
      'slow_suite passed',
      'slow_suite/slow_case passed',
      'slow_suite/quick_case passed',
      'caller_suite failed',
      'caller_suite/with_caller_field failed',
    ]);
    expect(find(doc, 'slow_suite/slow_case')).toMatchObject({ line: 8, diagnostics: ['slow_case: still running'] });
    expect(lines[find(doc, 'caller_suite/with_caller_field').line]).toContain('[    T1]');
  });

  it('keeps interleaved kernel lines as log: they never change a status or the nesting', () => {
    const doc = parse(fixture('interleaved.log'));
    expect(tree(doc)).toEqual(['noisy failed', 'noisy/first passed', 'noisy/second failed', 'noisy/third passed', 'quiet passed', 'quiet/only passed']);
    const first = find(doc, 'noisy/first');
    expect(first.diagnostics).toEqual(['first: initializing']);
    expect(first.log).toEqual([
      'random: crng init done',
      '------------[ cut here ]------------',
      'WARNING: CPU: 0 PID: 42 at lib/noisy.c:10 first+0x1c/0x30',
      'Call Trace:',
      ' <TASK>',
      ' kunit_try_run_case+0x51/0x90',
      ' </TASK>',
      '---[ end trace 0000000000000000 ]---',
    ]);
    // An assertion's indented continuation lines stay with its `#` line; the BUG line is log.
    const second = find(doc, 'noisy/second');
    expect(second.diagnostics).toEqual(['second: EXPECTATION FAILED at lib/noisy.c:20', 'Expected a == b, but', '    a == 1 (0x1)', '    b == 2 (0x2)']);
    expect(second.log).toEqual(['BUG: kernel NULL pointer dereference, address: 0000000000000000']);
    // Lines without the document's prefix are foreign, even one that looks like a result.
    expect(find(doc, 'noisy/third').log).toEqual([
      'virtio_net virtio0 eth0: renamed from a userspace line without timestamp',
      'ok 3 looks like a result but has no timestamp',
      'Kernel panic - not syncing: this text alone is only a log line',
    ]);
    expect(find(doc, 'noisy').diagnostics).toEqual(['noisy: pass:2 fail:1 skip:0 total:3']);
    expect(find(doc, 'quiet').log).toEqual(['e1000: eth0 NIC Link is Up']);
    // The document ends where its plan is complete; the line after it is not part of it.
    expect(doc.endLine).toBe(32);
    expect(allWarnings(doc)).toEqual([]);
    expect(doc.warnings).toEqual([]);
  });

  it('reads TAP 14: `# Subtest:` at the parent level, YAML blocks, escaped `#`', () => {
    const doc = parse(fixture('tap14-subtests.tap'));
    expect(doc).toMatchObject({ version: 'TAP version 14', format: 'tap', expectedCount: 2, endLine: 11 });
    expect(tree(doc)).toEqual(['parser passed', 'parser/reads a plan passed', 'parser/reads a YAML block failed', 'escaped # hash is part of the name todo']);
    expect(find(doc, 'parser/reads a YAML block').diagnostics).toEqual(['message: expected 2, got 3', 'at: parser.test.ts:42']);
    expect(doc.tests[1]).toMatchObject({ directive: 'TODO', reason: 'not yet' });
  });

  it('records numbering and plan mismatches as warnings, never as failures', () => {
    const doc = parse(fixture('numbering.ktap'));
    expect(tree(doc)).toEqual([
      'renumbered passed',
      'renumbered/first passed',
      'renumbered/second_but_numbered_three passed',
      'overfull passed',
      'overfull/planned passed',
      'overfull/unplanned passed',
      'named_wrong_number passed',
    ]);
    expect(allWarnings(doc)).toEqual([
      'renumbered/second_but_numbered_three: expected test number 2 but found 3',
      'overfull: second plan 1..2 ignored (plan was 1..1)',
      'overfull: planned 1 subtests but found 2',
      'named_wrong_number: expected test number 3 but found 4',
    ]);
    expect(find(doc, 'named_wrong_number').number).toBe(4);
  });
});

describe('parseKtap edge cases', () => {
  const lines = (text: string) => text.split('\n');

  it('returns undefined when there is no KTAP, or only an unknown TAP version', () => {
    expect(parseKtap([])).toBeUndefined();
    expect(parseKtap(lines('Linux version 6.1.0\nok 1 not a document\n1..1'))).toBeUndefined();
    expect(parseKtap(lines('TAP version 12\nok 1 x'))).toBeUndefined();
  });

  it('takes any text before the version marker as a prefix, with counters that change', () => {
    const doc = parse(lines('noise\nvm-7 | KTAP version 1\nvm-12 | 1..1\nvm-100 |     KTAP version 1\nvm-101 |     1..1\nother | ok 9 foreign\nvm-102 |     ok 1 a\nvm-103 | ok 1 s'));
    expect(doc).toMatchObject({ prefix: 'vm-7 | ', startLine: 1, endLine: 7 });
    expect(tree(doc)).toEqual(['s passed', 's/a passed']);
    expect(find(doc, 's/a').log).toEqual(['other | ok 9 foreign']);
  });

  it('reads tests loaded as modules: no top-level header, suites are indented subtests', () => {
    const doc = parse(lines([
      '[    3.1] kunit_test: module loaded', '[    3.2]     KTAP version 1', '[    3.2]     # Subtest: m1', '[    3.2]     1..1',
      '[    3.3]     ok 1 c', '[    3.3] ok 1 m1', '[    4.0]     # m2: initializing suite', '[    4.0]     KTAP version 1',
      '[    4.0]     # Subtest: m2', '[    4.0]     1..1', '[    4.1]     ok 1 c', '[    4.1] ok 2 m2', '[    5.0] reboot: Power down',
    ].join('\n')));
    expect(doc).toMatchObject({ version: 'KTAP version 1', prefix: '[    3.2] ', startLine: 1, endLine: 11, warnings: [] });
    expect(doc.expectedCount).toBeUndefined();
    expect(tree(doc)).toEqual(['m1 passed', 'm1/c passed', 'm2 passed', 'm2/c passed']);
    expect(find(doc, 'm2').diagnostics).toEqual(['m2: initializing suite']);
  });

  it('marks what a cut-short stream never reported as crashed, with every open parent', () => {
    const doc = parse(lines('KTAP version 1\n1..3\n    KTAP version 1\n    # Subtest: s\n    1..3\n    ok 1 a\n    # b: starting\nKernel panic - not syncing: Fatal exception\n---[ end Kernel panic ]---'));
    expect(tree(doc)).toEqual(['s crashed', 's/a passed', 's/#2 crashed', 's/#3 crashed', '#2 crashed', '#3 crashed']);
    expect(find(doc, 's')).toMatchObject({ reason: 'missing result line', warnings: ['missing expected subtests: 1 of 3 reported'], line: 8 });
    // The test that was running when it died gets the panic.
    expect(find(doc, 's/#2')).toMatchObject({
      number: 2, reason: 'missing expected subtest', diagnostics: ['b: starting'],
      log: ['Kernel panic - not syncing: Fatal exception', '---[ end Kernel panic ]---'],
    });
    expect(find(doc, '#3')).toMatchObject({ number: 3, reason: 'missing expected subtest', log: [] });
    expect(doc.warnings).toEqual(['the output ended inside test "s" before its result line', 'missing expected subtests: 1 of 3 reported']);
    expect(doc.endLine).toBe(8);
  });

  it('crashes a parent whose plan is not met even when it printed a result', () => {
    const doc = parse(lines('KTAP version 1\n1..1\n    KTAP version 1\n    1..2\n    ok 1 a\nok 1 s'));
    expect(tree(doc)).toEqual(['s crashed', 's/a passed', 's/#2 crashed']);
    expect(find(doc, 's').reason).toBe('a subtest crashed');
  });

  it('ends at a second top-level document, at a bail out, and at kunit_tool end markers', () => {
    const two = lines('KTAP version 1\nok 1 a\nKTAP version 1\nok 1 b');
    const first = parse(two);
    expect(tree(first)).toEqual(['a passed']);
    expect(first.endLine).toBe(1);
    expect(tree(parse(two.slice(first.endLine + 1)))).toEqual(['b passed']);

    const bail = parse(lines('TAP version 13\n1..2\nok 1 a\nBail out! no disk\nok 2 b'));
    expect(tree(bail)).toEqual(['a passed', '#2 crashed']);
    expect(bail.warnings).toEqual(['bail out: no disk', 'missing expected subtests: 1 of 2 reported']);

    const halted = parse(lines('KTAP version 1\nok 1 a\nreboot: System halted\nok 2 b'));
    expect(tree(halted)).toEqual(['a passed']);
  });

  it('opens an implicit subtest for indented results with no header, and names it from its result', () => {
    const doc = parse(lines('KTAP version 1\n    ok 1 inner\nnot ok 1 outer'));
    expect(tree(doc)).toEqual(['outer failed', 'outer/inner passed']);
  });

  it('warns on a result whose name differs from its `# Subtest:` header, keeping the result name', () => {
    const doc = parse(lines('KTAP version 1\n    # Subtest: header_name\n    ok 1 a\nok 1 result_name'));
    expect(tree(doc)).toEqual(['result_name passed', 'result_name/a passed']);
    expect(doc.tests[0]!.warnings).toEqual(['result line names "result_name" but its subtest header "header_name"']);
  });

  it('ignores an implausible plan instead of inventing a million placeholders', () => {
    const doc = parse(lines('KTAP version 1\n1..99999999999\nok 1 a'));
    expect(doc.expectedCount).toBeUndefined();
    expect(doc.warnings).toEqual(['plan 1..99999999999 ignored: implausibly large']);
    const capped = parse(lines('KTAP version 1\n1..5000\nok 1 a'));
    expect(capped.tests).toHaveLength(1001);
    expect(capped.warnings).toEqual(['missing expected subtests: 1 of 5000 reported', 'only the first 1000 missing subtests are listed']);
  });

  it('gives unique ids: encoded slashes, numbered empty names, repeated names', () => {
    const doc = parse(lines('KTAP version 1\nok 1 a/b\nok 2\nok 3 dup\nok 4 dup\nok 5 50%'));
    expect(flattenKtap(doc).map((f) => f.id)).toEqual(['a%2Fb', '#2', 'dup', 'dup#2', '50%25']);
    expect(flattenKtap(doc)[0]!.path).toEqual(['a/b']);
  });
});

/** What must hold for any document, whatever the input was. */
function checkInvariants(lines: readonly string[], doc: KtapDocument | undefined): void {
  if (!doc) {
    expect(lines.some((l) => /(KTAP version \d+|TAP version 1[34])\s*$/.test(String(l).trimEnd()))).toBe(false);
    return;
  }
  expect(doc.startLine).toBeGreaterThanOrEqual(0);
  expect(doc.endLine).toBeGreaterThanOrEqual(doc.startLine);
  expect(doc.endLine).toBeLessThan(lines.length);
  const flat = flattenKtap(doc);
  expect(new Set(flat.map((f) => f.id)).size).toBe(flat.length);
  const statuses = new Set(['passed', 'failed', 'skipped', 'crashed', 'timedOut', 'xfail', 'todo', 'error']);
  for (const { test } of flat) {
    expect(statuses.has(test.status)).toBe(true);
    expect(test.line).toBeGreaterThanOrEqual(doc.startLine);
    expect(test.line).toBeLessThanOrEqual(doc.endLine);
    // A plan is always met: by results, or by crashed placeholders.
    if (test.expectedCount !== undefined && test.expectedCount <= 1000) expect(test.subtests.length).toBeGreaterThanOrEqual(test.expectedCount);
    if (test.subtests.some((s) => s.status === 'crashed')) expect(test.status).toBe('crashed');
  }
}

describe('parseKtap never throws (seeded fuzz)', () => {
  const alphabet = ['KTAP version 1', 'TAP version 14', '1..', '# Subtest: ', 'ok ', 'not ok ', ' # SKIP', ' # TODO', '#', '    ', '  ', '\n', '\n', '\r\n', '[  1.00] ', '---', '...', 'Bail out!', '\\', '-', '0', '3', 'x'];

  it('on thousands of random byte strings and token soups', () => {
    const rand = mulberry32(0x6b746170);
    let documents = 0;
    for (let n = 0; n < 3000; n++) {
      let text = '';
      const len = Math.floor(rand() * 300);
      for (let i = 0; i < len; i++) {
        text += rand() < 0.5 ? String.fromCharCode(Math.floor(rand() * 256)) : alphabet[Math.floor(rand() * alphabet.length)]!;
      }
      const lines = text.split('\n');
      const doc = parseKtap(lines);
      if (doc) documents++;
      checkInvariants(lines, doc);
    }
    // The token soup really exercises the parser, not only the "no document" path.
    expect(documents).toBeGreaterThan(500);
  });

  it('on random mutations of every fixture', () => {
    const rand = mulberry32(42);
    const names = ['nested-three-levels.ktap', 'missing-plans.ktap', 'directives.ktap', 'timestamps.log', 'interleaved.log', 'tap14-subtests.tap', 'numbering.ktap'];
    const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    for (const name of names) {
      const base = fixture(name);
      for (let n = 0; n < 300; n++) {
        const lines = [...base];
        const edits = 1 + Math.floor(rand() * 6);
        for (let e = 0; e < edits && lines.length > 0; e++) {
          const at = Math.floor(rand() * lines.length);
          switch (Math.floor(rand() * 7)) {
            case 0: lines.splice(at, 1); break;
            case 1: lines.splice(at, 0, pick(base)); break;
            case 2: lines[at] = ' '.repeat(Math.floor(rand() * 9)) + lines[at]!.trimStart(); break;
            case 3: lines.length = at; break;
            case 4: lines[at] = lines[at]!.replace(/\d+/, String(Math.floor(rand() * 1e6))); break;
            case 5: lines[at] = lines[at]!.slice(0, Math.floor(rand() * lines[at]!.length)); break;
            default: lines.splice(at, 0, String.fromCharCode(...Array.from({ length: 20 }, () => Math.floor(rand() * 256))));
          }
        }
        checkInvariants(lines, parseKtap(lines));
      }
    }
  });

  it('on pathological nesting: one level deeper per line', () => {
    const lines = ['KTAP version 1', ...Array.from({ length: 2000 }, (_, i) => `${' '.repeat(i + 1)}KTAP version 1`)];
    const doc = parse(lines);
    expect(flattenKtap(doc)).toHaveLength(2000);
    expect(doc.tests[0]!.status).toBe('crashed');
  });
});
