import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { planFor } from '../../src/cli/suite-run.js';
import { resolveTarget } from '../../src/cli/target-options.js';
import type { ResolvedConfig } from '../../src/config/define-config.js';
import { validateConfig } from '../../src/config/load-config.js';
import { ConsoleChannel } from '../../src/channels/console.js';
import { ShellChannel } from '../../src/channels/shell.js';
import { UsageError } from '../../src/core/errors.js';
import type { ShellTestDef } from '../../src/core/shell-test-def.js';
import type { ChildResult, TestContext } from '../../src/core/suite.js';
import type { TargetDef } from '../../src/core/target.js';
import { FIXTURE_SHELL_PROMPT } from '../../kernel/fixture/fixture-protocol.js';
import { planSteps, runShellSteps, testTimeoutMs } from '../../suites/shell/steps.js';
import { shellSuite } from '../../suites/shell/index.js';
import { builtInSuites } from '../../suites/index.js';

/** The captured fixture shell (fixtures/shell/README.md): the boot up to the first prompt, then the reply to `ls`. */
const CAPTURE = readFileSync(new URL('../../fixtures/shell/fixture-shell-x86_64.log', import.meta.url), 'latin1');
const PROMPT = '\x1b[1mfixture>\x1b[0m ';
const [BOOT, , , LS] = CAPTURE.split(PROMPT).map((p) => p + PROMPT);

const FILES: ShellTestDef = {
  name: 'files',
  steps: [
    { expect: 'shell on COM1' },
    { timeout: 500 },
    { send: 'ls' },
    { expect: '^- 31 hello\\.txt$' },
    { notExpect: 'no such file' },
    { send: 'ls' },
    { expect: 'never reached' },
  ],
};

/** A session whose guest answers the first `ls` with its captured reply and then falls silent. */
function context(): { ctx: TestContext; children: ChildResult[] } {
  let answered = false;
  const console: ConsoleChannel = new ConsoleChannel(Date.now(), (text) => {
    if (!text.endsWith('\r')) return;
    const reply = answered ? 'ls\r\n' : LS!;
    answered = true;
    setImmediate(() => console.push(reply));
  });
  console.push(BOOT!);
  const shell = new ShellChannel(console, { prompt: FIXTURE_SHELL_PROMPT });
  const children: ChildResult[] = [];
  const ctx = { session: { console, shell }, signal: new AbortController().signal, emit: (c: ChildResult) => children.push(c) } as unknown as TestContext;
  return { ctx, children };
}

describe('declarative shell steps', () => {
  it('plan one result per send, expect and notExpect, numbered by step, titled by what they check', () => {
    expect(planSteps(FILES).map((p) => [p.name, p.title, p.timeoutMs])).toEqual([
      ['files/1-expect', 'expect /shell on COM1/ in the console since boot', undefined],
      ['files/3-send', "send 'ls'", 500],
      ['files/4-expect', "expect /^- 31 hello\\.txt$/ in the output of 'ls'", 500],
      ['files/5-not-expect', "no /no such file/ in the output of 'ls'", 500],
      ['files/6-send', "send 'ls'", 500],
      ['files/7-expect', "expect /never reached/ in the output of 'ls'", 500],
    ]);
    expect(testTimeoutMs(FILES, 30_000)).toBe(10_000 + 500 + 500);
  });

  it('pass on the real replies, fail a send whose prompt never returns, and skip the steps after it', async () => {
    const { ctx, children } = context();
    await runShellSteps(FILES, ctx);
    expect(children.map((c) => [c.name, c.status])).toEqual([
      ['files/1-expect', 'passed'],
      ['files/3-send', 'passed'],
      ['files/4-expect', 'passed'],
      ['files/5-not-expect', 'passed'],
      ['files/6-send', 'failed'],
      ['files/7-expect', 'skipped'],
    ]);
    const failed = children[4]!;
    expect(failed.error?.message).toMatch(/^step 6 \(send 'ls'\): shell: the prompt after 'ls' \(\/fixture> \$\/m\) did not appear within 500 ms/);
    expect(failed.error?.consoleExcerpt).toMatch(/- 31 hello\.txt\nfixture> ls$/);
    expect(children[5]!.reason).toBe("not run: step 6 (send 'ls') failed, so the shell's state is unknown");
  });

  it('fail an expect that does not match and a notExpect that does, quoting the output', async () => {
    const { ctx, children } = context();
    await runShellSteps({ name: 'bad', steps: [{ send: 'ls' }, { expect: 'goodbye' }, { notExpect: 'hello' }] }, ctx);
    expect(children.map((c) => c.status)).toEqual(['passed', 'failed', 'failed']);
    expect(children[1]!.error?.message).toBe("step 2 (expect /goodbye/): no match in the output of 'ls':\nd 0 etc/\n- 110 etc/motd\n- 31 hello.txt");
    expect(children[2]!.error?.message).toMatch(/^step 3 \(notExpect \/hello\/\): the output of 'ls' matches it:/);
    expect(children[1]!.error?.consoleExcerpt).toContain('tsuite-fixture: shell on COM1');
  });
});

