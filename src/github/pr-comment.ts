import { readFileSync } from 'node:fs';
import { Octokit } from '@octokit/rest';
import { COMMENT_MARKER } from '../bench/compare-format.js';
import { InfraError, UsageError } from '../core/errors.js';

/**
 * The PR comment of `tsuite compare --post`: one comment per pull request, found again by a
 * hidden marker and edited in place, so a PR pushed ten times carries one comment, not ten.
 */

export interface PullRequestRef {
  owner: string;
  repo: string;
  number: number;
  token: string;
  /** The REST API root: https://api.github.com, or a GitHub Enterprise Server's `/api/v3`. */
  baseUrl: string;
}

export interface UpsertResult {
  action: 'created' | 'updated';
  id: number;
  url: string;
  /** Other comments carrying the marker (left by an earlier bug), oldest first; left untouched. */
  duplicates: number[];
}

const WORKFLOW_HINT = 'run `tsuite compare --post` in a GitHub Actions job triggered by pull_request';

/**
 * The pull request this job runs for, from the variables GitHub Actions sets
 * (GITHUB_REPOSITORY, GITHUB_EVENT_PATH, GITHUB_API_URL) and the token the workflow passes.
 */
export function pullRequestFromEnv(env: NodeJS.ProcessEnv): PullRequestRef {
  const token = env.GITHUB_TOKEN?.trim();
  if (!token) {
    throw new UsageError('GITHUB_TOKEN is not set: --post needs a token to comment on the pull request',
      'pass it to the step: `env: { GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }} }`, with `permissions: { pull-requests: write, issues: write }` on the job');
  }
  const repository = env.GITHUB_REPOSITORY?.trim();
  if (!repository) throw new UsageError('GITHUB_REPOSITORY is not set: --post cannot tell which repository to comment on', WORKFLOW_HINT);
  const parts = /^([\w.-]+)\/([\w.-]+)$/.exec(repository);
  if (!parts) throw new UsageError(`GITHUB_REPOSITORY is '${repository}', not 'owner/repo'`, 'set it to the repository as GitHub Actions does, e.g. octo-org/my-kernel');

  const eventPath = env.GITHUB_EVENT_PATH?.trim();
  if (!eventPath) throw new UsageError('GITHUB_EVENT_PATH is not set: --post cannot tell which pull request to comment on', WORKFLOW_HINT);
  const number = pullRequestNumber(eventPath);

  const baseUrl = (env.GITHUB_API_URL?.trim() || 'https://api.github.com').replace(/\/+$/, '');
  if (!URL.canParse(baseUrl) || !/^https?:$/.test(new URL(baseUrl).protocol)) {
    throw new UsageError(`GITHUB_API_URL is '${baseUrl}', not an http(s) URL`, 'unset it to use https://api.github.com, or give the API root of your GitHub Enterprise Server');
  }
  return { owner: parts[1]!, repo: parts[2]!, number, token, baseUrl };
}

/** The PR number from the webhook payload Actions saved: `pull_request.number`, else `number`. */
function pullRequestNumber(eventPath: string): number {
  let event: unknown;
  try {
    event = JSON.parse(readFileSync(eventPath, 'utf8'));
  } catch (err) {
    throw new UsageError(`GITHUB_EVENT_PATH names ${eventPath}, which is not a readable JSON event: ${(err as Error).message}`, WORKFLOW_HINT);
  }
  const e = (event ?? {}) as { pull_request?: { number?: unknown }; number?: unknown; issue?: { number?: unknown; pull_request?: unknown } };
  // issue_comment events on a PR carry the PR as an issue that has a pull_request key.
  const candidate = e.pull_request?.number ?? e.number ?? (e.issue?.pull_request ? e.issue.number : undefined);
  if (typeof candidate !== 'number' || !Number.isInteger(candidate) || candidate < 1) {
    throw new UsageError(`the event in GITHUB_EVENT_PATH (${eventPath}) is not about a pull request: it has no pull_request.number`,
      `${WORKFLOW_HINT} (a push or schedule event has no pull request to comment on)`);
  }
  return candidate;
}

