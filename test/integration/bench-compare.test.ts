import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appendHistory, loadHistory, rowsFromBenchRun } from '../../src/bench/history.js';
import type { BenchRun, Comparison } from '../../src/bench/model.js';
import { summarize } from '../../src/bench/stats.js';
import { startCli, tempDir, tsuite } from './cli.js';

/**
 * `tsuite bench` and `tsuite compare` on the real reference guest: boots, history rows, an A/B
 * run, and a suspected regression that is measured again before it is reported.
 */
describe('tsuite bench and compare on qemu-x86', () => {
  const repo = tempDir('bench-repo');
  const history = join(repo, 'bench-history');
  const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, encoding: 'utf8' }).trim();
  git('init', '-q', '-b', 'main');
  git('-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '--allow-empty', '-m', 'base');
  const commit = git('rev-parse', 'HEAD');
  const out = tempDir('bench-run');
  let run: BenchRun;

  it('bench --record: five boots, every metric with a sample per boot, one history row per metric', async () => {
    const r = await tsuite('bench', '--boots', '5', '--record', '--history', history, '-o', out, '--commit', commit, '--ref', 'main');
    expect(r.code, r.stderr).toBe(0);
    run = JSON.parse(readFileSync(join(out, 'bench.json'), 'utf8')) as BenchRun;
    expect(run.boots).toBe(5);
    expect(run.fingerprint.accel).toMatch(/^(kvm|tcg)$/);
    const names = run.metrics.map((m) => m.name);
    for (const n of ['boot/host-to-ready', 'syscall/getppid', 'context-switch/pipe-round-trip', 'memory/page-fault', 'process/fork-exec-wait', 'agent/round-trip']) {
      expect(names).toContain(n);
    }
    for (const m of run.metrics) {
      expect(m.samples, m.name).toHaveLength(5);
      expect(m.boots.every((b) => b.length > 0 && b.every((v) => v > 0))).toBe(true);
      expect(m.stats.rme).toBeGreaterThanOrEqual(0);
    }
    // The container metrics need a docker channel: skipped, with the reason, never made up.
    expect(run.problems.find((p) => p.benchmark === 'bench/container-cold-start')).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/docker/) });
    expect(r.stdout).toContain('syscall/getppid');
    const loaded = await loadHistory(history);
    expect(loaded.problems).toEqual([]);
    expect(loaded.rows).toHaveLength(run.metrics.length);
    expect(loaded.rows.every((row) => row.commit === commit && row.fingerprint.id === run.fingerprint.id && row.samples.length === 5)).toBe(true);
  }, 300_000);

  it('compare --kernel-a/--kernel-b: per-metric ratios with confidence intervals, pairs interleaved', async () => {
    const dir = tempDir('bench-ab');
    // --max-boots 2: no adaptive boots, which two pairs of the same kernel would grow to the maximum.
    const r = await tsuite('compare', '--kernel-a', 'reference', '--kernel-b', 'reference', '--boots', '2', '--max-boots', '2', '--no-remeasure', '--format', 'json', '-o', dir);
    expect([0, 1], r.stderr).toContain(r.code);
    const c = JSON.parse(r.stdout) as Comparison;
    expect(c.mode).toBe('ab');
    expect(c.pairs).toEqual({ used: 2, first: 2, max: 2, design: 'interleaved' });
    expect(c.metrics.length).toBeGreaterThanOrEqual(10);
    for (const m of c.metrics) {
      expect(m.ratio, m.name).toBeGreaterThan(0);
      expect(m.ci![0]).toBeLessThanOrEqual(m.ratio!);
      expect(m.ci![1]).toBeGreaterThanOrEqual(m.ratio!);
    }
    // Interleaved: A then B, then B then A.
    expect(r.stderr.indexOf('pair-1-a')).toBeLessThan(r.stderr.indexOf('pair-1-b'));
    expect(r.stderr.indexOf('pair-2-b')).toBeLessThan(r.stderr.indexOf('pair-2-a'));
  }, 300_000);

  it('compare --base: a suspected regression is measured again, and reported only when the re-measurement agrees', async () => {
    // Main's history says getppid took 40% of what it takes now, steadily over five runs. Five
    // boots a side, so one boot slowed by a busy host is trimmed away rather than deciding it.
    const fast = structuredClone(run);
    for (let i = 0; i < 5; i++) {
      const m = fast.metrics.find((x) => x.name === 'syscall/getppid')!;
      const base = run.metrics.find((x) => x.name === 'syscall/getppid')!.stats.mean * 0.4;
      m.samples = [base * (1 + 0.002 * i), base * (1 - 0.002 * i)];
      m.stats = summarize(m.samples);
      fast.runId = `old-${i}`;
      fast.date = `2026-01-0${i + 1}T00:00:00.000Z`;
      await appendHistory(history, rowsFromBenchRun({ ...fast, metrics: [m] }));
    }
    // Run in the repository, where `main` names the commit the history rows carry.
    const inRepo = await startCli(['compare', '--base', 'main', '--bench', out, '--history', history, '--boots', '5', '--format', 'json', '-o', tempDir('bench-recheck')], {}, repo).done;
    expect(inRepo.code, `${inRepo.stderr}\n${inRepo.stdout}`).toBe(1);
    const c = JSON.parse(inRepo.stdout) as Comparison;
    const getppid = c.metrics.find((m) => m.name === 'syscall/getppid')!;
    expect(getppid.verdict).toBe('regressed');
    expect(getppid.remeasured).toMatchObject({ confirmed: true });
    expect(getppid.ratio).toBeGreaterThan(1.8);
    expect(inRepo.stderr).toContain('measuring the head kernel again');
    expect(inRepo.stderr).toMatch(/recheck-1/);
  }, 300_000);
});
