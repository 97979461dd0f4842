import { exec } from '../core/exec.js';
import { UsageError } from '../core/errors.js';

/** The commit a git ref names in `cwd`'s repository. */
export async function resolveCommit(ref: string, cwd: string): Promise<string> {
  const r = await exec('git', ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], { cwd });
  if (r.code !== 0) {
    throw new UsageError(`'${ref}' names no commit in ${cwd}`, `fetch it first (e.g. git fetch origin ${ref.replace(/^origin\//, '')}), or give another --base`);
  }
  return r.stdout.trim();
}

/**
 * Which commit and ref a measurement belongs to: GitHub Actions' variables when set (in a pull
 * request HEAD is a merge commit, and GITHUB_HEAD_REF names the branch), else the repository's HEAD.
 */
export async function currentRevision(cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<{ commit?: string; ref?: string }> {
  const head = await exec('git', ['rev-parse', 'HEAD'], { cwd }).catch(() => undefined);
  const branch = await exec('git', ['rev-parse', '--abbrev-ref', 'HEAD'], { cwd }).catch(() => undefined);
  const commit = env.GITHUB_SHA || (head?.code === 0 ? head.stdout.trim() : undefined);
  const gitRef = branch?.code === 0 && branch.stdout.trim() !== 'HEAD' ? branch.stdout.trim() : undefined;
  const ref = env.GITHUB_HEAD_REF || env.GITHUB_REF_NAME || gitRef;
  return { ...(commit ? { commit } : {}), ...(ref ? { ref } : {}) };
}
