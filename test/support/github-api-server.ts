import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local stand-in for the parts of GitHub's REST API that `tsuite compare --post` uses, built
 * from GitHub's documentation (and the OpenAPI description @octokit/openapi-types ships):
 *
 * - GET   /repos/{owner}/{repo}/issues/{issue_number}/comments   200, `per_page` (default 30,
 *   max 100) and `page`, a `link` header with rel="prev"/"next"/"last"/"first" when there is more
 *   than one page (omitted when everything fits), `since`; 404 for an unknown repo or issue.
 * - POST  /repos/{owner}/{repo}/issues/{issue_number}/comments   201 + `Location`, the comment;
 *   422 without a string `body` or with one over 65536 characters.
 * - PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}     200, the comment; 404 if unknown.
 * - 401 without `Authorization: token …` / `Bearer …` ("Requires authentication") or with a
 *   wrong token ("Bad credentials"); 403 for writes with a read-only token (what a fork's PR
 *   gets: "Resource not accessible by integration"). Bodies are JSON, as GitHub sends them.
 *
 * GitHub itself cannot be reached from where tsuite's tests run; this server lets them exercise
 * the real client (@octokit/rest) over real HTTP.
 */

export interface FakeUser {
  login: string;
  id: number;
  node_id: string;
  avatar_url: string;
  gravatar_id: string;
  url: string;
  html_url: string;
  type: 'User' | 'Bot';
  site_admin: boolean;
}

export interface FakeComment {
  id: number;
  node_id: string;
  url: string;
  html_url: string;
  issue_url: string;
  body: string;
  user: FakeUser;
  created_at: string;
  updated_at: string;
  author_association: string;
}

export interface RecordedRequest {
  method: string;
  /** Path and query, as sent. */
  url: string;
  status: number;
}

export interface GitHubApiServer {
  /** The API root to give as GITHUB_API_URL / Octokit's baseUrl. */
  url: string;
  /** The token that may read and write. */
  token: string;
  /** A token that may only read (a fork's pull request gets one). */
  readOnlyToken: string;
  /** A copy of an issue's comments, ascending by id as GitHub lists them. */
  comments(owner: string, repo: string, issue: number): FakeComment[];
  /** Adds a comment directly, as another user would have. */
  seed(owner: string, repo: string, issue: number, body: string, login?: string): FakeComment;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

const DOCS = 'https://docs.github.com/rest/issues/comments';
const MAX_BODY = 65536;

interface Repo {
  owner: string;
  repo: string;
  issues: Map<number, FakeComment[]>;
}

export async function startGitHubApiServer(options: {
  repos: { owner: string; repo: string; issues: number[] }[];
  /** Whose comments a write with `token` makes; GITHUB_TOKEN posts as github-actions[bot]. */
  tokenUser?: string;
}): Promise<GitHubApiServer> {
  const token = 'ghs_fakeWriteToken0123456789';
  const readOnlyToken = 'ghs_fakeReadToken0123456789';
  const repos = new Map<string, Repo>();
  for (const r of options.repos) {
    repos.set(`${r.owner}/${r.repo}`.toLowerCase(), { owner: r.owner, repo: r.repo, issues: new Map(r.issues.map((n) => [n, []])) });
  }
  const requests: RecordedRequest[] = [];
  let nextId = 1000;
  // A clock that ticks a second per write: distinct, ordered timestamps in GitHub's format.
  let clock = Date.parse('2026-01-01T00:00:00Z');
  const now = () => new Date((clock += 1000)).toISOString().replace(/\.\d{3}Z$/, 'Z');
  let origin = '';

  const user = (login: string): FakeUser => {
    const id = [...login].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 1_000_000, 7);
    return {
      login, id, node_id: `U_${id}`, avatar_url: `https://avatars.githubusercontent.com/u/${id}?v=4`, gravatar_id: '',
      url: `${origin}/users/${encodeURIComponent(login)}`, html_url: `https://github.com/${encodeURIComponent(login)}`,
      type: login.endsWith('[bot]') ? 'Bot' : 'User', site_admin: false,
    };
  };

