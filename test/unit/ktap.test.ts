import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../src/core/seeded-random.js';
import { flattenKtap, parseKtap, parseKtapAll, type KtapDocument, type KtapTest } from '../../src/parsers/ktap.js';

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

  it('opens no level for indented results with no header (as kunit_tool): they are read at their level, with a warning', () => {
    // Before tolerating deeper indentation, this made `outer/inner`: a level no header opened.
    const doc = parse(lines('KTAP version 1\n    ok 1 inner\nnot ok 1 outer'));
    expect(tree(doc)).toEqual(['inner passed', 'outer failed']);
    expect(allWarnings(doc)).toEqual([
      'inner: result line indented deeper than expected (column 4, its level is at 0): read at that level, as kunit_tool does',
      'outer: expected test number 2 but found 1',
    ]);
  });

  it('warns on a result whose name differs from its `# Subtest:` header, keeping the result name', () => {
    const doc = parse(lines('KTAP version 1\n    # Subtest: header_name\n    ok 1 a\nok 1 result_name'));
    expect(tree(doc)).toEqual(['result_name passed', 'result_name/a passed']);
    expect(doc.tests[0]!.warnings).toEqual(['result line says "result_name" but its subtest header "header_name"']);
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

/** Leaves of a test by status: what KUnit's own `# Totals:` line counts (parameters included). */
function leafCounts(test: KtapTest): Record<string, number> {
  const counts: Record<string, number> = { pass: 0, fail: 0, skip: 0 };
  const walk = (t: KtapTest): void => {
    if (t.subtests.length === 0) {
      const key = t.status === 'passed' ? 'pass' : t.status === 'skipped' ? 'skip' : 'fail';
      counts[key] = counts[key]! + 1;
    }
    t.subtests.forEach(walk);
  };
  walk(test);
  return counts;
}

/** Each suite's leaves agree with the `# Totals: pass:P fail:F skip:S total:T` KUnit printed for it. */
function expectKunitTotals(suites: readonly KtapTest[]): number {
  let checked = 0;
  for (const suite of suites) {
    const totals = suite.diagnostics.map((d) => /^Totals: pass:(\d+) fail:(\d+) skip:(\d+) total:(\d+)$/.exec(d)).find(Boolean);
    if (!totals) continue;
    const [pass, fail, skip] = totals.slice(1, 4).map(Number);
    expect({ suite: suite.name, ...leafCounts(suite) }).toEqual({ suite: suite.name, pass, fail, skip });
    checked++;
  }
  return checked;
}

const BUILTIN_SUITES = [
  'time_test_cases', 'hw_breakpoint', 'resource', 'sysctl_test', 'binfmt_elf', 'fat_test', 'cpumask', 'hash', 'list_sort', 'lib_sort',
  'kunit_executor_test', 'kunit-try-catch-test', 'kunit-resource-test', 'kunit-log-test', 'kunit_status', 'string-stream-test', 'example',
  'bitfields', 'list-kunit-test', 'hlist', 'bits-test', 'cmdline', 'slub_test', 'memcpy', 'is_signed_type', 'overflow', 'stackinit',
  'qos-kunit-test', 'property-entry',
];

describe('parseKtap on real KUnit console logs (linux-source-6.1, x86_64, QEMU)', () => {
  it('built-in: one top-level document with plan 1..29 and the suites as indented subtests', () => {
    const lines = fixture('kunit-builtin-x86_64.log');
    const docs = parseKtapAll(lines);
    expect(docs).toHaveLength(1);
    const doc = docs[0]!;
    expect(doc).toMatchObject({ version: 'KTAP version 1', expectedCount: 29, startLine: 123, endLine: 593, warnings: [] });
    expect(doc.prefix).toMatch(/^\[ +0\.\d{6}\] $/);
    expect(doc.tests.map((t) => t.name)).toEqual(BUILTIN_SUITES);
    expect(doc.tests.map((t) => t.number)).toEqual(BUILTIN_SUITES.map((_, i) => i + 1));
    expect(doc.tests.filter((t) => t.status !== 'passed').map((t) => `${t.name} ${t.status}`)).toEqual(['hw_breakpoint skipped']);
    const flat = flattenKtap(doc);
    expect(leafCounts({ ...doc.tests[0]!, subtests: doc.tests })).toEqual({ pass: 233, fail: 0, skip: 16 });
    expect(expectKunitTotals(doc.tests)).toBe(23);
    expect(allWarnings(doc)).toEqual([]);
    // fat_test's parameterised cases are the real third level.
    expect(flat.filter((f) => f.depth === 2).map((f) => f.id.split('/').slice(0, 2).join('/'))).toEqual([
      ...Array<string>(11).fill('fat_test/fat_time_fat2unix_test'),
      ...Array<string>(11).fill('fat_test/fat_time_unix2fat_test'),
    ]);
    const param = find(doc, 'fat_test/fat_time_fat2unix_test');
    expect(param.expectedCount).toBeUndefined();
    expect(param.subtests.every((t) => t.status === 'passed')).toBe(true);
    // The result line really is where the parser says it is.
    expect(lines[param.line]).toMatch(/^\[ *\d+\.\d+\]     ok 2 fat_time_fat2unix_test$/);
    // SKIP with and without a reason; interleaved clocksource messages are log only.
    expect(find(doc, 'hw_breakpoint')).toMatchObject({ status: 'skipped', directive: 'SKIP' });
    expect(find(doc, 'hw_breakpoint').reason).toBeUndefined();
    expect(find(doc, 'hw_breakpoint/test_one_cpu')).toMatchObject({ status: 'skipped', reason: 'not enough cpus' });
    // The clocksource message went to the test whose result came next, and nowhere else.
    const clock = lines.findIndex((l) => l.endsWith('clocksource: Switched to clocksource tsc'));
    const owner = flat.filter((f) => f.test.line > clock).sort((a, b) => a.test.line - b.test.line)[0]!;
    expect(owner.id).toMatch(/^hw_breakpoint\//);
    const withClock = flat.filter((f) => f.test.log.includes('clocksource: Switched to clocksource tsc'));
    expect(withClock.map((f) => `${f.id} ${f.test.status}`)).toEqual([`${owner.id} skipped`]);
    expect(find(doc, 'example').diagnostics[0]).toBe('example: initializing suite');
  });

  it('built-in, killed by an oops mid-suite (oops=panic): the rest of the plan is crashed', () => {
    const lines = fixture('kunit-builtin-oops-panic-x86_64.log');
    const doc = parse(lines);
    expect(doc).toMatchObject({ expectedCount: 30, startLine: 123, endLine: 366 });
    expect(lines[doc.endLine]).toContain('Kernel Offset:');
    expect(doc.warnings).toEqual(['the output ended inside test "tsuite_oops" before its result line', 'missing expected subtests: 18 of 30 reported']);
    expect(doc.tests.slice(0, 17).map((t) => `${t.name} ${t.status}`)).toEqual(
      BUILTIN_SUITES.slice(0, 17).map((n) => `${n} ${n === 'hw_breakpoint' ? 'skipped' : 'passed'}`),
    );
    expect(tree({ ...doc, tests: doc.tests.slice(17) })).toEqual([
      'tsuite_oops crashed', 'tsuite_oops/tsuite_oops_before passed', 'tsuite_oops/#2 crashed', 'tsuite_oops/#3 crashed',
      ...Array.from({ length: 12 }, (_, i) => `#${i + 19} crashed`),
    ]);
    const suite = find(doc, 'tsuite_oops');
    expect(suite).toMatchObject({ number: 18, expectedCount: 3, reason: 'missing result line', warnings: ['missing expected subtests: 1 of 3 reported'] });
    const dying = find(doc, 'tsuite_oops/#2');
    expect(dying).toMatchObject({ number: 2, reason: 'missing expected subtest', diagnostics: ['tsuite_oops_null_deref: writing through a NULL pointer'] });
    expect(dying.log[0]).toBe('BUG: kernel NULL pointer dereference, address: 0000000000000000');
    expect(dying.log).toContain('#PF: supervisor write access in kernel mode');
    expect(dying.log.at(-2)).toBe('Kernel panic - not syncing: Fatal exception');
    expect(find(doc, '#30')).toMatchObject({ number: 30, reason: 'missing expected subtest', line: 366, log: [] });
  });

  it('as modules: the executor prints an empty 1..0 document at boot, then suites with no top-level header', () => {
    const lines = fixture('kunit-modules-x86_64.log');
    const docs = parseKtapAll(lines);
    expect(docs.map((d) => [d.startLine, d.endLine, d.expectedCount, d.tests.length])).toEqual([
      [127, 128, 0, 0],
      [136, 309, undefined, 9],
    ]);
    expect(parseKtap(lines)).toEqual(docs[0]);
    const doc = docs[1]!;
    expect(doc.warnings).toEqual([]);
    expect(allWarnings(doc)).toEqual([]);
    // Suite numbers continue across modules.
    expect(doc.tests.map((t) => `${t.number} ${t.name} ${t.status}`)).toEqual([
      '1 example passed', '2 list-kunit-test passed', '3 hlist passed', '4 time_test_cases passed', '5 fat_test passed',
      '6 kunit-try-catch-test passed', '7 kunit-resource-test passed', '8 kunit-log-test passed', '9 kunit_status passed',
    ]);
    expect(leafCounts({ ...doc.tests[0]!, subtests: doc.tests })).toEqual({ pass: 96, fail: 0, skip: 2 });
    expect(expectKunitTotals(doc.tests)).toBe(7);
    expect(flattenKtap(doc).filter((f) => f.depth === 2)).toHaveLength(22);
    // The init's own console lines carry no timestamp: log of the suite whose module it loads.
    expect(find(doc, 'list-kunit-test').log).toEqual(['tsuite-capture: insmod list-test']);
    expect(find(doc, 'kunit-try-catch-test').log).toEqual(['tsuite-capture: insmod kunit-test']);
  });

  it('as modules, killed by an oops: the open suite crashes; with no top-level plan nothing else is invented', () => {
    const docs = parseKtapAll(fixture('kunit-modules-oops-panic-x86_64.log'));
    expect(docs).toHaveLength(2);
    const doc = docs[1]!;
    expect(doc).toMatchObject({ startLine: 136, endLine: 270, warnings: ['the output ended inside test "tsuite_oops" before its result line'] });
    expect(doc.expectedCount).toBeUndefined();
    expect(doc.tests.map((t) => `${t.number} ${t.name} ${t.status}`)).toEqual(['1 example passed', '2 list-kunit-test passed', '3 hlist passed', '4 tsuite_oops crashed']);
    expect(tree({ ...doc, tests: doc.tests.slice(3) })).toEqual(['tsuite_oops crashed', 'tsuite_oops/tsuite_oops_before passed', 'tsuite_oops/#2 crashed', 'tsuite_oops/#3 crashed']);
    expect(find(doc, 'tsuite_oops/#2').log).toContain('Kernel panic - not syncing: Fatal exception');
    expect(find(doc, 'tsuite_oops').log).toEqual(['tsuite-capture: insmod tsuite_oops_test']);
  });

  it('a real log cut at any line never invents a status: what reported keeps it, the rest is crashed', () => {
    const lines = fixture('kunit-builtin-x86_64.log');
    const full = new Map(flattenKtap(parse(lines)).map((f) => [f.id, f.test.status]));
    const { startLine, endLine } = parse(lines);
    // From the line after the plan `1..29` (line startLine + 1) up to the last result.
    for (let cut = startLine + 2; cut <= endLine; cut++) {
      const doc = parse(lines.slice(0, cut));
      const flat = flattenKtap(doc);
      expect(flat.some((f) => f.test.status === 'crashed')).toBe(true);
      for (const f of flat) if (f.test.status !== 'crashed') expect([cut, f.id, full.get(f.id)]).toEqual([cut, f.id, f.test.status]);
    }
  });
});

/** What must hold for any document, whatever the input was: the broken rules, none when all hold. */
function violations(lines: readonly string[], doc: KtapDocument | undefined): string[] {
  if (!doc) {
    const marker = lines.some((l) => /(KTAP version \d+|TAP version 1[34])\s*$/.test(String(l).trimEnd()));
    return marker ? ['no document although a version line is there'] : [];
  }
  const out: string[] = [];
  if (!(doc.startLine >= 0 && doc.endLine >= doc.startLine && doc.endLine < lines.length)) out.push(`bad range ${doc.startLine}..${doc.endLine}`);
  const flat = flattenKtap(doc);
  if (new Set(flat.map((f) => f.id)).size !== flat.length) out.push('duplicate ids');
  const statuses = new Set(['passed', 'failed', 'skipped', 'crashed', 'timedOut', 'xfail', 'todo', 'error']);
  for (const { id, test } of flat) {
    if (!statuses.has(test.status)) out.push(`${id}: status ${test.status}`);
    if (test.line < doc.startLine || test.line > doc.endLine) out.push(`${id}: line ${test.line} outside the document`);
    // A plan is always met: by results, or by crashed placeholders.
    if (test.expectedCount !== undefined && test.expectedCount <= 1000 && test.subtests.length < test.expectedCount) out.push(`${id}: plan not met`);
    if (test.subtests.some((s) => s.status === 'crashed') && test.status !== 'crashed') out.push(`${id}: a subtest crashed but not it`);
  }
  return out;
}

describe('parseKtap never throws (seeded fuzz)', () => {
  const alphabet = ['KTAP version 1', 'TAP version 14', '1..', '# Subtest: ', 'ok ', 'not ok ', ' # SKIP', ' # TODO', '#', '    ', '  ', '\t', '\n', '\n', '\r\n', '[  1.00] ', '---', '...', 'Bail out!', '\\', '-', '0', '3', 'x'];

  it('on thousands of random byte strings and token soups', () => {
    const rand = mulberry32(0x6b746170);
    let documents = 0;
    const problems: string[] = [];
    for (let n = 0; n < 3000; n++) {
      let text = '';
      const len = Math.floor(rand() * 300);
      for (let i = 0; i < len; i++) {
        const r = rand();
        if (r < 0.45) text += String.fromCharCode(Math.floor(rand() * 256));
        else if (r < 0.5) text += String.fromCharCode(Math.floor(rand() * 0x10000)); // lone surrogates too
        else text += alphabet[Math.floor(rand() * alphabet.length)]!;
      }
      const lines = text.split('\n');
      const doc = parseKtap(lines);
      if (doc) documents++;
      problems.push(...violations(lines, doc).map((v) => `soup ${n}: ${v}`));
    }
    expect(problems).toEqual([]);
    // The token soup really exercises the parser, not only the "no document" path.
    expect(documents).toBeGreaterThan(500);
  });

  it('on random mutations of every fixture, the real KUnit logs first', () => {
    const rand = mulberry32(42);
    const names = [
      'kunit-builtin-x86_64.log', 'kunit-builtin-oops-panic-x86_64.log', 'kunit-modules-x86_64.log', 'kunit-modules-oops-panic-x86_64.log',
      'kunit-builtin-tabs-x86_64.log', 'kunit-modules-tabs-x86_64.log',
      'nested-three-levels.ktap', 'missing-plans.ktap', 'directives.ktap', 'timestamps.log', 'interleaved.log', 'tap14-subtests.tap', 'numbering.ktap',
    ];
    const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const problems: string[] = [];
    for (const name of names) {
      const base = fixture(name);
      for (let n = 0; n < 200; n++) {
        const lines = [...base];
        const edits = 1 + Math.floor(rand() * 6);
        for (let e = 0; e < edits && lines.length > 0; e++) {
          const at = Math.floor(rand() * lines.length);
          switch (Math.floor(rand() * 7)) {
            case 0: lines.splice(at, 1); break;
            case 1: lines.splice(at, 0, pick(base)); break;
            case 2: lines[at] = pick([' ', '\t']).repeat(Math.floor(rand() * 9)) + lines[at]!.trimStart(); break;
            case 3: lines.length = at; break;
            case 4: lines[at] = lines[at]!.replace(/\d+/, String(Math.floor(rand() * 1e6))); break;
            case 5: lines[at] = lines[at]!.slice(0, Math.floor(rand() * lines[at]!.length)); break;
            default: lines.splice(at, 0, String.fromCharCode(...Array.from({ length: 20 }, () => Math.floor(rand() * 256))));
          }
        }
        problems.push(...violations(lines, parseKtap(lines)).map((v) => `${name} #${n}: ${v}`));
        for (const doc of parseKtapAll(lines)) problems.push(...violations(lines, doc).map((v) => `${name} #${n}: ${v}`));
      }
    }
    expect(problems).toEqual([]);
  });

  it('on a test with half a million kernel lines inside it', () => {
    const noise = Array.from({ length: 500_000 }, (_, i) => `[    1.${i}] random kernel message ${i}`);
    const doc = parse(['[    1.0] KTAP version 1', '[    1.0] 1..1', ...noise, '[    2.0] # case: done', '[    2.0] ok 1 case']);
    expect(doc.tests[0]).toMatchObject({ name: 'case', status: 'passed', diagnostics: ['case: done'] });
    expect(doc.tests[0]!.log).toHaveLength(500_000);
  });

  it('on lines built to make a prefix pattern backtrack', () => {
    const prefix = Array.from({ length: 12 }, (_, i) => String(i)).join(' ');
    const digits = '7'.repeat(20_000);
    const doc = parse([`${prefix} KTAP version 1`, `${prefix} 1..1`, digits, ' '.repeat(20_000) + 'x', `${prefix} ok 1 a`]);
    expect(doc.prefix).toBe(`${prefix} `);
    expect(doc.tests[0]).toMatchObject({ name: 'a', status: 'passed', log: [digits, ' '.repeat(20_000) + 'x'] });
  });

  it('on pathological nesting: one level deeper per line', () => {
    const lines = ['KTAP version 1', ...Array.from({ length: 2000 }, (_, i) => `${' '.repeat(i + 1)}KTAP version 1`)];
    const doc = parse(lines);
    expect(flattenKtap(doc)).toHaveLength(2000);
    expect(doc.tests[0]!.status).toBe('crashed');
  });
});
