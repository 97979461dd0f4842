import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildFixtureShellDisks, type FixtureShellDisks } from '../../kernel/fixture/build-shell-disks.js';
import { FIXTURE_LANDMARK, FIXTURE_PANIC_PATTERN, FIXTURE_SHELL_PROMPT } from '../../kernel/fixture/fixture-protocol.js';
import { createProgress } from '../../src/core/progress.js';
import type { RunResult, TestResult } from '../../src/core/result.js';
import { tempDir, tsuite } from './cli.js';

/**
 * A kernel that is neither Linux nor driven by tsuite's protocols: the fixture kernel in its
 * `shell` mode, booted by GRUB under SeaBIOS from the first of two IDE disks, reading its files
 * from the second (a ustar archive), with a prompt on COM1 and no power-off or exit device. Through
 * the built CLI and a config file it gets the shell channel, runs declarative shell tests and a
 * suite of the kernel team's own over it, and is stopped by tsuite when the last test is done.
 * Two boots: the passing run, and the same declarative test with its expect changed.
 */

const quiet = createProgress(process.stderr, true);
const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const results = (dir: string) => JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as RunResult;

/** The config, with the `expect` of `files` step 2 as given: the second run changes it. */
const config = (disks: FixtureShellDisks, lsExpect: string) => `import { defineConfig } from 'tsuite';

export default defineConfig({
  defaultTarget: 'fixture-shell',
  suites: ['shell', 'fixture-shell-api'],
  targets: {
    'fixture-shell': {
      runner: 'qemu',
      arch: 'x86_64',
      memoryMb: 128,
      bootTimeoutMs: 60000,
      landmark: ${JSON.stringify(FIXTURE_LANDMARK)},
      panicPatterns: [${JSON.stringify(FIXTURE_PANIC_PATTERN)}],
      machine: {
        drives: [
          { file: ${JSON.stringify(disks.boot)}, interface: 'ide' },
          { file: ${JSON.stringify(disks.data)}, interface: 'ide' },
        ],
      },
      shell: { prompt: ${JSON.stringify(FIXTURE_SHELL_PROMPT)}, lineEnding: '\\r', timeoutMs: 10000 },
      shellTests: [
        {
          name: 'files',
          title: 'the filesystem on the second IDE disk',
          steps: [
            { send: 'ls' },
            { expect: ${JSON.stringify(lsExpect)} },
            { send: 'cat hello.txt' },
            { expect: '^hello from the second IDE disk$' },
            { notExpect: 'no such file' },
          ],
        },
        {
          name: 'machine',
          title: 'the machine as the kernel sees it',
          steps: [
            { timeout: 5000 },
            { send: 'disks' },
            { expect: '^ata0 primary master: QEMU HARDDISK' },
            { expect: '^ata1 primary slave: QEMU HARDDISK, \\\\d+ sectors .*ustar filesystem$' },
            { send: 'pci' },
            { expect: '^00:01\\\\.1 8086:7010 class 01\\\\.01' },
          ],
        },
      ],
    },
  },
});
`;

/** A suite of the kernel team's own, driving the shell through the public API. */
const SUITE = `import assert from 'node:assert/strict';
import { defineSuite } from 'tsuite';

export default defineSuite({
  name: 'fixture-shell-api',
  description: 'the fixture shell driven from TypeScript',
  tests: [
    {
      name: 'commands',
      title: 'echo, mem and uptime answer as the machine was set up',
      requires: ['shell'],
      async run({ session, metric }) {
        const shell = session.shell!;
        assert.equal(await shell.run('echo hello from tsuite'), 'hello from tsuite');
        const mem = await shell.run('mem');
        const upper = Number(/^mem: lower 639 KiB, upper (\\d+) KiB$/m.exec(mem)?.[1]);
        // 128 MiB given: all but the first MiB and the BIOS's top 128 KiB are upper memory.
        assert.ok(upper > 120 * 1024 && upper < 128 * 1024, mem);
        const first = Number(/\\((\\d+) ticks/.exec(await shell.run('uptime'))?.[1]);
        const second = Number(/\\((\\d+) ticks/.exec(await shell.run('uptime'))?.[1]);
        assert.ok(second > first, \`ticks went from \${first} to \${second}\`);
        metric({ name: 'ticks-between-commands', unit: 'ticks', value: second - first, better: 'lower' });
        assert.match(await shell.run('poweroff'), /^poweroff: unknown command/);
      },
    },
  ],
});
`;

let disks: FixtureShellDisks;
let repo: string;
const before: Record<string, string> = {};

beforeAll(async () => {
  disks = await buildFixtureShellDisks(quiet);
  before.boot = sha256(disks.boot);
  before.data = sha256(disks.data);
  repo = tempDir('shell-kernel');
  mkdirSync(join(repo, 'tsuite'));
  writeFileSync(join(repo, 'tsuite', 'shell-api.suite.ts'), SUITE);
  writeFileSync(join(repo, 'tsuite.config.ts'), config(disks, '^- 31 hello\\.txt$'));
  writeFileSync(join(repo, 'changed.config.ts'), config(disks, '^- 31 goodbye\\.txt$'));
}, 120_000);

