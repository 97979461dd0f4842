import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { COMMENT_MARKER } from '../../src/bench/compare-format.js';
import { appendHistory, rowsFromBenchRun } from '../../src/bench/history.js';
import type { BenchRun } from '../../src/bench/model.js';
import { summarize } from '../../src/bench/stats.js';
import { InfraError, UsageError } from '../../src/core/errors.js';
import { pullRequestFromEnv, upsertPullRequestComment, type PullRequestRef } from '../../src/github/pr-comment.js';
import { startGitHubApiServer, type GitHubApiServer } from '../support/github-api-server.js';
import { CLI, tempDir, type CliResult } from './cli.js';

/**
 * The PR comment against a local server that follows GitHub's documented REST endpoints
 * (test/support/github-api-server.ts): GitHub itself cannot be reached from here.
 */

const OWNER = 'octo-org';
const REPO = 'my-kernel';
const PR = 42;

let gh: GitHubApiServer;
beforeEach(async () => {
  gh = await startGitHubApiServer({ repos: [{ owner: OWNER, repo: REPO, issues: [PR, 7] }] });
  // More than a page of other people's comments, so finding ours needs the second page.
  for (let i = 0; i < 130; i++) gh.seed(OWNER, REPO, PR, `review note ${i}`);
  // Our marker on another PR must never be mistaken for this PR's comment.
  gh.seed(OWNER, REPO, 7, `${COMMENT_MARKER}\nother PR`, 'github-actions[bot]');
});
afterEach(() => gh.close());

const pr = (over: Partial<PullRequestRef> = {}): PullRequestRef => ({ owner: OWNER, repo: REPO, number: PR, token: gh.token, baseUrl: gh.url, ...over });
const markerComments = () => gh.comments(OWNER, REPO, PR).filter((c) => c.body.includes(COMMENT_MARKER));
const others = () => gh.comments(OWNER, REPO, PR).filter((c) => !c.body.includes(COMMENT_MARKER));

describe('the fake GitHub API', () => {
  it('paginates with a link header as GitHub documents it', async () => {
    const get = (q: string) => fetch(`${gh.url}/repos/${OWNER}/${REPO}/issues/${PR}/comments${q}`, { headers: { authorization: `Bearer ${gh.token}` } });
    const first = await get('?per_page=50');
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toMatch(/^application\/json/);
    expect(((await first.json()) as unknown[]).length).toBe(50);
    const link = first.headers.get('link')!;
    expect(link).toContain(`<${gh.url}/repos/${OWNER}/${REPO}/issues/${PR}/comments?per_page=50&page=2>; rel="next"`);
    expect(link).toContain('page=3>; rel="last"');
    expect(link).not.toContain('rel="prev"');
    const last = await get('?per_page=50&page=3');
    expect(((await last.json()) as unknown[]).length).toBe(30);
    expect(last.headers.get('link')).toMatch(/page=2>; rel="prev".*page=1>; rel="first"/);
    expect(last.headers.get('link')).not.toContain('rel="next"');
    // Everything on one page: no link header at all.
    expect((await get('?per_page=100&since=2100-01-01T00:00:00Z')).headers.get('link')).toBeNull();
    expect((await fetch(`${gh.url}/repos/${OWNER}/${REPO}/issues/${PR}/comments`)).status).toBe(401);
  });
});