  const addComment = (r: Repo, issue: number, body: string, login: string): FakeComment => {
    const id = nextId++;
    const at = now();
    const comment: FakeComment = {
      id, node_id: `IC_${id}`,
      url: `${origin}/repos/${r.owner}/${r.repo}/issues/comments/${id}`,
      html_url: `https://github.com/${r.owner}/${r.repo}/pull/${issue}#issuecomment-${id}`,
      issue_url: `${origin}/repos/${r.owner}/${r.repo}/issues/${issue}`,
      body, user: user(login), created_at: at, updated_at: at,
      author_association: login.endsWith('[bot]') ? 'NONE' : 'MEMBER',
    };
    r.issues.get(issue)!.push(comment);
    return comment;
  };

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'x-github-media-type': 'github.v3; format=json', ...headers });
    res.end(JSON.stringify(body));
  };
  const error = (res: ServerResponse, status: number, message: string, extra: Record<string, unknown> = {}) =>
    send(res, status, { message, documentation_url: DOCS, status: String(status), ...extra });

  async function readJson(req: IncomingMessage): Promise<unknown> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    return text === '' ? undefined : JSON.parse(text);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', origin);
    const method = req.method ?? 'GET';

    const auth = /^(?:token|bearer)\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    if (!auth) return error(res, 401, 'Requires authentication');
    if (auth[1] !== token && auth[1] !== readOnlyToken) return error(res, 401, 'Bad credentials');
    const canWrite = auth[1] === token;

    const list = /^\/repos\/([^/]+)\/([^/]+)\/issues\/(\d+)\/comments$/.exec(url.pathname);
    const edit = /^\/repos\/([^/]+)\/([^/]+)\/issues\/comments\/(\d+)$/.exec(url.pathname);
    const repo = list || edit ? repos.get(`${decodeURIComponent((list ?? edit)![1]!)}/${decodeURIComponent((list ?? edit)![2]!)}`.toLowerCase()) : undefined;
    if (!repo) return error(res, 404, 'Not Found');

    if (list && (method === 'GET' || method === 'POST')) {
      const issue = Number(list[3]);
      const comments = repo.issues.get(issue);
      if (!comments) return error(res, 404, 'Not Found');
      if (method === 'GET') return listComments(url, comments, res);
      if (!canWrite) return error(res, 403, 'Resource not accessible by integration');
      const text = await commentBody(req, res);
      if (text === undefined) return;
      const comment = addComment(repo, issue, text, options.tokenUser ?? 'github-actions[bot]');
      return send(res, 201, comment, { location: comment.url });
    }
    if (edit && method === 'PATCH') {
      const comment = [...repo.issues.values()].flat().find((c) => c.id === Number(edit[3]));
      if (!comment) return error(res, 404, 'Not Found');
      if (!canWrite) return error(res, 403, 'Resource not accessible by integration');
      const text = await commentBody(req, res);
      if (text === undefined) return;
      comment.body = text;
      comment.updated_at = now();
      return send(res, 200, comment);
    }
    return error(res, 404, 'Not Found');
  }

  const invalid = (res: ServerResponse, code: string, field: string, message?: string) =>
    send(res, 422, { message: 'Validation Failed', errors: [{ resource: 'IssueComment', code, field, ...(message ? { message } : {}) }], documentation_url: DOCS, status: '422' });

  /** A create or edit request's `body`, or undefined once the error response (400/422) is sent. */
  async function commentBody(req: IncomingMessage, res: ServerResponse): Promise<string | undefined> {
    const body = await readJson(req).catch(() => null);
    const text = (body as { body?: unknown } | null | undefined)?.body;
    if (body === null) return void error(res, 400, 'Problems parsing JSON');
    if (typeof text !== 'string') return void invalid(res, 'missing_field', 'body');
    if (text.length > MAX_BODY) return void invalid(res, 'custom', 'body', `Body is too long (maximum is ${MAX_BODY} characters)`);
    return text;
  }

  function listComments(url: URL, all: FakeComment[], res: ServerResponse): void {
    const perPage = Math.min(100, Math.max(1, Number.parseInt(url.searchParams.get('per_page') ?? '', 10) || 30));
    const page = Math.max(1, Number.parseInt(url.searchParams.get('page') ?? '', 10) || 1);
    const since = url.searchParams.get('since');
    const matching = since ? all.filter((c) => Date.parse(c.updated_at) >= Date.parse(since)) : all;
    const last = Math.max(1, Math.ceil(matching.length / perPage));
    const headers: Record<string, string> = {};
    if (last > 1) {
      // As GitHub writes it: the same URL with page changed, in the order prev, next, last, first.
      const at = (n: number) => {
        const u = new URL(url.pathname + url.search, origin);
        u.searchParams.set('per_page', String(perPage));
        u.searchParams.set('page', String(n));
        return `<${u.href}>`;
      };
      const links: string[] = [];
      if (page > 1) links.push(`${at(Math.min(page - 1, last))}; rel="prev"`);
      if (page < last) links.push(`${at(page + 1)}; rel="next"`, `${at(last)}; rel="last"`);
      if (page > 1) links.push(`${at(1)}; rel="first"`);
      headers.link = links.join(', ');
    }
    send(res, 200, matching.slice((page - 1) * perPage, page * perPage), headers);
  }

  const server = createServer((req, res) => {
    handle(req, res)
      .catch((err: unknown) => error(res, 500, `fake server error: ${(err as Error).message}`))
      .finally(() => requests.push({ method: req.method ?? '', url: req.url ?? '', status: res.statusCode }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const repoOf = (owner: string, name: string) => {
    const r = repos.get(`${owner}/${name}`.toLowerCase());
    if (!r) throw new Error(`fake GitHub has no repository ${owner}/${name}`);
    return r;
  };
  return {
    url: origin,
    token,
    readOnlyToken,
    comments: (owner, name, issue) => structuredClone(repoOf(owner, name).issues.get(issue) ?? []),
    seed: (owner, name, issue, body, login = 'octocat') => {
      const r = repoOf(owner, name);
      if (!r.issues.has(issue)) throw new Error(`fake GitHub has no issue ${owner}/${name}#${issue}`);
      return structuredClone(addComment(r, issue, body, login));
    },
    requests,
    close: () => new Promise<void>((resolve, reject) => {
      server.closeAllConnections();
      server.close((err) => (err ? reject(err) : resolve()));
    }),
  };
}