describe('shellTests and shell in the config', () => {
  const known = { knownSuites: ['boot', 'shell'], knownReporters: ['console'] };
  const target = (fields: Record<string, unknown>) => ({ targets: { mine: { runner: 'qemu', arch: 'x86_64', kernel: '/k', ...fields } } });

  it('accept the documented shape', () => {
    const ok = target({
      shell: { prompt: '^/ # $', lineEnding: '\r\n', charDelayMs: 5, echo: false, timeoutMs: 5000 },
      shellTests: [{ name: 'ls-root', title: 'ls', steps: [{ send: 'ls' }, { expect: 'bin' }, { notExpect: 'error' }, { timeout: 100 }] }],
    });
    expect(validateConfig(ok, known)).toEqual([]);
  });

  it('report every mistake at once, each with its path and a fix', () => {
    const problems = validateConfig(target({
      shell: { prompt: '(', lineEnding: '\r\r', promt: 'x' },
      shellTests: [
        { name: 'Bad Name', steps: [] },
        { name: 'two', steps: [{ send: 'ls', expect: 'x' }, {}, { send: 'a\nb' }, { expct: 'x' }] },
        { name: 'two', steps: [{ timeout: -1 }] },
      ],
    }), known);
    expect(problems.map((p) => [p.path, p.message])).toEqual(expect.arrayContaining([
      ['targets.mine.shell.prompt', expect.stringContaining('not a valid regular expression')],
      ['targets.mine.shell.lineEnding', "must be '\\n', '\\r' or '\\r\\n'"],
      ['targets.mine.shell.promt', "unknown key 'promt'"],
      ['targets.mine.shellTests[0].name', expect.stringContaining('kebab-case')],
      ['targets.mine.shellTests[0].steps', 'must hold at least one step'],
      ['targets.mine.shellTests[1].steps[0]', 'a step has exactly one of send, expect, notExpect, timeout; this one has send and expect'],
      ['targets.mine.shellTests[1].steps[1]', 'a step has exactly one of send, expect, notExpect, timeout; this one has none'],
      ['targets.mine.shellTests[1].steps[2].send', expect.stringContaining('must be one line')],
      ['targets.mine.shellTests[1].steps[3].expct', "unknown key 'expct'"],
      ['targets.mine.shellTests[2].steps[0].timeout', expect.stringContaining('positive whole number')],
      ['targets.mine.shellTests[2].name', "'two' is used by an earlier shell test: names must be unique"],
    ]));
    expect(problems.find((p) => p.path.endsWith('.promt'))?.fix).toBe("rename it to 'prompt' or remove it; valid keys here: prompt, lineEnding, charDelayMs, echo, timeoutMs");
    expect(problems.find((p) => p.path.endsWith('.expct'))?.fix).toBe("rename it to 'expect' or remove it; valid keys here: send, expect, notExpect, timeout");
    expect(problems.every((p) => p.fix)).toBe(true);
  });
});

describe('the shell suite in the plan', () => {
  const config = (targets: Record<string, Partial<TargetDef>>): ResolvedConfig =>
    ({ targets, suites: ['boot'], reporters: ['console'], outputDir: '/tmp/x', defaultTarget: 'mine', testTimeoutMs: 60000 }) as unknown as ResolvedConfig;
  const mine: Partial<TargetDef> = { runner: 'qemu', arch: 'x86_64', kernel: '/k', landmark: 'ready' };

  it("holds the target's shellTests, each needing the shell channel, and is chosen with --suite shell", () => {
    const target = resolveTarget(config({ mine: { ...mine, shell: { prompt: '> $' }, shellTests: [FILES] } }), {});
    const plan = planFor(target, ['shell'], undefined, builtInSuites);
    expect(plan.flatMap((s) => s.tests.map((t) => [t.id, t.test.requires]))).toEqual([['shell/files', ['shell']]]);
    expect(shellSuite({ shellTests: [FILES] }).tests[0]!.describeChildren!().ids).toEqual(planSteps(FILES).map((p) => p.name));
  });

  it('refuses --suite shell on a target without shellTests, saying how to add them', () => {
    const target = resolveTarget(config({ mine }), {});
    expect(() => planFor(target, ['shell'], undefined, builtInSuites)).toThrow(UsageError);
    expect(() => planFor(target, ['shell'], undefined, builtInSuites)).toThrow(/target 'mine' has none/);
    // A plain run (every default suite) is not affected: the suite is just empty.
    expect(planFor(target, ['boot', 'shell'], undefined, builtInSuites).flatMap((s) => s.tests.map((t) => t.suite.name))).not.toContain('shell');
  });

  it("gives the fixture kernel's shell mode its prompt, and no KTAP or exit verdict to wait for", () => {
    const shellMode = resolveTarget(config({}), { target: 'qemu-x86', kernel: 'fixture', append: 'shell' }).def;
    expect(shellMode).toMatchObject({ shell: { prompt: FIXTURE_SHELL_PROMPT }, landmark: 'tsuite-fixture: ready' });
    expect(shellMode.ktap).toBeUndefined();
    expect(shellMode.exitSuccessValue).toBeUndefined();
    const ktapMode = resolveTarget(config({}), { target: 'qemu-x86', kernel: 'fixture', append: 'ok' }).def;
    expect(ktapMode).toMatchObject({ ktap: true, exitSuccessValue: 0 });
    expect(ktapMode.shell).toBeUndefined();
  });

  it('--shell-prompt declares the shell; a bad regex is a usage error before any boot', () => {
    expect(resolveTarget(config({ mine }), { shellPrompt: '^fixture> $' }).def.shell).toEqual({ prompt: '^fixture> $' });
    expect(() => resolveTarget(config({ mine }), { shellPrompt: '(' })).toThrow(/--shell-prompt is not a valid regular expression/);
  });
});
