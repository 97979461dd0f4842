import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunResult } from '../../src/core/result.js';
import { startCli, tempDir, type CliResult } from './cli.js';

/**
 * `tsuite run --shard i/3` three times, then `tsuite merge`, against a single run of the same plan,
 * with the real CLI on the cheapest real target: `local` (this host; nothing boots). A user suite
 * whose tests end their sessions makes a plan of four sessions, so one shard runs two.
 */

const CHROMIUM = process.env.TSUITE_CHROMIUM ?? '/usr/bin/chromium';

const SUITE = `import { defineSuite } from 'tsuite';
const ender = (n: number) => ({
  name: \`exit-\${n}\`, title: \`ends session \${n}\`, endsSession: true,
  async run({ session }: { session: { shutdown(reason?: string): Promise<unknown> } }) { await session.shutdown('the test ends its machine'); },
});
export default defineSuite({
  name: 'shardy',
  description: 'a plan of several sessions',
  explicit: true,
  conformance: { itemKind: 'call', itemDepth: 1, itemOf: (path) => path[0]!.split('-')[0] },
  tests: [
    { name: 'open-ok', title: 'open works', run: () => undefined },
    { name: 'open-bad', title: 'open fails', run: () => { throw new Error('open returned -1'); } },
    { name: 'read-skip', title: 'read is skipped', run: (ctx) => ctx.skip('no read here') },
    ender(1), ender(2), ender(3), ender(4),
  ],
});
`;

const read = (dir: string) => JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as RunResult;
/** What must equal between a single run and the merged shards: no times, no run ids. */
const essence = (r: RunResult) => ({
  tests: r.tests.map((t) => [t.id, t.status, t.session, t.reason ?? t.error?.message ?? '']),
  sessions: r.sessions.map((s) => s.id),
  summary: { ...r.summary, durationMs: 0 },
  conformance: r.conformance,
});

