import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, readFile, realpath, writeFile } from 'node:fs/promises';
import { constants, machine, release, version } from 'node:os';
import { dirname, posix, resolve } from 'node:path';
import { AgentError } from '../../src/channels/agent-error.js';
import { DEFAULT_EXEC_TIMEOUT_MS, type AgentInfo, type ExecOptions, type ExecResult, type OsInfo } from '../../src/channels/agent.js';
import type { GuestAgent } from '../../src/channels/guest-agent.js';
import { trackChild } from '../../src/core/child-processes.js';
import { killTree } from './process-tree.js';

/** What QGA keeps of each output stream; more is cut off and `truncated` set, as qemu-ga does. */
const MAX_OUTPUT_BYTES = 16 * 2 ** 20;

/** The QGA subset this agent answers (`guest-shutdown` is refused: tsuite never powers off its own host). */
const COMMANDS = ['guest-ping', 'guest-info', 'guest-get-osinfo', 'guest-exec', 'guest-exec-status', 'guest-file-open', 'guest-file-read', 'guest-file-write', 'guest-file-close'];

const FIX_WRITE = 'write under the agent\'s scratchRoot (guestPath(agent, path) maps a guest path there)';

interface Running {
  child: ChildProcess;
  result: Promise<ExecResult>;
  done?: ExecResult;
}

/**
 * The `agent` channel on the host tsuite runs on (the `local` runner). Commands run as tsuite's own
 * user with child_process, each in its own process group, with cwd `<scratchRoot>/tmp`; files are
 * read anywhere but written only under `scratchRoot`, so a test cannot change the host outside the
 * session's temp dir through it. Every process it started is killed when it closes.
 */
export class LocalAgent implements GuestAgent {
  private readonly running = new Map<number, Running>();
  private closed = false;

  constructor(readonly scratchRoot: string) {}

  get isClosed(): boolean {
    return this.closed;
  }

  async ping(): Promise<void> {
    this.alive('guest-ping');
  }

  async info(): Promise<AgentInfo> {
    this.alive('guest-info');
    return { version: `tsuite local agent (node ${process.version})`, commands: COMMANDS.map((name) => ({ name, enabled: true, successResponse: true })) };
  }

  async osInfo(): Promise<OsInfo> {
    this.alive('guest-get-osinfo');
    const os = osRelease();
    return {
      kernelRelease: release(), kernelVersion: version(), machine: machine(), id: os.ID, name: os.NAME,
      prettyName: os.PRETTY_NAME, version: os.VERSION, versionId: os.VERSION_ID,
    };
  }

  async execStart(argv: readonly string[], options: ExecOptions = {}): Promise<number> {
    this.alive('guest-exec');
    if (argv.length === 0) throw new AgentError('rejected', 'guest-exec', 'exec needs a program to run', 'pass argv with the program first');
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: posix.join(this.scratchRoot, 'tmp'),
      env: options.env ? { ...options.env } : process.env,
      // Its own process group: a terminal's Ctrl-C reaches tsuite only, which then kills the tree.
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const started = await new Promise<number>((resolveStart, reject) => {
      child.once('spawn', () => resolveStart(child.pid!));
      child.once('error', (err) => reject(new AgentError('rejected', 'guest-exec', `cannot run ${argv[0]}: ${err.message}`, 'check the program exists on this host', 'GenericError')));
    });
    trackChild(child);
    child.stdin!.on('error', () => undefined); // a command that never reads its input
    child.stdin!.end(options.input === undefined ? undefined : Buffer.from(options.input));
    const entry: Running = { child, result: collect(child) };
    entry.result.then((r) => (entry.done = r), () => undefined);
    this.running.set(started, entry);
    return started;
  }

  async execStatus(pid: number): Promise<ExecResult | undefined> {
    this.alive('guest-exec-status');
    const entry = this.running.get(pid);
    if (!entry) throw new AgentError('rejected', 'guest-exec-status', `no command with pid ${pid} (it never started here, or its end was already reported)`, undefined, 'GenericError');
    if (!entry.done) return undefined;
    this.running.delete(pid);
    return entry.done;
  }