describe('upsertPullRequestComment', () => {
  it('creates one comment, then updates that same comment, never a second one', async () => {
    const before = others();
    const first = await upsertPullRequestComment(pr(), `${COMMENT_MARKER}\n### ✅ no regressions\nrun 1`);
    expect(first.action).toBe('created');
    expect(first.url).toBe(`https://github.com/${OWNER}/${REPO}/pull/${PR}#issuecomment-${first.id}`);
    expect(markerComments()).toHaveLength(1);
    // The first page ends at 100 comments: finding none there must not stop the search.
    expect(gh.requests.some((r) => r.method === 'GET' && /[?&]page=2\b/.test(r.url))).toBe(true);

    const second = await upsertPullRequestComment(pr(), `${COMMENT_MARKER}\n### ⚠️ 1 regression\nrun 2`);
    expect(second).toMatchObject({ action: 'updated', id: first.id, duplicates: [] });
    const ours = markerComments();
    expect(ours).toHaveLength(1);
    expect(ours[0]!.id).toBe(first.id);
    expect(ours[0]!.body).toContain('run 2');
    expect(ours[0]!.body).not.toContain('run 1');
    expect(ours[0]!.updated_at > ours[0]!.created_at).toBe(true);

    await upsertPullRequestComment(pr(), `${COMMENT_MARKER}\nrun 3`);
    expect(markerComments()).toHaveLength(1);
    expect(gh.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
    expect(others()).toEqual(before);
    expect(gh.comments(OWNER, REPO, 7)[0]!.body).toBe(`${COMMENT_MARKER}\nother PR`);
  });

  it('adds the marker to a body that lacks it, so the next run finds the comment', async () => {
    const first = await upsertPullRequestComment(pr(), 'plain body');
    expect(markerComments()).toHaveLength(1);
    const second = await upsertPullRequestComment(pr(), 'plain body, again');
    expect(second.id).toBe(first.id);
  });

  it('updates the oldest of several marker comments and reports the others', async () => {
    const old = gh.seed(OWNER, REPO, PR, `${COMMENT_MARKER}\nold`, 'github-actions[bot]');
    const newer = gh.seed(OWNER, REPO, PR, `${COMMENT_MARKER}\nnewer`, 'github-actions[bot]');
    const result = await upsertPullRequestComment(pr(), `${COMMENT_MARKER}\nfresh`);
    expect(result).toMatchObject({ action: 'updated', id: old.id, duplicates: [newer.id] });
    expect(markerComments().map((c) => c.body)).toEqual([`${COMMENT_MARKER}\nfresh`, `${COMMENT_MARKER}\nnewer`]);
  });

  it('turns HTTP errors into InfraErrors naming the status and the fix', async () => {
    const fail = (p: PullRequestRef) => upsertPullRequestComment(p, `${COMMENT_MARKER}\nx`).then(() => undefined, (e: unknown) => e);
    const badToken = await fail(pr({ token: 'nope' }));
    expect(badToken).toBeInstanceOf(InfraError);
    expect((badToken as InfraError).message).toMatch(/listing the comments of octo-org\/my-kernel#42: GitHub answered 401: Bad credentials/);
    expect((badToken as InfraError).fix).toContain('GITHUB_TOKEN');

    const readOnly = (await fail(pr({ token: gh.readOnlyToken }))) as InfraError;
    expect(readOnly.message).toMatch(/commenting on .*answered 403/);
    expect(readOnly.fix).toMatch(/pull-requests: write, issues: write/);

    const missing = (await fail(pr({ number: 999 }))) as InfraError;
    expect(missing.message).toContain('404');
    expect(missing.fix).toContain('pull request #999');

    await upsertPullRequestComment(pr(), `${COMMENT_MARKER}\nfits`);
    const huge = (await upsertPullRequestComment(pr(), 'x'.repeat(70_000)).catch((e: unknown) => e)) as InfraError;
    expect(huge.message).toMatch(/updating comment \d+ on .*answered 422/);
    expect(huge.fix).toContain('65536');

    const unreachable = (await fail(pr({ baseUrl: 'http://127.0.0.1:9' }))) as InfraError;
    expect(unreachable).toBeInstanceOf(InfraError);
    expect(unreachable.message).toContain('cannot reach the GitHub API at http://127.0.0.1:9');
    expect(markerComments()).toHaveLength(1);
  });
});

describe('pullRequestFromEnv', () => {
  const dir = tempDir('pr-env');
  const event = join(dir, 'event.json');
  writeFileSync(event, JSON.stringify({ action: 'synchronize', number: PR, pull_request: { number: PR } }));
  const env = { GITHUB_TOKEN: 't', GITHUB_REPOSITORY: `${OWNER}/${REPO}`, GITHUB_EVENT_PATH: event };

  it('reads the Actions variables, with api.github.com by default', () => {
    expect(pullRequestFromEnv(env)).toEqual({ owner: OWNER, repo: REPO, number: PR, token: 't', baseUrl: 'https://api.github.com' });
    expect(pullRequestFromEnv({ ...env, GITHUB_API_URL: 'https://ghe.example.com/api/v3/' }).baseUrl).toBe('https://ghe.example.com/api/v3');
  });

  it('names the missing or invalid variable and the fix', () => {
    const problem = (e: NodeJS.ProcessEnv) => {
      try {
        pullRequestFromEnv(e);
      } catch (err) {
        expect(err).toBeInstanceOf(UsageError);
        return `${(err as UsageError).message} | ${(err as UsageError).fix}`;
      }
      throw new Error('no error');
    };
    expect(problem({ ...env, GITHUB_TOKEN: undefined })).toMatch(/GITHUB_TOKEN is not set.*\| .*secrets\.GITHUB_TOKEN.*pull-requests: write/);
    expect(problem({ ...env, GITHUB_REPOSITORY: undefined })).toMatch(/^GITHUB_REPOSITORY is not set/);
    expect(problem({ ...env, GITHUB_REPOSITORY: 'just-a-name' })).toMatch(/GITHUB_REPOSITORY is 'just-a-name', not 'owner\/repo'/);
    expect(problem({ ...env, GITHUB_EVENT_PATH: undefined })).toMatch(/^GITHUB_EVENT_PATH is not set/);
    expect(problem({ ...env, GITHUB_EVENT_PATH: join(dir, 'absent.json') })).toMatch(/not a readable JSON event/);
    const push = join(dir, 'push.json');
    writeFileSync(push, JSON.stringify({ ref: 'refs/heads/main', head_commit: {} }));
    expect(problem({ ...env, GITHUB_EVENT_PATH: push })).toMatch(/not about a pull request.*\| .*push or schedule event/);
    expect(problem({ ...env, GITHUB_API_URL: 'ftp://x' })).toMatch(/GITHUB_API_URL is 'ftp:\/\/x', not an http\(s\) URL/);
  });
});

/** `tsuite compare --post` as CI runs it: the built CLI, in a kernel repository with history. */
describe('tsuite compare --post', () => {
  const fingerprint = { id: 'fp-test', cpuModel: 'Test CPU', cores: 2, accel: 'tcg' as const, qemuVersion: '7.2.22', runner: 'qemu', instanceType: 'local' };
  const kernel = { id: 'k1', source: 'file', cmdline: 'console=ttyS0' };
  const run = (runId: string, commit: string, date: string, values: Record<string, number[]>): BenchRun => ({
    version: 1, runId, target: 'qemu-x86', commit, ref: 'main', date, kernel, fingerprint, boots: 5, problems: [],
    metrics: Object.entries(values).map(([name, samples]) => ({ name, unit: 'ns', better: 'lower' as const, boots: samples.map((v) => [v]), samples, stats: summarize(samples) })),
  });
  const root = tempDir('compare-post');
  const repo = join(root, 'kernel');
  let base = '';

  beforeAll(async () => {
    mkdirSync(repo);
    const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, encoding: 'utf8' }).trim();
    git('init', '-q', '-b', 'main');
    writeFileSync(join(repo, 'kernel.c'), 'int main(void) { return 0; }\n');
    git('add', '.');
    git('-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-q', '-m', 'base');
    base = git('rev-parse', 'HEAD');
    for (let i = 0; i < 3; i++) {
      const rows = rowsFromBenchRun(run(`base-${i}`, base, `2026-01-0${i + 1}T00:00:00Z`, { 'syscall/getppid': [465, 466, 464, 467, 465], 'pipe/round-trip': [71000, 71500, 70800, 71200, 70900] }));
      await appendHistory(join(repo, 'bench-history'), rows);
    }
  });

  const compare = (bench: BenchRun, env: NodeJS.ProcessEnv): Promise<CliResult> => {
    const file = join(root, `${bench.runId}.json`);
    writeFileSync(file, JSON.stringify(bench));
    const args = [CLI, 'compare', '--base', 'main', '--bench', file, '--history', 'bench-history', '--format', 'markdown', '--post', '--no-remeasure', '-o', join(root, 'out', bench.runId)];
    const child = spawn(process.execPath, args, { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CI: 'true', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  };
  const actionsEnv = () => {
    const event = join(root, 'event.json');
    writeFileSync(event, JSON.stringify({ action: 'synchronize', number: PR, pull_request: { number: PR } }));
    return { GITHUB_TOKEN: gh.token, GITHUB_REPOSITORY: `${OWNER}/${REPO}`, GITHUB_EVENT_PATH: event, GITHUB_API_URL: gh.url };
  };

  it('posts once, updates on the second run, and never duplicates', async () => {
    const before = others();
    const first = await compare(run('head-1', base, '2026-02-01T00:00:00Z', { 'syscall/getppid': [466, 465, 467, 466, 465], 'pipe/round-trip': [71100, 70900, 71300, 71000, 71200] }), actionsEnv());
    expect(first.stderr).toMatch(/created the pull request comment/);
    expect(first.code).toBe(0);
    const created = markerComments();
    expect(created).toHaveLength(1);
    expect(created[0]!.body.startsWith(COMMENT_MARKER)).toBe(true);
    expect(created[0]!.body).toContain('syscall/getppid');
    expect(created[0]!.body).toBe(first.stdout.trimEnd() + '\n');

    const second = await compare(run('head-2', base, '2026-02-02T00:00:00Z', { 'syscall/getppid': [470, 468, 471, 469, 470], 'pipe/round-trip': [71100, 70900, 71300, 71000, 71200] }), actionsEnv());
    expect(second.stderr).toMatch(/updated the pull request comment/);
    const updated = markerComments();
    expect(updated).toHaveLength(1);
    expect(updated[0]!.id).toBe(created[0]!.id);
    expect(updated[0]!.body).not.toBe(created[0]!.body);
    expect(others()).toEqual(before);
    expect(gh.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
  });

  it('fails clearly without GITHUB_TOKEN, and posts nothing', async () => {
    const r = await compare(run('head-3', base, '2026-02-03T00:00:00Z', { 'syscall/getppid': [466, 465, 467, 466, 465] }), { ...actionsEnv(), GITHUB_TOKEN: '' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/GITHUB_TOKEN is not set/);
    expect(r.stderr).toMatch(/fix: .*secrets\.GITHUB_TOKEN/);
    expect(markerComments()).toHaveLength(0);
  });
});
