import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { InfraError, UsageError } from '../core/errors.js';
import { exec } from '../core/exec.js';
import { resolveCommit } from '../bench/git.js';

async function git(cwd: string, args: readonly string[]): Promise<string> {
  const r = await exec('git', ['-C', cwd, ...args]);
  if (r.code !== 0) throw new InfraError(`git ${args.join(' ')} failed in ${cwd}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** The commits a bisection searches: after `good` up to and including `bad`, oldest first, along first parents. */
export async function bisectPath(src: string, goodRef: string, badRef: string): Promise<{ good: string; bad: string; path: string[] }> {
  if ((await exec('git', ['-C', src, 'rev-parse', '--git-dir'])).code !== 0) {
    throw new UsageError(`${src} is not a git repository: bisect walks its history`, 'pass the kernel tree checked out with git to --kernel-src');
  }
  const good = await resolveCommit(goodRef, src).catch(() => { throw new UsageError(`--good '${goodRef}' names no commit in ${src}`, 'give a commit, tag or branch of that tree'); });
  const bad = await resolveCommit(badRef, src).catch(() => { throw new UsageError(`--bad '${badRef}' names no commit in ${src}`, 'give a commit, tag or branch of that tree'); });
  if (good === bad) throw new UsageError('--good and --bad name the same commit', 'give the last known good commit and the first known bad one');
  if ((await exec('git', ['-C', src, 'merge-base', '--is-ancestor', good, bad])).code !== 0) {
    throw new UsageError(`--good ${goodRef} is not an ancestor of --bad ${badRef}`, 'give a good commit older than the bad one, on its history');
  }
  const path = (await git(src, ['rev-list', '--first-parent', '--ancestry-path', '--reverse', `${good}..${bad}`])).split('\n').filter(Boolean);
  return { good, bad, path };
}

export async function commitSubject(src: string, commit: string): Promise<string> {
  return (await git(src, ['log', '-1', '--format=%s', commit])).trim();
}

/**
 * A private checkout of the user's repository (`git worktree add` in the run folder): the user's
 * own checkout, index and bisect state are never touched. Files the repository ignores (build
 * output) stay between steps so the build is incremental; others are cleaned, so the tree is clean
 * at each commit and its build is cached by that commit.
 */
export class PrivateWorktree implements AsyncDisposable {
  private constructor(readonly src: string, readonly dir: string) {}

  static async create(src: string, dir: string, commit: string): Promise<PrivateWorktree> {
    const wt = new PrivateWorktree(resolve(src), resolve(dir));
    // A worktree left by a run that was killed outright: remove it and start clean.
    if (existsSync(wt.dir)) await wt.remove();
    await git(wt.src, ['worktree', 'add', '--detach', '--force', wt.dir, commit]);
    return wt;
  }

  async checkout(commit: string): Promise<void> {
    await git(this.dir, ['checkout', '--quiet', '--force', '--detach', commit]);
    await git(this.dir, ['clean', '-fdq']);
  }

  async remove(): Promise<void> {
    await exec('git', ['-C', this.src, 'worktree', 'remove', '--force', this.dir]);
    await rm(this.dir, { recursive: true, force: true });
    await exec('git', ['-C', this.src, 'worktree', 'prune']);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.remove();
  }
}
