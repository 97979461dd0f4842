import { constants } from 'node:os';
import { posix } from 'node:path';
import { AgentError } from '../../src/channels/agent-error.js';
import { DEFAULT_EXEC_TIMEOUT_MS, type AgentInfo, type ExecOptions, type ExecResult, type OsInfo } from '../../src/channels/agent.js';
import { shellWord, type GuestAgent } from '../../src/channels/guest-agent.js';
import type { SshChannel, SshExecResult, SshRunning } from '../../src/channels/ssh.js';

/** The QGA subset this agent answers (`guest-shutdown` is refused: the machine is not the session's). */
const COMMANDS = ['guest-ping', 'guest-info', 'guest-get-osinfo', 'guest-exec', 'guest-exec-status', 'guest-file-open', 'guest-file-read', 'guest-file-write', 'guest-file-close'];

interface Running {
  run: SshRunning;
  done?: ExecResult;
}

/**
 * The `agent` channel over SSH, for a machine tsuite did not boot (the `ssh` runner): the same
 * contract as the local runner's agent, on another machine. Commands run through the connection
 * with cwd `<scratchRoot>/tmp`; files are read anywhere and written only under `scratchRoot` (a
 * temp dir made on the machine for the session) by SFTP; a command past its limit is killed there,
 * with everything it started. `cleanup` kills what is still running and removes the scratch dir.
 */
export class SshAgent implements GuestAgent {
  private readonly running = new Map<number, Running>();
  private closed = false;

  constructor(readonly ssh: SshChannel, readonly scratchRoot: string) {}

  get isClosed(): boolean {
    return this.closed || this.ssh.isClosed;
  }

  async ping(): Promise<void> {
    this.alive('guest-ping');
    await this.ssh.ping();
  }

  async info(): Promise<AgentInfo> {
    this.alive('guest-info');
    return { version: `tsuite ssh agent (${this.ssh.name})`, commands: COMMANDS.map((name) => ({ name, enabled: true, successResponse: true })) };
  }

  async osInfo(): Promise<OsInfo> {
    this.alive('guest-get-osinfo');
    const res = await this.ssh.exec('uname -r; uname -v; uname -m; cat /etc/os-release 2>/dev/null', { timeoutMs: 10_000 });
    const [kernelRelease, kernelVersion, machine, ...rest] = res.stdout.toString('utf8').split('\n');
    const os: Record<string, string> = {};
    for (const m of rest.join('\n').matchAll(/^([A-Z_]+)=("?)(.*)\2$/gm)) os[m[1]!] = m[3]!;
    return { kernelRelease, kernelVersion, machine, id: os.ID, name: os.NAME, prettyName: os.PRETTY_NAME, version: os.VERSION, versionId: os.VERSION_ID };
  }

  async execStart(argv: readonly string[], options: ExecOptions = {}): Promise<number> {
    this.alive('guest-exec');
    if (argv.length === 0) throw new AgentError('rejected', 'guest-exec', 'exec needs a program to run', 'pass argv with the program first');
    // QGA replaces the whole environment with `env`: so does `env -i`.
    const env = options.env ? ['env', '-i', ...Object.entries(options.env).map(([k, v]) => `${k}=${v}`)] : [];
    const line = `cd ${shellWord(posix.join(this.scratchRoot, 'tmp'))} && exec ${[...env, ...argv].map(shellWord).join(' ')}`;
    const run = this.ssh.start(line, { input: options.input });
    const pid = await run.pid;
    const entry: Running = { run };
    run.result.then((r) => (entry.done = toExecResult(r)), () => undefined);
    this.running.set(pid, entry);
    return pid;
  }

  async execStatus(pid: number): Promise<ExecResult | undefined> {
    this.alive('guest-exec-status');
    const entry = this.running.get(pid);
    if (!entry) throw new AgentError('rejected', 'guest-exec-status', `no command with pid ${pid} (it never started here, or its end was already reported)`, undefined, 'GenericError');
    if (!entry.done) {
      // A dropped connection surfaces here rather than as a command that never ends.
      await Promise.race([entry.run.result, Promise.resolve()]);
      return undefined;
    }
    this.running.delete(pid);
    return entry.done;
  }

  async exec(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    const limit = options.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;
    const pid = await this.execStart(argv, options);
    const entry = this.running.get(pid)!;
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), limit)));
    try {
      const outcome = await Promise.race([entry.run.result, expired]);
      if (outcome !== 'timeout') return toExecResult(outcome);
      await entry.run.kill();
      throw new AgentError('still-running', 'guest-exec', `\`${argv.join(' ')}\` (pid ${pid} on ${this.ssh.name}) was still running after ${limit} ms; it was killed`,
        'raise the exec timeout, or find out why the command does not end');
    } finally {
      clearTimeout(timer);
      this.running.delete(pid);
    }
  }

  async readFile(path: string): Promise<Buffer> {
    this.alive('guest-file-read');
    try {
      return await this.ssh.readFile(path);
    } catch (err) {
      if ((err as { kind?: string }).kind !== 'sftp') throw err;
      throw new AgentError('rejected', 'guest-file-open', `cannot read ${path} on ${this.ssh.name}: ${(err as Error).message}`, undefined, 'GenericError');
    }
  }

  async writeFile(path: string, data: Buffer | string, mode = 0o600): Promise<void> {
    this.alive('guest-file-write');
    const target = posix.normalize(posix.resolve(this.scratchRoot, path));
    if (!target.startsWith(`${this.scratchRoot}/`)) {
      throw new AgentError('rejected', 'guest-file-open', `the ssh agent writes only under its scratch root ${this.scratchRoot} on ${this.ssh.name}, not ${path}`,
        "write under the agent's scratchRoot (guestPath(agent, path) maps a guest path there)", 'GenericError');
    }
    try {
      await this.ssh.writeFile(target, data, mode);
    } catch (err) {
      if ((err as { kind?: string }).kind !== 'sftp') throw err;
      throw new AgentError('rejected', 'guest-file-write', `cannot write ${path} on ${this.ssh.name}: ${(err as Error).message}`, undefined, 'GenericError');
    }
  }

  async shutdown(): Promise<void> {
    throw new AgentError('rejected', 'guest-shutdown', `the ssh target ${this.ssh.name} is a machine tsuite did not boot: tsuite never powers it off`,
      'tests that power off need a machine tsuite booted (a qemu or cloud target)', 'CommandDisabled');
  }

  /** Kills every command still running (with its tree) and removes the scratch dir; the connection stays for the caller to close. */
  async cleanup(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.running.values()].filter((e) => !e.done).map((e) => e.run.kill().catch(() => undefined)));
    this.running.clear();
    if (!this.ssh.isClosed) await this.ssh.exec(`rm -rf ${shellWord(this.scratchRoot)}`, { timeoutMs: 30_000 }).catch(() => undefined);
  }

  close(): void {
    this.closed = true;
  }

  private alive(command: string): void {
    if (this.closed) throw new AgentError('dead', command, `the ssh agent was closed (the session ended) before ${command}`, 'run the command while the session is open');
  }
}

/** An SSH exit as QGA reports it: a signal by number. */
function toExecResult(r: SshExecResult): ExecResult {
  const signal = r.signal === undefined ? undefined : (constants.signals as Record<string, number>)[r.signal];
  return { exitCode: r.exitCode, signal, stdout: r.stdout, stderr: r.stderr, truncated: r.truncated };
}
