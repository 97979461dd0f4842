import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RunResult, TestResult } from '../../src/core/result.js';
import { startCli, tempDir, type CliResult } from './cli.js';

/**
 * A kernel team's own suite, in its own repository outside tsuite's (a temporary folder): found by
 * the default glob tsuite/**\/*.suite.ts, listed, and run beside the built-in suites on tsuite's
 * fixture kernel (boots in well under a second), with a custom reporter from a file. One run serves
 * every assertion about the reports.
 */

const SUITE = `import { defineSuite } from 'tsuite';
import { READY } from './banner.js';

export default defineSuite({
  name: 'my-kernel',
  description: "the kernel team's own checks",
  conformance: { itemKind: 'feature', itemDepth: 1, itemOf: (path) => (path[0] === 'features' ? path[1] : undefined) },
  tests: [
    {
      name: 'ready-banner',
      title: 'the kernel prints its ready banner',
      requires: ['console'],
      run: async (ctx) => {
        const m = await ctx.session.console.expect(READY, { timeoutMs: 10_000, signal: ctx.signal });
        ctx.metric({ name: 'banner-line', unit: 'lines', value: m.index + 1, better: 'lower' });
      },
    },
    {
      name: 'ipc-reply',
      title: 'an IPC call gets the right reply',
      run: () => {
        throw new Error('IPC reply was 41, expected 42');
      },
    },
    { name: 'in-a-container', title: 'runs in a container', requires: ['docker'], run: () => undefined },
    {
      name: 'features',
      title: 'one result per kernel feature',
      describeChildren: () => ({ ids: ['features/timer', 'features/fpu'] }),
      run: (ctx) => {
        ctx.emit({ name: 'features/timer', status: 'passed', durationMs: 3 });
        ctx.emit({ name: 'features/fpu', status: 'failed', error: { message: 'no FPU state saved' } });
      },
    },
  ],
});
`;

/** A class reporter, as Playwright allows: one line per result into lines.txt. */
const REPORTER = `import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Reporter, ReporterOptions, RunResult } from 'tsuite';

export default class LinesReporter implements Reporter {
  readonly name = 'lines';
  constructor(private readonly options: ReporterOptions) {}
  onRunEnd(result: RunResult): void {
    const lines = result.tests.map((t) =>
      [t.id, t.status, t.reason ?? t.error?.message ?? '-', t.metrics.map((m) => \`\${m.name}=\${m.value}\`).join(',') || '-'].join(' | '));
    writeFileSync(join(this.options.outputDir, 'lines.txt'), lines.join('\\n') + '\\n');
  }
}
`;

const FILES: Record<string, string> = {
  'tsuite.config.ts': `import { defineConfig } from 'tsuite';
export default defineConfig({
  reporters: ['console', 'json', 'tap', 'junit', './reporters/lines-reporter.ts'],
  targets: { 'qemu-x86': { expectations: './expectations.yaml' } },
});
`,
  'expectations.yaml': '- test: my-kernel/features/fpu\n  reason: no FPU support yet\n',
  'reporters/lines-reporter.ts': REPORTER,
  'tsuite/banner.ts': 'export const READY = /tsuite-fixture: ready/;\n',
  'tsuite/my.suite.ts': SUITE,
  // Not matched by the default glob: loaded only when named with --suite-files.
  'broken/syntax.suite.ts': "import { defineSuite } from 'tsuite';\n\nexport default defineSuite({\n  name: 'broken',\n  tests: [{ name: 'a' run() {} }],\n});\n",
  'broken/missing.suite.ts': "import { defineSuite } from 'tsuite';\nimport { helper } from './no-such-helper.js';\nexport default helper;\n",
  'broken/boot.suite.ts': "export default { name: 'boot', description: 'mine', tests: [{ name: 'x', title: 'x', run() {} }] };\n",
};

function writeRepo(files: Record<string, string>): string {
  const repo = tempDir('kernel-repo');
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(repo, path)), { recursive: true });
    writeFileSync(join(repo, path), text);
  }
  return repo;
}

const inRepo = (repo: string, ...args: string[]) => startCli(args, {}, repo).done;

