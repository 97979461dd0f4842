import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { create } from 'xmlbuilder2';
import { UsageError } from '../../src/core/errors.js';
import { RESULT_VERSION, summarize, type RunResult, type TestResult } from '../../src/core/result.js';
import { consoleReporter } from '../../src/reporters/console-reporter.js';
import { createReporters, reporters } from '../../src/reporters/index.js';
import { formatJunit } from '../../src/reporters/junit-reporter.js';
import { formatTap } from '../../src/reporters/tap-reporter.js';

const PANIC = [
  'Run /init as init process',
  ...Array.from({ length: 20 }, (_, i) => `[    0.${String(i).padStart(6, '0')}] noise line ${i}`),
  'Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)',
  '  CPU: 0 PID: 1 Comm: swapper/0 Not tainted 6.1.0-18-cloud-amd64 #1 Debian',
  '---[ end Kernel panic - not syncing: VFS: Unable to mount root fs ]---',
].join('\n');

const test = (t: Partial<TestResult> & Pick<TestResult, 'id' | 'status'>): TestResult => ({
  suite: t.id.split('/')[0]!,
  title: t.id.split('/').slice(1).join('/'),
  durationMs: 100,
  metrics: [],
  session: 's1',
  ...t,
});

const tests: TestResult[] = [
  test({
    id: 'boot/reaches-landmark',
    status: 'passed',
    durationMs: 2100,
    metrics: [
      { name: 'boot-time-host', unit: 'ms', value: 2310, better: 'lower' },
      { name: 'getpid', unit: 'ns', samples: [40, 41.25, 43, 39], better: 'lower' },
    ],
  }),
  test({ id: 'boot/flaky-console', status: 'passed', durationMs: 900, retries: 1 }),
  test({
    id: 'boot/cmdline #1 \\ quoted',
    status: 'failed',
    error: { message: 'expected "console=ttyS0" in /proc/cmdline\ngot: "quiet"', consoleExcerpt: PANIC },
  }),
  test({ id: 'gpu/passthrough#vfio', status: 'skipped', durationMs: 0, reason: 'target has no GPU # none attached' }),
  test({
    id: 'syscall/openat',
    status: 'timedOut',
    durationMs: 30_000,
    error: { message: 'no KTAP result within 30s', consoleExcerpt: '  indented first line\n\x1b[0mreset\r\n...\n---' },
  }),
  test({ id: 'containers/run', status: 'infraError', session: 's2', error: { message: 'docker channel refused connection' } }),
];

const fixture: RunResult = {
  version: RESULT_VERSION,
  run: {
    id: 'run-20250101-000000',
    target: 'qemu-x86',
    startedAt: '2025-01-01T00:00:00.000Z',
    finishedAt: '2025-01-01T00:01:00.000Z',
    kernel: { path: '/cache/vmlinuz-6.1.0-18-cloud-amd64', source: 'debian-package', package: 'linux-image-cloud-amd64', version: '6.1.76-1', cmdline: 'console=ttyS0' },
    accel: 'kvm',
    qemuVersion: '8.2.2',
    host: { hostname: 'ci-1', platform: 'linux', arch: 'x64', cpuModel: 'EPYC', cpus: 4, memoryMb: 8192 },
    tsuiteVersion: '0.1.0',
  },
  summary: summarize(tests, 60_000),
  sessions: [{ id: 's1', target: 'qemu-x86', accel: 'kvm', consoleLog: 's1/console.log' }],
  tests,
};

/** The lines of each YAML block, with TAP's 2-space indent removed. */
function yamlBlocks(tap: string): string[][] {
  const blocks: string[][] = [];
  let current: string[] | undefined;
  for (const line of tap.split('\n')) {
    if (line === '  ---') current = [];
    else if (line === '  ...') {
      blocks.push(current!);
      current = undefined;
    } else if (current) {
      expect(line === '' || line.startsWith('  ')).toBe(true);
      current.push(line.slice(2));
    }
  }
  expect(current).toBeUndefined();
  return blocks;
}

