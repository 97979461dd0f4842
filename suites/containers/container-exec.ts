import type Dockerode from 'dockerode';
import type { Scope } from './scope.js';
import { demux, pollUntil } from './streams.js';

/** What a command run with `exec` in a running container printed, and how it ended. */
export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
  /** ExecInspect once the engine recorded the end. */
  info: Dockerode.ExecInspectInfo;
}

/** Exec settings beyond the command; output is always attached, stdout and stderr apart. */
export type ExecInOptions = Pick<Dockerode.ExecCreateOptions, 'Env' | 'User' | 'WorkingDir'>;

/** A busybox container that idles until removed; `marker` goes into its PID 1's argv so other containers can look for it. */
export function startIdle(s: Scope, opts: Omit<Dockerode.ContainerCreateOptions, 'Image' | 'Cmd'> = {}, marker = 'idle'): Promise<Dockerode.Container> {
  return s.startContainer({ ...opts, Image: s.images.busybox, Cmd: ['sh', '-c', `trap "exit 0" TERM; while :; do sleep 1 & wait $!; done # ${marker}`] });
}

/** The exec's ExecInspect once the engine has recorded its end (the stream can close a moment before). */
export function execEnded(s: Scope, e: Dockerode.Exec): Promise<Dockerode.ExecInspectInfo> {
  return pollUntil('the exec is recorded as ended', async () => {
    const i = await e.inspect();
    return i.Running ? undefined : i;
  }, s.signal, 30_000);
}

/** Runs `cmd` in a running container (non-TTY exec) to its end; the exit code from ExecInspect. */
export async function execIn(s: Scope, c: Dockerode.Container, cmd: readonly string[], opts: ExecInOptions = {}): Promise<ExecResult> {
  const e = await c.exec({ ...opts, Cmd: [...cmd], AttachStdout: true, AttachStderr: true, abortSignal: s.signal });
  const out = demux(s.api, await e.start({ hijack: true, stdin: false, abortSignal: s.signal }));
  await out.ended;
  const info = await execEnded(s, e);
  return { stdout: out.stdout.text, stderr: out.stderr.text, exitCode: info.ExitCode ?? -1, info };
}

/** `sh -c script` in a running container; its stdout, or an error naming the container, the script and what it printed. */
export async function shIn(s: Scope, c: Dockerode.Container, script: string): Promise<string> {
  const r = await execIn(s, c, ['sh', '-c', script]);
  if (r.exitCode !== 0) throw new Error(`\`${script}\` in ${c.id.slice(0, 12)} exited ${r.exitCode}: ${JSON.stringify((r.stderr || r.stdout).slice(-400))}`);
  return r.stdout;
}