describe('suites from the kernel repository', () => {
  let repo: string;
  let out: string;
  let list: CliResult;
  let listJson: CliResult;
  let run: CliResult;
  let result: RunResult;
  const byId = () => new Map<string, TestResult>(result.tests.map((t) => [t.id, t]));

  beforeAll(async () => {
    repo = writeRepo(FILES);
    out = join(repo, 'out');
    [list, listJson] = await Promise.all([inRepo(repo, 'list'), inRepo(repo, 'list', '--json', '--suite', 'my-kernel')]);
    // A plain run: every built-in suite but bench, and the user's.
    run = await inRepo(repo, 'run', '--target', 'qemu-x86', '--kernel', 'fixture', '--append', 'ok', '--output-dir', out);
    result = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as RunResult;
  }, 120_000);

  it('lists the user suite, its tests and children, and the file it came from', () => {
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/^boot — /m);
    expect(list.stdout).toContain("my-kernel — the kernel team's own checks  [from tsuite/my.suite.ts]");
    expect(list.stdout).toMatch(/my-kernel\/in-a-container\s+runs in a container\s+\[requires: docker\]/);
    expect(list.stdout).toContain('2 reported below it: my-kernel/features/timer, my-kernel/features/fpu');
    expect(listJson.code, listJson.stderr).toBe(0);
    const rows = JSON.parse(listJson.stdout) as { suite: string; file?: string; tests: { id: string; requires: unknown[]; children?: string[] }[] }[];
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ suite: 'my-kernel', file: join(repo, 'tsuite', 'my.suite.ts') });
    expect(rows[0]!.tests.map((t) => t.id)).toEqual(['my-kernel/ready-banner', 'my-kernel/ipc-reply', 'my-kernel/in-a-container', 'my-kernel/features']);
    expect(rows[0]!.tests[3]!.children).toEqual(['my-kernel/features/timer', 'my-kernel/features/fpu']);
  });

  it('runs it beside the built-in suites: metric, failure, skip, children, expectations, conformance', () => {
    expect(run.code, run.stderr).toBe(1);
    const t = byId();
    expect(t.get('boot/reaches-landmark')?.status).toBe('passed');
    expect(t.get('kernel/fixture/syscall_add')?.status).toBe('passed');
    expect(t.get('my-kernel/ready-banner')).toMatchObject({ status: 'passed', metrics: [{ name: 'banner-line', unit: 'lines', value: 1, better: 'lower' }] });
    expect(t.get('my-kernel/ipc-reply')).toMatchObject({ status: 'failed', error: { message: 'IPC reply was 41, expected 42' } });
    expect(t.get('my-kernel/ipc-reply')?.error?.consoleExcerpt).toContain('tsuite-fixture: ready');
    expect(t.get('my-kernel/in-a-container')).toMatchObject({ status: 'skipped', reason: expect.stringContaining("no 'docker' channel") });
    expect(t.get('my-kernel/features/timer')).toMatchObject({ status: 'passed', suite: 'my-kernel' });
    expect(t.get('my-kernel/features/fpu')).toMatchObject({ status: 'failed', expectation: { outcome: 'expected-failure', reason: 'no FPU support yet' } });
    expect(t.has('my-kernel/features')).toBe(false);
    expect(result.conformance?.['my-kernel']).toMatchObject({
      itemKind: 'feature',
      covered: 2,
      items: [expect.objectContaining({ item: 'timer', status: 'pass' }), expect.objectContaining({ item: 'fpu', status: 'expected-fail' })],
    });
  });

  it('puts the failure, the skip and the metric in every report format', () => {
    const junit = readFileSync(join(out, 'junit.xml'), 'utf8');
    expect(junit).toMatch(/<testcase classname="my-kernel" name="my-kernel\/ready-banner"[^>]*>\s*<properties>\s*<property name="metric:banner-line" value="1 lines"\/>/);
    expect(junit).toMatch(/<testcase classname="my-kernel" name="my-kernel\/ipc-reply"[^>]*>\s*<failure type="failed" message="IPC reply was 41, expected 42"/);
    expect(junit).toMatch(/<testcase classname="my-kernel" name="my-kernel\/in-a-container"[^>]*>\s*<skipped message="[^"]*no &apos;docker&apos; channel|<testcase classname="my-kernel" name="my-kernel\/in-a-container"[^>]*>\s*<skipped message="[^"]*no 'docker' channel/);

    const tap = readFileSync(join(out, 'results.tap'), 'utf8');
    expect(tap).toMatch(/^ok \d+ - my-kernel\/ready-banner\n  ---\n  status: passed\n(?:  .*\n)*  metrics:\n    - \{"name":"banner-line","unit":"lines","value":1,"better":"lower"\}/m);
    expect(tap).toMatch(/^not ok \d+ - my-kernel\/ipc-reply\n  ---\n  status: failed\n  message: "IPC reply was 41, expected 42"/m);
    expect(tap).toMatch(/^ok \d+ - my-kernel\/in-a-container # SKIP .*no 'docker' channel/m);

    expect(run.stdout).toMatch(/✓ my-kernel\/ready-banner.*\n\s+banner-line 1 lines/);
    expect(run.stdout).toMatch(/✗ my-kernel\/ipc-reply.*\n\s+IPC reply was 41, expected 42/);
    expect(run.stdout).toMatch(/- my-kernel\/in-a-container \(skipped: .*no 'docker' channel/);
    expect(run.stdout).toMatch(/my-kernel conformance: 2 features covered/);

    const lines = readFileSync(join(out, 'lines.txt'), 'utf8').split('\n');
    expect(lines).toContain('my-kernel/ready-banner | passed | - | banner-line=1');
    expect(lines).toContain('my-kernel/ipc-reply | failed | IPC reply was 41, expected 42 | -');
    expect(lines.find((l) => l.startsWith('my-kernel/in-a-container | skipped | '))).toMatch(/no 'docker' channel/);
  });

  it('a suite file that does not load is a usage error naming the file and line', async () => {
    const [syntax, missing, clash] = (await Promise.all(
      ['syntax', 'missing', 'boot'].map((name) => inRepo(repo, 'list', '--suite-files', `broken/${name}.suite.ts`)),
    )) as [CliResult, CliResult, CliResult];
    expect(syntax.code).toBe(2);
    expect(syntax.stderr).toContain(`${join(repo, 'broken', 'syntax.suite.ts')}:5:`);
    expect(syntax.stderr).toMatch(/could not load the suite file: Unexpected token/);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`${join(repo, 'broken', 'missing.suite.ts')}:2: could not load the suite file: Cannot find module './no-such-helper.js'`);
    expect(clash.code).toBe(2);
    expect(clash.stderr).toContain(`${join(repo, 'broken', 'boot.suite.ts')}: suite name 'boot' is already taken by the built-in suite 'boot'`);
  });

  it('a repository that installs tsuite type-checks its suite and reporter against the published types', async () => {
    const root = fileURLToPath(new URL('../..', import.meta.url));
    mkdirSync(join(repo, 'node_modules'));
    symlinkSync(root, join(repo, 'node_modules', 'tsuite'));
    writeFileSync(join(repo, 'package.json'), '{ "type": "module" }\n');
    writeFileSync(join(repo, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, skipLibCheck: true, types: ['node'], typeRoots: [join(root, 'node_modules', '@types')] },
      include: ['tsuite', 'reporters', 'tsuite.config.ts', 'typo'],
    }));
    const tsc = (await import('node:module')).createRequire(import.meta.url).resolve('typescript/bin/tsc');
    const check = () => promisify(execFile)(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: repo }).then(() => '', (err: { stdout: string }) => err.stdout);
    expect(await check()).toBe('');
    // The types catch a misspelt requirement and a malformed metric.
    mkdirSync(join(repo, 'typo'));
    writeFileSync(join(repo, 'typo', 'typo.suite.ts'), "import { defineSuite } from 'tsuite';\nexport default defineSuite({ name: 'x', description: 'd', tests: [{ name: 'y', title: 't', requires: ['dockr'], run: (ctx) => ctx.metric({ name: 'm', unit: 'ms', value: 'fast' }) }] });\n");
    const errors = await check();
    expect(errors).toMatch(/typo\.suite\.ts\(2,\d+\): error TS2820: Type '"dockr"' is not assignable to type 'Requirement'/);
    expect(errors).toMatch(/typo\.suite\.ts\(2,\d+\): error TS2322: Type 'string' is not assignable to type 'number'/);
  }, 60_000);

  it('a reporter path that does not exist is a clear error, on the command line and in the config', async () => {
    const flag = await inRepo(repo, 'run', '--target', 'qemu-x86', '--kernel', 'fixture', '--reporter', 'console,./no-such-reporter.ts', '--output-dir', join(repo, 'never'));
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain(`reporter file not found: ${join(repo, 'no-such-reporter.ts')}`);
    writeFileSync(join(repo, 'bad.config.ts'), "export default { reporters: ['json', './reporters/typo.ts', 'htlm'] };\n");
    const config = await inRepo(repo, 'list', '--config', 'bad.config.ts');
    expect(config.code).toBe(2);
    expect(config.stderr).toContain(`reporters[1]: reporter file not found: ${join(repo, 'reporters', 'typo.ts')}`);
    expect(config.stderr).toMatch(/reporters\[2\]: unknown reporter 'htlm'/);
  });
});