describe('formatTap', () => {
  const tap = formatTap(fixture);
  const lines = tap.split('\n');
  const points = lines.filter((l) => /^(not )?ok \d+ /.test(l));

  it('starts with the version and a plan matching the tests', () => {
    expect(lines[0]).toBe('TAP version 14');
    expect(lines[1]).toBe(`1..${tests.length}`);
    expect(points).toHaveLength(tests.length);
    expect(points.map((p) => Number(p.split(' ').at(p.startsWith('not') ? 2 : 1)))).toEqual([1, 2, 3, 4, 5, 6]);
    expect(tap.endsWith('\n')).toBe(true);
  });

  it('maps each status and escapes descriptions', () => {
    expect(points).toEqual([
      'ok 1 - boot/reaches-landmark',
      'ok 2 - boot/flaky-console',
      'not ok 3 - boot/cmdline \\#1 \\\\ quoted',
      'ok 4 - gpu/passthrough\\#vfio # SKIP target has no GPU # none attached',
      'not ok 5 - syscall/openat',
      'not ok 6 - containers/run',
    ]);
  });

  it('writes well-formed YAML diagnostics', () => {
    const blocks = yamlBlocks(tap);
    // The pass with metrics, the retried pass, then the three non-passing tests.
    expect(blocks.map((b) => b[0])).toEqual(['status: passed', 'status: passed', 'status: failed', 'status: timedOut', 'status: infraError']);
    const metrics = blocks[0]!.slice(blocks[0]!.indexOf('metrics:') + 1);
    expect(metrics.map((l) => JSON.parse(l.replace(/^\s*- /, '')))).toEqual(tests[0]!.metrics);
    expect(blocks[1]).toContain('retries: 1');
    const failed = blocks[2]!;
    expect(failed).toContain(`message: ${JSON.stringify('expected "console=ttyS0" in /proc/cmdline\ngot: "quiet"')}`);
    expect(failed).toContain('durationMs: 100');
    const start = failed.indexOf('consoleExcerpt: |');
    expect(start).toBeGreaterThan(0);
    const body = failed.slice(start + 1);
    expect(body.every((l) => l === '' || l.startsWith('  '))).toBe(true);
    expect(body.map((l) => l.slice(2)).join('\n')).toBe(PANIC);
    // A first line starting with spaces needs an explicit indentation indicator; controls are stripped.
    const timedOut = blocks[3]!;
    expect(timedOut).toContain('consoleExcerpt: |2');
    expect(timedOut.join('\n')).not.toMatch(/[\x00-\x08\x0b-\x1f]/);
    expect(timedOut).toContain('    indented first line');
  });

  it('marks interrupted runs and bails out on a run-level infra error', () => {
    const broken = formatTap({ ...fixture, run: { ...fixture.run, interrupted: { signal: 'SIGINT' }, infraError: { message: 'qemu-system-x86_64 not found' } } });
    expect(broken).toContain('# run interrupted by SIGINT: results are partial');
    expect(broken.trimEnd().split('\n').at(-1)).toBe('Bail out! infra error: qemu-system-x86_64 not found');
  });
});