const byId = (r: RunResult) => new Map<string, TestResult>(r.tests.map((t) => [t.id, t]));

describe('a kernel with a shell on its serial port, booted from two IDE disks', () => {
  it('lists the declarative shell tests of the config, one result per step', async () => {
    const run = await tsuite('list', '--config', join(repo, 'tsuite.config.ts'), '--suite', 'shell', '--json');
    expect(run.code, run.stderr).toBe(0);
    const [shell] = JSON.parse(run.stdout) as { suite: string; tests: { id: string; requires: string[]; children: string[] }[] }[];
    expect(shell!.tests.map((t) => [t.id, t.requires, t.children])).toEqual([
      ['shell/files', ['shell'], ['shell/files/1-send', 'shell/files/2-expect', 'shell/files/3-send', 'shell/files/4-expect', 'shell/files/5-not-expect']],
      ['shell/machine', ['shell'], ['shell/machine/2-send', 'shell/machine/3-expect', 'shell/machine/4-expect', 'shell/machine/5-send', 'shell/machine/6-expect']],
    ]);
  });

  it('runs shell commands through the shell channel and stops the machine itself after the last test', async () => {
    const out = tempDir('shell-kernel-run');
    const started = Date.now();
    const run = await tsuite('run', '--config', join(repo, 'tsuite.config.ts'), '--output-dir', out);
    const r = results(out);
    const tests = byId(r);
    const notPassed = r.tests.filter((t) => t.status !== 'passed').map((t) => `${t.id}: ${t.status} ${t.error?.message ?? t.reason ?? ''}`);
    expect(notPassed, run.stdout + run.stderr).toEqual([]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect([...tests.keys()].sort()).toEqual([
      'fixture-shell-api/commands',
      'shell/files/1-send', 'shell/files/2-expect', 'shell/files/3-send', 'shell/files/4-expect', 'shell/files/5-not-expect',
      'shell/machine/2-send', 'shell/machine/3-expect', 'shell/machine/4-expect', 'shell/machine/5-send', 'shell/machine/6-expect',
    ]);
    expect(tests.get('shell/files/4-expect')?.title).toBe("expect /^hello from the second IDE disk$/ in the output of 'cat hello.txt'");
    expect(tests.get('fixture-shell-api/commands')?.metrics[0]?.value).toBeGreaterThan(0);

    // Ended by tsuite, on purpose: not a crash, not a failure.
    expect(r.sessions).toHaveLength(1);
    expect(r.sessions[0]!.exit).toEqual({ kind: 'stopped', detail: "tsuite stopped the machine after the session's last test: the kernel has no power-off" });
    expect(r.run.kernel).toMatchObject({ source: 'drives', path: disks.boot });
    expect(r.sessions[0]!.machine?.drives.map((d) => [d.file, d.interface])).toEqual([[disks.boot, 'ide'], [disks.data, 'ide']]);

    // Every byte typed and read is in console.log: the kernel echoes what it is typed.
    const log = readFileSync(join(out, r.sessions[0]!.consoleLog), 'utf8');
    expect(log).toContain('tsuite-fixture: filesystem: ustar on ata1 (primary slave)');
    for (const command of ['ls', 'cat hello.txt', 'disks', 'pci', 'echo hello from tsuite', 'mem', 'uptime', 'poweroff']) {
      expect(log).toContain(`\x1b[1mfixture>\x1b[0m ${command}\r\n`);
    }
    expect(log).toContain('hello from the second IDE disk\r\n');
    // The disks were never written.
    expect(sha256(disks.boot)).toBe(before.boot);
    expect(sha256(disks.data)).toBe(before.data);
    expect(Date.now() - started).toBeLessThan(90_000);
  }, 180_000);

  it('fails a changed expect with the step named and the console excerpt, and runs the other steps', async () => {
    const out = tempDir('shell-kernel-changed');
    const run = await tsuite('run', '--config', join(repo, 'changed.config.ts'), '--suite', 'shell', '--output-dir', out);
    expect(run.code, run.stdout + run.stderr).toBe(1);
    const r = results(out);
    const failed = r.tests.filter((t) => t.status !== 'passed');
    expect(failed.map((t) => t.id)).toEqual(['shell/files/2-expect']);
    const { error } = failed[0]!;
    expect(error?.message).toBe("step 2 (expect /^- 31 goodbye\\.txt$/): no match in the output of 'ls':\nd 0 etc/\n- 110 etc/motd\n- 31 hello.txt");
    expect(error?.consoleExcerpt).toMatch(/fixture> ls\n(.|\n)*- 31 hello\.txt/);
    expect(r.tests.filter((t) => t.status === 'passed')).toHaveLength(9);
    expect(r.sessions[0]!.exit?.kind).toBe('stopped');
    // The console reporter shows the failing step and its excerpt.
    expect(run.stdout).toContain('shell/files/2-expect');
    expect(run.stdout).toContain('- 31 hello.txt');
  }, 180_000);
});