/** The README's worked example, on a kernel whose only interface is a prompt: tsuite's fixture kernel in its shell mode. */
const SHELL_SUITE = `import { defineSuite } from 'tsuite';

export default defineSuite({
  name: 'kshell',
  description: "the fixture kernel's shell, checked as a kernel team checks its own",
  tests: [
    {
      name: 'echo-and-ticks',
      title: 'echo answers with its words, and the tick counter advances between commands',
      requires: ['shell'],
      run: async (ctx) => {
        const sh = ctx.session.shell!;
        const echoed = await sh.run('echo hello kernel');
        if (echoed.trim() !== 'hello kernel') throw new Error(\`echo replied '\${echoed}'\`);
        const a = Number(/\\d+/.exec(await sh.run('ticks'))?.[0]);
        const b = Number(/\\d+/.exec(await sh.run('ticks'))?.[0]);
        ctx.metric({ name: 'ticks-between-commands', unit: 'ticks', value: b - a });
        if (!(b > a)) throw new Error(\`ticks did not advance: \${a} then \${b}\`);
      },
    },
    {
      name: 'has-ipc',
      title: 'help lists an ipc command (the fixture has none: this fails)',
      requires: ['shell'],
      run: async (ctx) => {
        const help = await ctx.session.shell!.run('help');
        if (!help.includes('ipc')) throw new Error(\`help lists no ipc command: '\${help.trim()}'\`);
      },
    },
  ],
});
`;