/**
 * Creates the comment carrying `marker`, or edits it if the PR already has one. Every page of
 * comments is read: a busy PR pushes our comment past the first page, and missing it would post
 * a second one.
 */
export async function upsertPullRequestComment(pr: PullRequestRef, body: string, marker: string = COMMENT_MARKER): Promise<UpsertResult> {
  if (!body.includes(marker)) body = `${marker}\n${body}`; // without it the next run could not find this comment
  const octokit = new Octokit({
    auth: pr.token,
    baseUrl: pr.baseUrl,
    userAgent: 'tsuite',
    // A hung API must not hang the CI job; one budget for the whole upsert.
    request: { signal: AbortSignal.timeout(60_000) },
    log: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
  });
  const where = `${pr.owner}/${pr.repo}#${pr.number}`;
  const issue = { owner: pr.owner, repo: pr.repo, issue_number: pr.number };

  const comments = await call(`listing the comments of ${where}`, pr, () =>
    octokit.paginate(octokit.rest.issues.listComments, { ...issue, per_page: 100 }));
  const ours = comments
    .filter((c) => c.body?.includes(marker))
    .sort((a, b) => Date.parse(a.created_at) - Date.parse(b.created_at) || Number(a.id) - Number(b.id));

  const [oldest, ...rest] = ours;
  if (oldest) {
    const id = Number(oldest.id);
    const { data } = await call(`updating comment ${id} on ${where}`, pr, () =>
      octokit.rest.issues.updateComment({ owner: pr.owner, repo: pr.repo, comment_id: id, body }));
    return { action: 'updated', id: Number(data.id), url: data.html_url, duplicates: rest.map((c) => Number(c.id)) };
  }
  const { data } = await call(`commenting on ${where}`, pr, () => octokit.rest.issues.createComment({ ...issue, body }));
  return { action: 'created', id: Number(data.id), url: data.html_url, duplicates: [] };
}

/** Runs one API call; an HTTP or network failure becomes an InfraError naming the step and the fix. */
async function call<T>(what: string, pr: PullRequestRef, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toInfraError(what, pr, err);
  }
}

function toInfraError(what: string, pr: PullRequestRef, err: unknown): InfraError {
  const e = err as { status?: unknown; response?: unknown; message?: string; name?: string };
  const message = e.message ?? String(err);
  if (e.response === undefined || typeof e.status !== 'number') {
    const reason = e.name === 'AbortError' || e.name === 'TimeoutError' ? 'no answer within 60 s' : message;
    return new InfraError(`${what}: cannot reach the GitHub API at ${pr.baseUrl}: ${reason}`,
      'check GITHUB_API_URL and that the runner can reach it', { cause: err });
  }
  const status = e.status;
  const text = `${what}: GitHub answered ${status}: ${message}`;
  switch (status) {
    case 401:
      return new InfraError(text, 'GITHUB_TOKEN was refused: pass `${{ secrets.GITHUB_TOKEN }}` (or a valid token) to the step', { cause: err });
    case 403:
      return new InfraError(text,
        'give the job `permissions: { pull-requests: write, issues: write }`; a pull request from a fork gets a read-only token, so post from a `workflow_run` or `pull_request_target` workflow instead',
        { cause: err });
    case 404:
      return new InfraError(text,
        `check that repository ${pr.owner}/${pr.repo} and pull request #${pr.number} exist (GITHUB_REPOSITORY, GITHUB_EVENT_PATH) and that the token can see them`,
        { cause: err });
    case 410:
      return new InfraError(text, `issues are disabled on ${pr.owner}/${pr.repo}; enable them (PR comments go through the issues API)`, { cause: err });
    case 422:
      return new InfraError(text, 'GitHub rejected the comment body (a comment holds at most 65536 characters): compare fewer metrics per comment', { cause: err });
    default:
      return new InfraError(text, status >= 500 ? 'GitHub had a server error: re-run the job' : 'see the message from GitHub above', { cause: err });
  }
}