describe('formatJunit', () => {
  type Obj = Record<string, unknown>;
  const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
  const parse = (xml: string) => (create(xml).end({ format: 'object' }) as Obj).testsuites as Obj;

  it('round-trips with the right counts', () => {
    const root = parse(formatJunit(fixture));
    expect(root).toMatchObject({ '@name': 'tsuite', '@tests': '6', '@failures': '2', '@errors': '1', '@skipped': '1', '@time': '60.000' });
    const suites = asArray(root.testsuite as Obj | Obj[]);
    expect(suites.map((s) => [s['@name'], s['@tests'], s['@failures'], s['@errors'], s['@skipped']])).toEqual([
      ['boot', '3', '1', '0', '0'],
      ['gpu', '1', '0', '0', '1'],
      ['syscall', '1', '1', '0', '0'],
      ['containers', '1', '0', '1', '0'],
    ]);
    const cases = suites.flatMap((s) => asArray(s.testcase as Obj | Obj[]));
    const byName = new Map(cases.map((c) => [c['@name'], c]));
    expect(byName.get('boot/reaches-landmark')).toMatchObject({ '@classname': 'boot', '@time': '2.100' });
    const props = asArray((byName.get('boot/reaches-landmark')!.properties as Obj).property as Obj[]);
    expect(props).toContainEqual({ '@name': 'metric:boot-time-host', '@value': '2310 ms' });
    expect(props).toContainEqual({ '@name': 'metric:getpid', '@value': '40.63 ns (p50 of 4)' });
    const failed = byName.get('boot/cmdline #1 \\ quoted')!;
    expect((failed.failure as Obj)['@type']).toBe('failed');
    expect(String((failed.failure as Obj)['#'])).toContain('Kernel panic - not syncing');
    expect(String(failed['system-out'])).toContain('Kernel panic - not syncing');
    expect((byName.get('syscall/openat')!.failure as Obj)['@type']).toBe('timedOut');
    expect((byName.get('containers/run')!.error as Obj)['@type']).toBe('infraError');
    expect((byName.get('gpu/passthrough#vfio')!.skipped as Obj)['@message']).toBe('target has no GPU # none attached');
  });

  it('reports a run-level infra error as an error, not an empty green run', () => {
    const xml = formatJunit({ ...fixture, tests: [], summary: summarize([], 0), run: { ...fixture.run, infraError: { message: 'no QEMU', fix: 'apt install qemu-system-x86' } } });
    expect(parse(xml)).toMatchObject({ '@tests': '1', '@errors': '1' });
  });
});

describe('file reporters', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('json writes results.json that parses back to the model, leaving no temp files', async () => {
    dir = await mkdtemp(join(tmpdir(), 'tsuite-reporters-'));
    const outputDir = join(dir, 'reports', 'run-1');
    for (const r of createReporters(['json', 'tap', 'junit'], { outputDir })) await r.onRunEnd?.(fixture);
    const text = await readFile(join(outputDir, 'results.json'), 'utf8');
    expect(JSON.parse(text)).toEqual(fixture);
    expect(text.endsWith('}\n')).toBe(true);
    expect((await readdir(outputDir)).sort()).toEqual(['junit.xml', 'results.json', 'results.tap']);
    expect(await readFile(join(outputDir, 'results.tap'), 'utf8')).toBe(formatTap(fixture));
  });
});