describe('a user suite driving the kernel shell', () => {
  it('types commands at the prompt and checks their output; a wrong expectation fails with the console', async () => {
    const repo = writeRepo({ 'tsuite/kshell.suite.ts': SHELL_SUITE });
    const out = join(repo, 'out');
    const run = await inRepo(repo, 'run', '--target', 'qemu-x86', '--kernel', 'fixture', '--append', 'shell', '--shell-prompt', 'fixture> $',
      '--suite', 'kshell', '--reporter', 'console,json', '--output-dir', out);
    expect(run.code, run.stdout + run.stderr).toBe(1);
    expect(existsSync(join(out, 'results.json')), run.stdout + run.stderr).toBe(true);
    const result = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as RunResult;
    const t = new Map(result.tests.map((x) => [x.id, x]));
    expect(t.get('kshell/echo-and-ticks')).toMatchObject({ status: 'passed', metrics: [{ name: 'ticks-between-commands', unit: 'ticks' }] });
    expect(t.get('kshell/echo-and-ticks')!.metrics[0]!.value).toBeGreaterThan(0);
    expect(t.get('kshell/has-ipc')).toMatchObject({ status: 'failed', error: { message: expect.stringMatching(/^help lists no ipc command: 'commands: help, echo/) } });
    // The prompt is bold (ANSI SGR) on the console; the excerpt and the log keep every byte.
    const plain = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, '');
    expect(plain(t.get('kshell/has-ipc')!.error!.consoleExcerpt!)).toContain('fixture> help');
    const log = plain(readFileSync(join(out, result.tests[0]!.session, 'console.log'), 'utf8'));
    // What was typed and what the kernel answered, in order.
    expect(log).toMatch(/> echo hello kernel\r?\nhello kernel\r?\n.*> ticks\r?\n\d+\r?\n.*> ticks\r?\n\d+\r?\n.*> help\r?\ncommands: /s);
  }, 60_000);
});
