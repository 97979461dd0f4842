import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { LogRecord, StepRecord } from '../../src/bisect/bisect-log.js';
import { classifyBracketed } from '../../src/bisect/metric-verdict.js';
import type { RunResult } from '../../src/core/result.js';
import { expectedSteps } from '../../src/bisect/search.js';
import { FIXTURE_CFLAGS, FIXTURE_LDFLAGS, fixtureSourceDir } from '../../kernel/fixture/build-fixture-kernel.js';
import { startCli, tempDir, tsuite } from './cli.js';

/**
 * `tsuite bisect --test` over a generated history of the fixture kernel: twelve commits, one of
 * which breaks the syscall_add self-test (its handler-call count expectation changes), and one
 * before it that does not compile (fixed by the next), where the search first looks: it must be skipped.
 */

let src: string;
let breaking: string;
let broken: string;
let commits: string[];
const git = (...args: string[]) => execFileSync('git', ['-C', src, '-c', 'user.email=t@t', '-c', 'user.name=t', ...args], { encoding: 'utf8' });
const commit = (subject: string) => {
  git('add', '-A');
  git('commit', '-qm', subject);
  return git('rev-parse', 'HEAD').trim();
};

/** The fixture kernel's sources in `dir`, with a Makefile as a kernel team's tree would have. */
function fixtureTree(dir: string): void {
  cpSync(fixtureSourceDir(), dir, { recursive: true, filter: (f) => !/\.(ts|md)$/.test(f) });
  const units = readdirSync(dir).filter((f) => /\.(c|S)$/.test(f));
  const objects = units.map((u) => u.replace(/\.(c|S)$/, '.o'));
  writeFileSync(join(dir, 'Makefile'), [
    `fixture.elf: ${objects.join(' ')} linker.ld`,
    `\tld ${FIXTURE_LDFLAGS.join(' ')} -T linker.ld -o $@ ${objects.join(' ')}`,
    ...units.map((u, i) => `${objects[i]}: ${u} $(wildcard *.h)\n\tgcc ${FIXTURE_CFLAGS.join(' ')} -c $< -o $@`),
    '',
  ].join('\n'));
  writeFileSync(join(dir, '.gitignore'), '*.o\nfixture.elf\n');
}

beforeAll(() => {
  src = tempDir('bisect-src');
  fixtureTree(src);
  git('init', '-q');
  commits = [commit('fixture kernel')];
  const note = (i: number) => writeFileSync(join(src, 'CHANGES'), `change ${i}\n`, { flag: 'a' });
  const selftests = join(src, 'selftests.c');
  const original = readFileSync(selftests, 'utf8');
  for (let i = 2; i <= 12; i++) {
    if (i === 6) {
      writeFileSync(selftests, `${original}\nthis is not C;\n`);
      broken = commit('selftests: half-finished edit (does not build)');
    } else if (i === 7) {
      writeFileSync(selftests, original);
      commit('selftests: finish the edit');
    } else if (i === 8) {
      if (!original.includes('calls != 5')) throw new Error('selftests.c no longer checks `calls != 5`: update this test');
      writeFileSync(selftests, original.replace('calls != 5', 'calls != 6'));
      breaking = commit('syscall: count the handler calls differently');
    } else {
      note(i);
      commit(`notes: change ${i}`);
    }
    commits.push(git('rev-parse', 'HEAD').trim());
  }
});

const args = (out: string) => ['bisect', '--good', commits[0]!, '--bad', commits[11]!, '--kernel-src', src, '--build', 'make', '--kernel-artifact', 'fixture.elf',
  '--target', 'qemu-x86', '--landmark', 'tsuite-fixture: ready', '--ktap', '--exit-success', '0', '--append', 'ok', '--test', 'kernel/fixture/syscall_add', '--output-dir', out];