  async exec(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    const limit = options.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;
    const pid = await this.execStart(argv, options);
    const entry = this.running.get(pid)!;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), limit)));
    const outcome = await Promise.race([entry.result, timedOut]).finally(() => clearTimeout(timer));
    if (outcome === 'timeout') {
      // Unlike a guest's qemu-ga, which leaves it running, the host keeps nothing a test started.
      killTree(pid);
      this.running.delete(pid);
      throw new AgentError('still-running', 'guest-exec', `\`${argv.join(' ')}\` (pid ${pid}) was still running after ${limit} ms; it was killed`,
        'raise the exec timeout, or find out why the command does not end');
    }
    this.running.delete(pid);
    return outcome;
  }

  async readFile(path: string): Promise<Buffer> {
    this.alive('guest-file-read');
    try {
      return await readFile(path);
    } catch (err) {
      throw new AgentError('rejected', 'guest-file-open', `cannot read ${path}: ${(err as Error).message}`, undefined, 'GenericError');
    }
  }

  async writeFile(path: string, data: Buffer | string, mode?: number): Promise<void> {
    this.alive('guest-file-write');
    await this.checkInside(path);
    try {
      // QGA creates files 0600; `mode` is applied afterwards, as AgentClient does with chmod.
      await writeFile(path, data, { mode: 0o600 });
      if (mode !== undefined) await chmod(path, mode);
    } catch (err) {
      throw new AgentError('rejected', 'guest-file-write', `cannot write ${path}: ${(err as Error).message}`, undefined, 'GenericError');
    }
  }

  async shutdown(): Promise<void> {
    throw new AgentError('rejected', 'guest-shutdown', 'the local target is the host tsuite runs on: tsuite never powers it off', 'tests that power off need a machine tsuite booted (a qemu or cloud target)', 'CommandDisabled');
  }

  /** Kills every process this agent started that is still running, with everything below it. */
  close(): void {
    this.closed = true;
    for (const [pid, entry] of this.running) {
      if (entry.child.exitCode === null && entry.child.signalCode === null) killTree(pid);
    }
    this.running.clear();
  }

  /** The processes this agent started that have not ended: for tests and the session's evidence. */
  get livePids(): number[] {
    return [...this.running].filter(([, e]) => e.child.exitCode === null && e.child.signalCode === null).map(([pid]) => pid);
  }

  private alive(command: string): void {
    if (this.closed) throw new AgentError('dead', command, `the local agent was closed (the session ended) before ${command}`, 'run the command while the session is open');
  }

  /** A write must land under the scratch root, symlinks resolved: the host outside it is not the session's. */
  private async checkInside(path: string): Promise<void> {
    const root = await realpath(this.scratchRoot);
    const parent = await realpath(dirname(resolve(path))).catch(() => undefined);
    const inside = (p: string) => p === root || p.startsWith(`${root}/`);
    if (!parent || !inside(parent) || !inside(resolve(parent, posix.basename(path)))) {
      throw new AgentError('rejected', 'guest-file-open', `the local agent writes only under its scratch root ${this.scratchRoot}, not ${path}`, FIX_WRITE, 'GenericError');
    }
  }
}

/** Output (each stream cut at QGA's limit) and how the command ended. */
function collect(child: ChildProcess): Promise<ExecResult> {
  const streams = [child.stdout!, child.stderr!].map((s) => {
    const acc = { parts: [] as Buffer[], bytes: 0, truncated: false };
    s.on('data', (b: Buffer) => {
      const room = MAX_OUTPUT_BYTES - acc.bytes;
      if (b.length > room) acc.truncated = true;
      if (room > 0) acc.parts.push(b.subarray(0, room));
      acc.bytes += Math.min(b.length, Math.max(room, 0));
    });
    return acc;
  });
  return new Promise((resolveResult) => {
    child.once('close', (code, signal) => {
      resolveResult({
        exitCode: code ?? undefined,
        signal: signal ? constants.signals[signal] : undefined,
        stdout: Buffer.concat(streams[0]!.parts),
        stderr: Buffer.concat(streams[1]!.parts),
        truncated: streams[0]!.truncated || streams[1]!.truncated,
      });
    });
  });
}

/** /etc/os-release as fields (empty when the host has none). */
function osRelease(): Record<string, string> {
  let text = '';
  try {
    text = readFileSync('/etc/os-release', 'utf8');
  } catch {
    return {};
  }
  const fields: Record<string, string> = {};
  for (const m of text.matchAll(/^([A-Z_]+)=("?)(.*)\2$/gm)) fields[m[1]!] = m[3]!;
  return fields;
}