describe('console reporter', () => {
  async function render(isTTY: boolean, result: RunResult = fixture): Promise<string> {
    const stream = Object.assign(new PassThrough(), { isTTY, columns: 100 });
    let text = '';
    stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
    const r = consoleReporter({ outputDir: 'reports/run-1', stream });
    await r.onRunStart?.(result.run);
    await r.onSessionStart?.(result.sessions[0]!);
    for (const t of result.tests) {
      await r.onTestStart?.({ id: t.id, suite: t.suite, title: t.title, session: t.session });
      await r.onTestEnd?.(t);
    }
    await r.onRunEnd?.(result);
    return text;
  }

  it('writes plain lines without escape codes off a TTY', async () => {
    const out = await render(false);
    expect(out).not.toMatch(/\x1b|\r/);
    for (const t of tests) expect(out).toContain(t.id);
    expect(out).toContain('qemu-x86');
    expect(out).toContain('/cache/vmlinuz-6.1.0-18-cloud-amd64 (debian-package');
    expect(out).toContain('accel: kvm');
    expect(out).toContain('  ✓ boot/reaches-landmark (2.1s)');
    expect(out).toContain('boot-time-host 2310 ms');
    expect(out).toContain('[passed on retry 1]');
    expect(out).toContain('  - gpu/passthrough#vfio (skipped: target has no GPU # none attached)');
    expect(out).toContain('[timedOut]');
    expect(out).toContain('[infraError]');
    expect(out).toContain('Kernel panic - not syncing');
    // Only the tail of the console: the first line of the excerpt is cut.
    expect(out).not.toContain('Run /init as init process');
    expect(out).toMatch(/2 passed, 1 failed, 1 skipped, 1 timedOut, 1 infraError \(6 tests\) in 1m00s/);
    expect(out).toContain('output: reports/run-1');
    expect(out.split('\n').filter((l) => l.includes('boot/reaches-landmark'))).toHaveLength(1);
  });

  it('says when the run was interrupted or the harness failed', async () => {
    const out = await render(false, {
      ...fixture,
      run: { ...fixture.run, interrupted: { signal: 'SIGINT' }, infraError: { message: 'no QEMU', fix: 'apt install qemu-system-x86' } },
    });
    expect(out).toContain('run interrupted by SIGINT: results are partial');
    expect(out).toContain('no QEMU');
    expect(out).toContain('fix: apt install qemu-system-x86');
  });

  it('folds a suite skipped for one reason into one line, and its matrix into one row', async () => {
    const skipped = ['engine-ping', 'engine-info', 'logs-follow'].map((n) =>
      test({ id: `containers/${n}`, status: 'skipped', durationMs: 0, reason: "target offers no 'docker' channel" }));
    const list = [...skipped, test({ id: 'containers/other', status: 'skipped', durationMs: 0, reason: 'something else' })];
    const items = ['engine', 'logs'].map((item) => ({ item, status: 'skip' as const, passed: 0, failed: 0, skipped: 2, reasons: ["target offers no 'docker' channel"] }));
    const out = await render(false, { ...fixture, tests: list, summary: summarize(list, 0), conformance: { containers: { itemKind: 'area', covered: 0, items } } });
    expect(out).toContain("  - containers: 3 skipped (target offers no 'docker' channel)");
    expect(out).toContain('  - containers/other (skipped: something else)');
    expect(out).not.toContain('containers/engine-ping');
    expect(out).toContain("    skip          every area (target offers no 'docker' channel)");
  });

  describe('a session whose tests could not run', () => {
    const TRIPLE_FAULT = 'the machine ended (guest reset (reboot or triple fault)) before the boot landmark /tsuite-fixture: exit/';
    const EXCERPT = 'tsuite-fixture: ready\nKTAP version 1\n    ok 1 memory_walking_ones\ntsuite-fixture: raising a triple fault';
    const session = { id: 's1', target: 'qemu-x86', accel: 'tcg' as const, consoleLog: 's1/console.log' };

    /** Drives the hooks in dispatch's order: skips decided before the boot, then the session and its tests that never started. */
    async function renderNotRun(results: TestResult[], ended: typeof fixture.sessions[0], skipped: TestResult[] = []): Promise<string> {
      const stream = Object.assign(new PassThrough(), { isTTY: false });
      let text = '';
      stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
      const r = consoleReporter({ outputDir: 'reports/run-1', stream });
      await r.onRunStart?.(fixture.run);
      for (const t of skipped) await r.onTestEnd?.(t);
      await r.onSessionStart?.(session);
      for (const t of results) await r.onTestEnd?.(t);
      await r.onSessionEnd?.(ended);
      const all = [...skipped, ...results];
      await r.onRunEnd?.({ ...fixture, tests: all, summary: summarize(all, 3000), sessions: [ended] });
      return text;
    }

    it('a boot failure is shown once, with its console excerpt, then one line per suite of tests that could not run', async () => {
      const error = { message: TRIPLE_FAULT, consoleExcerpt: EXCERPT };
      const crashed = [
        ...['reaches-landmark', 'boot-time', 'no-kernel-errors', 'cmdline', 'cpus', 'memory', 'arch'].map((n) => test({ id: `boot/${n}`, status: 'crashed', durationMs: 0, error })),
        test({ id: 'kernel/ktap', status: 'crashed', durationMs: 0, error }),
      ];
      const noAgent = "target 'qemu-x86' offers no 'agent' channel (agent: true in its config, or --agent)";
      const skipped = ['attempts', 'kernel-health'].map((n) => test({ id: `isolation/${n}`, status: 'skipped', durationMs: 0, reason: noAgent }));
      const out = await renderNotRun(crashed, { ...session, bootFailure: { status: 'crashed', ...error } }, skipped);
      const lines = out.split('\n');
      expect(lines.filter((l) => l.includes('triple fault)) before'))).toEqual([`  ✗ boot failed [crashed]: ${TRIPLE_FAULT}`]);
      expect(lines.filter((l) => l.includes('raising a triple fault'))).toEqual(['      | tsuite-fixture: raising a triple fault']);
      expect(out).toContain('  ✗ boot: 7 not run (crashed: the boot failed)\n  ✗ kernel: 1 not run (crashed: the boot failed)\n');
      expect(out).not.toContain('boot/cpus');
      expect(out).toContain(`  - isolation: 2 skipped (${noAgent})`);
      // The failure comes after the skips decided before the boot, and before the summary.
      expect(out.indexOf('isolation: 2 skipped')).toBeLessThan(out.indexOf('boot failed'));
      expect(out).toMatch(/FAIL 2 skipped, 8 crashed \(10 tests\)/);
    });

    it('a harness failure before any test started reads the same way, without calling it a boot failure', async () => {
      const error = { message: 'qemu-system-x86_64 is not installed\n  fix: run `npx tsuite setup`' };
      const out = await renderNotRun(['reaches-landmark', 'cpus'].map((n) => test({ id: `boot/${n}`, status: 'infraError', durationMs: 0, error })), session);
      expect(out).toContain('  ! not run [infraError]: qemu-system-x86_64 is not installed\n        fix: run `npx tsuite setup`\n  ! boot: 2 not run (infraError: see above)\n');
      expect(out).not.toContain('boot failed');
    });

    it('tests that ran are still shown one by one', async () => {
      const stream = Object.assign(new PassThrough(), { isTTY: false });
      let text = '';
      stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
      const r = consoleReporter({ outputDir: 'reports/run-1', stream });
      await r.onSessionStart?.(session);
      for (const n of ['a', 'b']) {
        await r.onTestStart?.({ id: `boot/${n}`, suite: 'boot', title: n, session: 's1' });
        await r.onTestEnd?.(test({ id: `boot/${n}`, status: 'failed', error: { message: 'same assertion' } }));
      }
      await r.onSessionEnd?.(session);
      expect(text).toContain('  ✗ boot/a (0.1s)\n      same assertion\n  ✗ boot/b (0.1s)\n      same assertion\n');
    });
  });

  it('rewrites a live status line on a TTY', async () => {
    const out = await render(true);
    expect(out).toContain('\r\x1b[2K');
    expect(out).toContain('… boot/reaches-landmark');
  });
});

describe('createReporters', () => {
  it('builds the named reporters', () => {
    expect(Object.keys(reporters)).toEqual(['console', 'json', 'tap', 'junit']);
    expect(createReporters(['console', 'json'], { outputDir: 'x', stream: new PassThrough() }).map((r) => r.name)).toEqual(['console', 'json']);
  });

  it('rejects an unknown name with the valid ones', () => {
    const attempt = () => createReporters(['console', 'html'], { outputDir: 'x' });
    expect(attempt).toThrow(UsageError);
    expect(attempt).toThrow(/unknown reporter "html".*console, json, tap, junit/);
    try {
      attempt();
    } catch (err) {
      expect((err as UsageError).fix).toBe('--reporter console,json,tap,junit or --reporter ./my-reporter.ts');
    }
  });
});