/** Every file under dir with its content hash: a shard dir must be the same after the merge. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out[p] = `${statSync(p).mtimeMs} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`;
    }
  };
  walk(dir);
  return out;
}

describe('tsuite run --shard i/n and tsuite merge', () => {
  let repo: string;
  const inRepo = (...args: string[]) => startCli(args, {}, repo).done;
  const run = (...args: string[]) => inRepo('run', '--target', 'local', '--suite', 'shardy', '-r', 'json,junit,tap', ...args);
  const shardDir = (i: number) => join(repo, 'shards', `s${i}`);
  let single: CliResult;
  let shards: CliResult[];
  let merge: CliResult;
  let before: Record<string, string>;

  beforeAll(async () => {
    repo = tempDir('shard');
    mkdirSync(join(repo, 'tsuite'));
    writeFileSync(join(repo, 'tsuite', 'shardy.suite.ts'), SUITE);
    // The single run goes where runs go by default (reports/<run id>): the shards balance by its durations.
    single = await run('--run-id', 'single');
    shards = [];
    for (const i of [1, 2, 3]) shards.push(await run('--shard', `${i}/3`, '--output-dir', shardDir(i)));
    before = snapshot(join(repo, 'shards'));
    merge = await inRepo('merge', shardDir(1), shardDir(2), shardDir(3), '-r', 'json,junit,tap', '--output-dir', join(repo, 'merged'));
  }, 90_000);

  afterAll(() => {
    if (repo) rmSync(repo, { recursive: true, force: true });
  });

  it('runs each shard on part of the plan, balanced by the earlier run, every session once', () => {
    // A failing test is the point of the suite: exit status 1 where it ran.
    expect(single.code, single.stderr).toBe(1);
    const results = [1, 2, 3].map((i) => read(shardDir(i)));
    for (const [i, r] of results.entries()) {
      expect(shards[i]!.stderr).toContain(`shard ${i + 1}/3, balanced by the session durations of reports/single/results.json`);
      expect(r.run.shard).toMatchObject({ index: i + 1, total: 3, balancedBy: 'durations', planSessions: ['local-1', 'local-2', 'local-3', 'local-4'] });
      expect(r.sessions.map((s) => s.id)).toEqual(r.run.shard!.sessions);
    }
    expect(new Set(results.map((r) => r.run.shard!.planDigest)).size).toBe(1);
    expect(results.flatMap((r) => r.run.shard!.sessions).sort()).toEqual(['local-1', 'local-2', 'local-3', 'local-4']);
    expect(results.map((r) => r.sessions.length).sort()).toEqual([1, 1, 2]);
  });

  it('merges into what the single run wrote: ids, statuses, sessions, counts, conformance', () => {
    expect(merge.code, merge.stderr).toBe(1);
    expect(merge.stderr).toContain('merged 3 of 3 shard(s), 4 session(s), 7 test(s)');
    const merged = read(join(repo, 'merged'));
    const one = read(join(repo, 'reports', 'single'));
    expect(essence(merged)).toEqual(essence(one));
    expect(one.conformance!.shardy!.items.map((i) => [i.item, i.status])).toEqual([['open', 'fail'], ['read', 'skip'], ['exit', 'pass']]);
    expect(merged.run.shard).toBeUndefined();
    expect(merged.run.merged!.shards.map((s) => s.index)).toEqual([1, 2, 3]);
    for (const s of merged.sessions) expect(existsSync(join(repo, 'merged', s.consoleLog)), s.consoleLog).toBe(true);
    for (const f of ['junit.xml', 'results.tap', 'report.html']) expect(existsSync(join(repo, 'merged', f)), f).toBe(true);
    // The reporters were fed the merged run: every test in the JUnit file and the TAP plan.
    expect(readFileSync(join(repo, 'merged', 'results.tap'), 'utf8')).toMatch(/^1\.\.7$/m);
    expect(readFileSync(join(repo, 'merged', 'junit.xml'), 'utf8').match(/<testcase /g)).toHaveLength(7);
  });

  it('never writes into the shard dirs', () => {
    expect(snapshot(join(repo, 'shards'))).toEqual(before);
  });

  it('the merged HTML report opens in Chromium and shows the failure', async () => {
    expect(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: apt-get install chromium, or set TSUITE_CHROMIUM`).toBe(true);
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(pathToFileURL(join(repo, 'merged', 'report.html')).href, { waitUntil: 'load' });
      expect(await page.title()).toMatch(/on local/);
      expect(await page.textContent('body')).toContain('shardy/open-bad');
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 60_000);

  it('refuses a bad --shard, a missing shard, and a folder that is not a shard', async () => {
    const bad = await run('--shard', '4/3');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--shard '4/3': the index must be between 1 and 3");
    const missing = await inRepo('merge', shardDir(1), shardDir(3), '--output-dir', join(repo, 'partial'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('shard(s) 2 of 3 missing');
    const notShard = await inRepo('merge', shardDir(1), join(repo, 'tsuite'), '--output-dir', join(repo, 'x'));
    expect(notShard.code).toBe(2);
    expect(notShard.stderr).toMatch(/tsuite: no results\.json in that folder/);
    mkdirSync(join(repo, 'corrupt'));
    writeFileSync(join(repo, 'corrupt', 'results.json'), '{"version": 1, "run": ');
    const corrupt = await inRepo('merge', shardDir(1), join(repo, 'corrupt'), '--output-dir', join(repo, 'y'));
    expect(corrupt.code).toBe(2);
    expect(corrupt.stderr).toMatch(/corrupt\/results\.json is not readable JSON/);
    const inside = await inRepo('merge', shardDir(1), shardDir(2), shardDir(3), '--output-dir', join(shardDir(2), 'merged'));
    expect(inside.code).toBe(2);
    expect(inside.stderr).toMatch(/overlaps the shard dir/);
    expect(existsSync(join(shardDir(2), 'merged'))).toBe(false);
  }, 60_000);
});
