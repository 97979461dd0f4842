import { spawn } from 'node:child_process';
import { InfraError } from './errors.js';

export interface ExecResult {
  code: number | null;
  stdout: string;
  /** The same output as bytes, for commands that write binary (cpio, gzip). */
  stdoutBytes: Buffer;
  stderr: string;
}

/**
 * Runs a host command to completion and captures its output. A missing program becomes an
 * InfraError naming it, rather than a bare ENOENT.
 */
export function exec(
  cmd: string,
  args: readonly string[],
  options: { cwd?: string; input?: Buffer | string; signal?: AbortSignal; env?: NodeJS.ProcessEnv } = {},
): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      signal: options.signal,
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') reject(new InfraError(`'${cmd}' is not installed`, 'run `npx tsuite setup`'));
      else reject(e);
    });
    child.on('close', (code) =>
    {
      const bytes = Buffer.concat(out);
      resolve({ code, stdout: bytes.toString('utf8'), stdoutBytes: bytes, stderr: Buffer.concat(err).toString('utf8') });
    },
    );
    if (options.input !== undefined) child.stdin!.end(options.input);
  });
}

/** Like `exec`, but a non-zero exit is an InfraError carrying the command's stderr. */
export async function execOk(
  cmd: string,
  args: readonly string[],
  options: Parameters<typeof exec>[2] & { fix?: string } = {},
): Promise<string> {
  return (await execChecked(cmd, args, options)).stdout;
}

/** `execOk` returning the whole result, for binary output. */
export async function execChecked(
  cmd: string,
  args: readonly string[],
  options: Parameters<typeof exec>[2] & { fix?: string } = {},
): Promise<ExecResult> {
  const r = await exec(cmd, args, options);
  if (r.code !== 0) {
    const tail = r.stderr.trim().split('\n').slice(-5).join('\n');
    throw new InfraError(`\`${cmd} ${args.join(' ')}\` exited with ${r.code}: ${tail}`, options.fix);
  }
  return r;
}