const readLog = (out: string) => readFileSync(join(out, 'bisect.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as LogRecord);
/** When a boot of a time-mode step began: its folders are named by label (`boot`, later `more<k>`; `pair` for the endpoints), number and kernel. */
function bootStart(stepDir: string, i: number, which: string): number {
  const name = readdirSync(stepDir).find((d) => new RegExp(`^(boot|more\\d+|pair)-${i}-${which}$`).test(d));
  if (!name) throw new Error(`no boot ${i}-${which} in ${stepDir}: ${readdirSync(stepDir).join(', ')}`);
  return Date.parse((JSON.parse(readFileSync(join(stepDir, name, 'results.json'), 'utf8')) as RunResult).run.startedAt);
}
const steps = (log: LogRecord[]) => log.filter((r): r is StepRecord => r.kind === 'step');

describe('tsuite bisect --test', () => {
  it('names the commit that broke the test, skipping the one that does not build; Ctrl-C keeps the log and a rerun continues', async () => {
    const out = tempDir('bisect-run');
    const head = git('rev-parse', 'HEAD').trim();
    // Interrupted once the first step is logged.
    const first = startCli(args(out));
    let sent = false;
    first.child.stdout!.on('data', () => {
      if (!sent && existsSync(join(out, 'bisect.jsonl')) && steps(readLog(out)).length >= 1) {
        sent = true;
        first.child.kill('SIGINT');
      }
    });
    const cut = await first.done;
    expect(cut.code, cut.stdout + cut.stderr).toBe(130);
    expect(cut.stdout).toMatch(/interrupted: the finished steps are kept/);
    expect(existsSync(join(out, 'worktree'))).toBe(false);
    const kept = steps(readLog(out)).length;
    expect(kept).toBeGreaterThanOrEqual(1);

    const run = await tsuite(...args(out));
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain(`first bad commit for test kernel/fixture/syscall_add: ${breaking} syscall: count the handler calls differently`);
    expect(run.stdout).toMatch(/evidence: .*: bad \(failed: .*handler counted 5 call\(s\)/);
    expect(run.stdout).toContain('(from the log)');
    const log = readLog(out);
    const all = steps(log);
    // Each commit tested once across both runs, within log2 + 2 steps.
    expect(new Set(all.map((s) => s.commit)).size).toBe(all.length);
    expect(all.length).toBeLessThanOrEqual(expectedSteps(11) + 2);
    expect(log.at(-1)).toMatchObject({ kind: 'end', outcome: 'found', commit: breaking });
    // The first midpoint is the commit that does not build: skipped, with the build's error.
    expect(all.find((s) => s.commit === broken)).toMatchObject({ verdict: 'skip', evidence: { status: 'build-failed', message: expect.stringContaining('selftests.c') } });
    expect(run.stdout).toMatch(/half-finished edit \(does not build\): skip \(build-failed: .*error:/);
    for (const s of all.filter((x) => x.verdict !== 'skip')) expect(s.verdict).toBe(commits.indexOf(s.commit) >= commits.indexOf(breaking) ? 'bad' : 'good');
    // The user's checkout is untouched and the private worktree is gone.
    expect(git('rev-parse', 'HEAD').trim()).toBe(head);
    expect(git('status', '--porcelain').trim()).toBe('');
    expect(git('worktree', 'list').trim().split('\n')).toHaveLength(1);
    expect(existsSync(join(out, 'worktree'))).toBe(false);
  }, 240_000);
});

/**
 * `tsuite bisect --metric` over a second history: the first commit adds a timed loop to the
 * fixture kernel (rdtsc around it, which QEMU's icount makes a count of guest instructions) and a
 * benchmark suite that reads the figure from the console; one commit makes the loop do 30% more
 * work, an earlier one 3% more (closer to good: good).
 */
const BENCH_SUITE = `import { defineSuite } from 'tsuite';
export default defineSuite({
  name: 'fixture-loop',
  description: "the fixture kernel's timed loop",
  explicit: true,
  benchmarks: true,
  tests: [{
    name: 'loop',
    title: 'the timed loop',
    requires: ['console'],
    run: async (ctx) => {
      const m = await ctx.session.console.expect(/tsuite-fixture: bench loop (\\d+)/, { timeoutMs: 30000, signal: ctx.signal });
      ctx.metric({ name: 'loop/work', unit: 'ns', better: 'lower', samples: [Number(m.match[1])] });
    },
  }],
});
`;

const LOOP = (work: number) => `
    {
        static volatile uint32_t sink;
        uint32_t t0, t1, hi;
        __asm__ volatile("rdtsc" : "=a"(t0), "=d"(hi));
        for (uint32_t i = 0; i < ${work}u; i++)
            sink = sink * 31u + i;
        __asm__ volatile("rdtsc" : "=a"(t1), "=d"(hi));
        report_line("tsuite-fixture: bench loop %u", t1 - t0);
    }
`;

/** Time mode's loop: long enough under TCG that the loop, not the host's scheduling, makes the figure. */
const LOOP_TIME_WORK = 100_000_000;
/** The slow commit: how much more work its loop does, and its subject. 1.339x the work is 30% more time (the boot around it is fixed). */
const SLOWER_30 = { work: 1.339, subject: 'loop: 30% more work' };
/**
 * In real time the slow commit doubles the work. This project's 2-core CI host has had spells where
 * every other boot ran 1.65x slower (another job's load): a 30% change is then rightly left unsure
 * (a skip, no answer), while this test is about time mode's mechanics, not its resolution.
 */
const SLOWER_2X = { work: 2, subject: 'loop: twice the work' };

/**
 * A git history of the fixture kernel with the timed loop in `repo/kernel` (the bench suite in
 * `repo/tsuite`): `count` commits, the first with `work` loop iterations; commit `small` (1-based)
 * adds 3% more work, commit `slow` 30% more; the others only add notes.
 */
function loopHistory(repo: string, count: number, small: number, slow: number, work: number, slowdown = SLOWER_30): { history: string[]; slower: string } {
  src = join(repo, 'kernel');
  fixtureTree(src);
  const main = join(src, 'main.c');
  const original = readFileSync(main, 'utf8');
  const anchor = '    report_line("tsuite-fixture: cmdline: %s", cmdline);\n';
  if (!original.includes(anchor)) throw new Error('main.c no longer prints its cmdline line: update this test');
  const withLoop = (w: number) => writeFileSync(main, original.replace(anchor, anchor + LOOP(w)));
  git('init', '-q');
  withLoop(work);
  const history = [commit('fixture kernel with a timed loop')];
  let slower = '';
  for (let i = 2; i <= count; i++) {
    if (i === small) withLoop(Math.round(work * 1.03));
    else if (i === slow) withLoop(Math.round(work * slowdown.work));
    else writeFileSync(join(src, 'CHANGES'), `change ${i}\n`, { flag: 'a' });
    history.push(commit(i === small ? 'loop: 3% more work' : i === slow ? slowdown.subject : `notes: change ${i}`));
    if (i === slow) slower = history.at(-1)!;
  }
  mkdirSync(join(repo, 'tsuite'));
  writeFileSync(join(repo, 'tsuite', 'loop.suite.ts'), BENCH_SUITE);
  return { history, slower };
}

const metricArgs = (history: readonly string[], out: string) => ['bisect', '--good', history[0]!, '--bad', history.at(-1)!, '--kernel-src', src, '--build', 'make',
  '--kernel-artifact', 'fixture.elf', '--target', 'qemu-x86', '--landmark', 'tsuite-fixture: ready', '--append', 'ok', '--accel', 'tcg',
  '--suite', 'fixture-loop', '--metric', 'loop/work', '--output-dir', out];

describe('tsuite bisect --metric', () => {
  it('names the commit that makes the measured loop 30% slower, in instruction mode', async () => {
    const repo = tempDir('bisect-metric');
    const { history, slower } = loopHistory(repo, 12, 4, 9, 2_000_000);
    const out = join(repo, 'out');
    const run = await startCli([...metricArgs(history, out), '--clock', 'instructions'], {}, repo).done;
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain(`first bad commit for metric loop/work: ${slower} loop: 30% more work`);
    const log = readLog(out);
    const all = steps(log);
    const endpoints = all.filter((s) => s.role);
    expect(endpoints.map((s) => s.role)).toEqual(['good-endpoint', 'bad-endpoint']);
    const [g, b] = endpoints.map((s) => s.evidence.samples!);
    // Instruction counts: two boots of one kernel agree, and the loop's 30% shows.
    expect(Math.abs(g![0]! - g![1]!) / g![0]!).toBeLessThan(0.001);
    expect(b![0]! / g![0]!).toBeGreaterThan(1.25);
    const search = all.filter((s) => !s.role);
    expect(search.length).toBeLessThanOrEqual(expectedSteps(11) + 2);
    for (const s of search) {
      expect(s.evidence.samples).toHaveLength(1);
      expect(s.verdict).toBe(history.indexOf(s.commit) >= history.indexOf(slower) ? 'bad' : 'good');
    }
  }, 240_000);

  /**
   * Time mode: under TCG without icount rdtsc reads the host's clock, so the figure is real time,
   * noisy on a shared host. A step starts with --boots boots and, while too near the midpoint to
   * tell, gets --boots more up to --max-boots, then is skipped: a skip is acceptable under noise,
   * a wrong verdict or a wrong answer is not. The loop is long enough that it, not scheduling
   * jitter, dominates the figure.
   */
  it('names the commit that makes the measured loop twice as slow, in time mode: each step boot between endpoint boots, more while unsure', async () => {
    const repo = tempDir('bisect-metric-time');
    const { history, slower } = loopHistory(repo, 8, 3, 6, LOOP_TIME_WORK, SLOWER_2X);
    const out = join(repo, 'out');
    const boots = 5;
    const maxBoots = 15;
    const run = await startCli([...metricArgs(history, out), '--clock', 'time', '--boots', String(boots), '--max-boots', String(maxBoots)], {}, repo).done;
    const log = readLog(out);
    const all = steps(log);
    const detail = run.stdout + run.stderr;
    expect(run.code, detail).toBe(0);
    expect(run.stdout).toContain(`first bad commit for metric loop/work: ${slower} ${SLOWER_2X.subject}`);
    expect(log.at(-1)).toMatchObject({ kind: 'end', outcome: 'found', commit: slower });
    const endpoints = all.filter((s) => s.role);
    expect(endpoints.map((s) => s.role)).toEqual(['good-endpoint', 'bad-endpoint']);
    const [g, b] = endpoints.map((s) => s.evidence.samples!);
    // Real time: the endpoints' boots are several, and one kernel's boots differ (a clock, not an instruction count).
    expect(g!.length).toBeGreaterThanOrEqual(boots);
    expect(b!.length).toBeGreaterThanOrEqual(boots);
    expect(new Set(g!).size).toBeGreaterThan(1);
    expect(new Set(b!).size).toBeGreaterThan(1);
    // ...booted pair by pair, good then bad, then bad then good.
    expect(g!.length).toBe(b!.length);
    for (let i = 1; i <= g!.length; i++) {
      const [a, z] = ['a', 'b'].map((k) => bootStart(endpoints[0]!.evidence.dir!, i, k));
      expect(i % 2 === 1 ? a! < z! : z! < a!, `endpoint pair ${i}`).toBe(true);
    }
    const sides = { good: g!, bad: b! };
    const search = all.filter((s) => !s.role);
    expect(search.length).toBeGreaterThanOrEqual(1);
    // Each commit once; at most log2(7) + 2 steps even with skips.
    expect(new Set(search.map((s) => s.commit)).size).toBe(search.length);
    expect(search.length).toBeLessThanOrEqual(expectedSteps(history.length - 1) + 2);
    for (const s of search) {
      const samples = s.evidence.samples!;
      const around = s.evidence.endpoints!;
      // Several boots a step, grown in rounds of --boots, never past --max-boots.
      expect(samples.length, s.evidence.why).toBeGreaterThan(1);
      expect(samples.length % boots).toBe(0);
      expect(samples.length).toBeLessThanOrEqual(maxBoots);
      expect(s.evidence.why).toContain(`${samples.length} boot(s) between endpoint boots`);
      // Each of the step's boots ran between a boot of each endpoint: good, step, bad, then bad, step, good.
      expect(around.good).toHaveLength(samples.length);
      expect(around.bad).toHaveLength(samples.length);
      for (let i = 1; i <= samples.length; i++) {
        const [g, st, b] = ['good', 'step', 'bad'].map((k) => bootStart(s.evidence.dir!, i, k));
        expect(i % 2 === 1 ? g! < st! && st! < b! : b! < st! && st! < g!, `${s.commit} round ${i}`).toBe(true);
      }
      const rounds = (n: number) => ({ good: around.good.slice(0, n), step: samples.slice(0, n), bad: around.bad.slice(0, n) });
      // Every earlier round was too near the midpoint (that is why it got more boots)...
      for (let n = boots; n < samples.length; n += boots) expect(classifyBracketed(sides, rounds(n)).verdict, `${s.commit} after ${n} boots`).toBe('unsure');
      // ...and the last decided the logged verdict: classified, or still unsure at the bound and skipped.
      const last = classifyBracketed(sides, rounds(samples.length));
      expect(s.evidence.position).toBeCloseTo(last.position, 9);
      if (s.verdict === 'skip') {
        expect(last.verdict).toBe('unsure');
        expect(samples).toHaveLength(maxBoots);
        expect(s.evidence.why).toContain(`still unsure after ${maxBoots} boots`);
      } else {
        expect(last.verdict).toBe(s.verdict);
        // The right side of the slow commit, never a wrong verdict.
        expect(s.verdict).toBe(history.indexOf(s.commit) >= history.indexOf(slower) ? 'bad' : 'good');
      }
    }
  }, 300_000);
});
