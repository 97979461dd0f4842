import type * as Ssh2 from 'ssh2';
import type { Client, ClientChannel, SFTPWrapper } from 'ssh2';
import { lazyRequire } from '../core/lazy-require.js';
import { connectError, describeEndpoint, prepareConnect, SshError, type SshEndpoint } from './ssh-connect.js';
import { shellWord } from './guest-agent.js';

export { SshError, PASSPHRASE_ENV, type SshEndpoint } from './ssh-connect.js';

// ssh2 costs ~80 ms to import, and the library index re-exports this channel: loaded at the first connection.
const ssh2 = lazyRequire<typeof Ssh2>('ssh2');

/** How long the handshake (TCP, keys, login) may take. */
export const SSH_READY_TIMEOUT_MS = 20_000;
/** Keepalives every 5 s, 3 unanswered in a row end the connection: a machine that vanished is noticed in ~20 s. */
const KEEPALIVE_MS = 5_000;
const KEEPALIVE_COUNT_MAX = 3;
/** Default limit of one command. */
export const SSH_EXEC_TIMEOUT_MS = 60_000;
/** Limit of one SFTP transfer. */
const SFTP_TIMEOUT_MS = 120_000;
/** What is kept of each output stream (as QGA keeps); more is cut off and `truncated` set. */
const MAX_OUTPUT_BYTES = 16 * 2 ** 20;

export interface SshExecOptions {
  /** Bytes for the command's stdin, which is then closed (always closed: a command never waits on it). */
  input?: Buffer | string;
  timeoutMs?: number;
}

export interface SshExecResult {
  /** Set when the command exited; `signal` (e.g. `SIGKILL`, as Node names it) instead when a signal ended it. */
  exitCode?: number;
  signal?: string;
  stdout: Buffer;
  stderr: Buffer;
  truncated: boolean;
}

/** A command started with {@link SshChannel.start}: its remote pid once known, its end, and a way to kill it. */
export interface SshRunning {
  readonly pid: Promise<number>;
  readonly result: Promise<SshExecResult>;
  /** Kills the command and everything it started on the machine (its sshd session and its descendants). */
  kill(): Promise<void>;
}

/**
 * Kills a command's whole tree on the machine, given the pid of its shell. sshd makes each command
 * the leader of a session of its own, so the tree is that session plus any descendant that left it
 * (setsid), found through /proc's parent pids (POSIX sh only: a busybox machine runs it too). Each
 * process is stopped when found, so nothing forks while the tree is collected, then all are killed.
 */
const KILL_TREE = `root=$1; all=" $root "; kill -STOP "$root" 2>/dev/null; grew=1
while [ "$grew" = 1 ]; do grew=0
  for f in /proc/[0-9]*/stat; do
    p=\${f#/proc/}; p=\${p%/stat}
    case "$all" in *" $p "*) continue ;; esac
    read -r l < "$f" 2>/dev/null || continue
    r=\${l##*)}; set -- $r
    case "$all" in *" $2 "*) ;; *) [ "$4" = "$root" ] || continue ;; esac
    kill -STOP "$p" 2>/dev/null; all="$all$p "; grew=1
  done
done
kill -KILL $all 2>/dev/null; exit 0`;

/**
 * The `ssh` channel (ssh2): one authenticated connection to a machine tsuite did not boot, with the
 * host key checked against known_hosts (or a pinned fingerprint) before anything is sent. Commands
 * run through the login shell; their stdout's first line is their pid (stripped here), so a command
 * that outlives its limit is killed on the machine, not merely abandoned. Files go by SFTP. Every
 * failure is an SshError (an InfraError), and nothing waits forever: the handshake, each command
 * and each transfer have limits, and keepalives notice a connection that went silent.
 */
export class SshChannel {
  private closed = false;
  private sftpSession?: Promise<SFTPWrapper>;
  private readonly dropWatchers = new Set<(err: SshError) => void>();
  private dropError?: SshError;

  private constructor(
    private readonly client: Client,
    readonly endpoint: SshEndpoint,
    /** The host key the server presented and that was accepted. */
    readonly hostKey: { type: string; fingerprint: string },
  ) {
    const dropped = (why: string) => {
      if (this.closed) return;
      this.closed = true;
      this.dropError = new SshError('dropped', `the SSH connection to ${describeEndpoint(endpoint)} dropped (${why})`, 'check the machine is up and reachable; a command that was running may have been lost with it');
      for (const w of this.dropWatchers) w(this.dropError);
    };
    client.on('error', (err: Error) => dropped(err.message));
    client.on('close', () => dropped('the server closed it'));
  }

  /** Connects and logs in; rejects with an SshError (host key, refused key, no connection) or a UsageError (no key, unreadable file). */
  static async connect(endpoint: SshEndpoint, signal?: AbortSignal): Promise<SshChannel> {
    signal?.throwIfAborted();
    const prepared = await prepareConnect(endpoint, { readyTimeoutMs: SSH_READY_TIMEOUT_MS, keepaliveMs: KEEPALIVE_MS, keepaliveCountMax: KEEPALIVE_COUNT_MAX });
    const client = new (ssh2().Client)();
    return new Promise<SshChannel>((resolve, reject) => {
      const fail = (err: Error & { level?: string }) => {
        cleanup();
        client.end();
        reject(connectError(err, endpoint, prepared, SSH_READY_TIMEOUT_MS));
      };
      const onAbort = () => fail(new Error('the run was interrupted'));
      const cleanup = () => {
        client.off('error', fail);
        signal?.removeEventListener('abort', onAbort);
      };
      client.once('ready', () => {
        cleanup();
        resolve(new SshChannel(client, endpoint, prepared.seen()!));
      });
      client.on('error', fail);
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        client.connect(prepared.config);
      } catch (err) {
        // A key ssh2 cannot parse (encrypted without a passphrase, unknown format) throws here.
        fail(err as Error);
      }
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** `user@host:port`. */
  get name(): string {
    return describeEndpoint(this.endpoint);
  }

  /** Runs a shell command line to its end; past `timeoutMs` it is killed on the machine and this rejects with a `timeout` SshError. */
  async exec(command: string, options: SshExecOptions = {}): Promise<SshExecResult> {
    const limit = options.timeoutMs ?? SSH_EXEC_TIMEOUT_MS;
    const running = this.start(command, options);
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), limit)));
    const outcome = await Promise.race([running.result, expired]).finally(() => clearTimeout(timer));
    if (outcome !== 'timeout') return outcome;
    await running.kill();
    throw new SshError('timeout', `\`${command}\` was still running on ${this.name} after ${limit} ms; it was killed`, 'raise the time limit, or find out why the command does not end');
  }

  /** Starts a shell command line; see {@link SshRunning}. */
  start(command: string, options: Pick<SshExecOptions, 'input'> & { onStdout?: (chunk: Buffer) => void } = {}): SshRunning {
    let gotPid!: (pid: number) => void;
    let noPid!: (err: Error) => void;
    const pid = new Promise<number>((res, rej) => ((gotPid = res), (noPid = rej)));
    pid.catch(() => undefined);
    // The login shell execs sh, whose pid ($$) is the session leader sshd made: printed first, then the command runs.
    const wrapped = `exec /bin/sh -c ${shellWord(`echo $$; ${command}`)}`;
    const result = this.openExec(wrapped).then((stream) => collect(stream, options.input, gotPid, this.dropWatchers, this.name, options.onStdout));
    result.catch((err: Error) => noPid(err));
    return {
      pid,
      result,
      kill: async () => {
        const remote = await pid.catch(() => undefined);
        if (remote === undefined || this.closed) return;
        await this.killTree(remote);
      },
    };
  }

  /** Writes a file on the machine by SFTP (mode applied after writing, as the agent does). */
  async writeFile(remotePath: string, data: Buffer | string, mode = 0o644): Promise<void> {
    const sftp = await this.sftp();
    await this.transfer(`write ${remotePath}`, (done) => sftp.writeFile(remotePath, data, { mode }, done));
    await this.transfer(`chmod ${remotePath}`, (done) => sftp.chmod(remotePath, mode, done));
  }

  /** Reads a file from the machine by SFTP. */
  async readFile(remotePath: string): Promise<Buffer> {
    const sftp = await this.sftp();
    return this.transfer<Buffer>(`read ${remotePath}`, (done) => sftp.readFile(remotePath, done));
  }

  /**
   * One request and its answer, starting no process on the machine (an SFTP `realpath`): the SSH
   * counterpart of QGA's `guest-ping`, cheap enough to time round trips with.
   */
  async ping(): Promise<void> {
    const sftp = await this.sftp();
    await this.transfer<string>('realpath .', (done) => sftp.realpath('.', done));
  }

  /** Ends the connection (a running command's sshd session ends with it). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.end();
  }

  private async killTree(pid: number): Promise<void> {
    const stream = await this.openExec(`exec /bin/sh -c ${shellWord(KILL_TREE)} sh ${pid}`).catch(() => undefined);
    if (!stream) return;
    await Promise.race([
      collect(stream, undefined, () => undefined, this.dropWatchers, this.name).catch(() => undefined),
      new Promise((r) => setTimeout(r, 10_000).unref()),
    ]);
  }

  private openExec(command: string): Promise<ClientChannel> {
    if (this.closed) return Promise.reject(this.dropError ?? new SshError('dropped', `the SSH connection to ${this.name} is closed`, 'run commands while the session is open'));
    return new Promise((resolve, reject) => {
      this.client.exec(command, (err, stream) => (err ? reject(new SshError('dropped', `${this.name} refused to start a command: ${err.message}`, 'check the machine allows sessions (MaxSessions in sshd_config)')) : resolve(stream)));
    });
  }

  private sftp(): Promise<SFTPWrapper> {
    this.sftpSession ??= new Promise<SFTPWrapper>((resolve, reject) => {
      if (this.closed) return reject(this.dropError ?? new SshError('dropped', `the SSH connection to ${this.name} is closed`));
      this.client.sftp((err, sftp) => (err ? reject(new SshError('sftp', `${this.name} offers no SFTP: ${err.message}`, 'enable the sftp subsystem in the machine\'s sshd_config (Subsystem sftp internal-sftp)')) : resolve(sftp)));
    });
    this.sftpSession.catch(() => (this.sftpSession = undefined));
    return this.sftpSession;
  }

  /** One SFTP call with a limit and the connection's drop as failures. */
  private transfer<T = void>(what: string, call: (done: (err: Error | null | undefined, value?: T) => void) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const onDrop = (err: SshError) => settle(err);
      const timer = setTimeout(() => settle(new SshError('timeout', `SFTP ${what} on ${this.name} took over ${SFTP_TIMEOUT_MS} ms`, 'check the machine\'s disk and network')), SFTP_TIMEOUT_MS);
      const settle = (err?: Error, value?: T) => {
        clearTimeout(timer);
        this.dropWatchers.delete(onDrop);
        if (err) reject(err);
        else resolve(value as T);
      };
      this.dropWatchers.add(onDrop);
      call((err, value) => (err ? settle(new SshError('sftp', `SFTP ${what} on ${this.name} failed: ${err.message}`)) : settle(undefined, value)));
    });
  }
}

/** Collects a command's output (stripping the pid line) until its channel closes; a dropped connection rejects. */
function collect(
  stream: ClientChannel, input: Buffer | string | undefined, onPid: (pid: number) => void, drops: Set<(err: SshError) => void>, name: string,
  onStdout?: (chunk: Buffer) => void,
): Promise<SshExecResult> {
  return new Promise((resolve, reject) => {
    const out = sink(onStdout);
    const err = sink();
    let head = Buffer.alloc(0);
    let pidSeen = false;
    let exit: { code?: number; signal?: string } | undefined;
    stream.on('data', (b: Buffer) => {
      if (pidSeen) return out.push(b);
      head = Buffer.concat([head, b]);
      const nl = head.indexOf(10);
      if (nl < 0) return;
      pidSeen = true;
      onPid(Number(head.subarray(0, nl).toString('latin1')));
      out.push(head.subarray(nl + 1));
    });
    stream.stderr.on('data', (b: Buffer) => err.push(b));
    stream.on('exit', (code: number | null, signal?: string) => (exit = code === null || code === undefined ? { signal: signal && !signal.startsWith('SIG') ? `SIG${signal}` : signal } : { code }));
    const onDrop = (e: SshError) => finish(e);
    drops.add(onDrop);
    const finish = (e?: Error) => {
      drops.delete(onDrop);
      if (e) return reject(e);
      if (!exit) return reject(new SshError('dropped', `a command on ${name} ended without an exit status (its session was closed under it)`, 'check the machine is up; the connection may have dropped'));
      resolve({ exitCode: exit.code, signal: exit.signal, stdout: out.data(), stderr: err.data(), truncated: out.truncated || err.truncated });
    };
    stream.on('close', () => finish());
    stream.on('error', (e: Error) => finish(new SshError('dropped', `a command's channel on ${name} failed: ${e.message}`)));
    stream.end(input === undefined ? undefined : Buffer.from(input));
  });
}

/** An output stream kept up to MAX_OUTPUT_BYTES. */
function sink(live?: (chunk: Buffer) => void) {
  const parts: Buffer[] = [];
  let bytes = 0;
  let truncated = false;
  return {
    push(b: Buffer) {
      if (live) {
        // A live reader (a console) takes the stream as it comes; nothing is kept.
        if (b.length > 0) live(b);
        return;
      }
      const room = MAX_OUTPUT_BYTES - bytes;
      if (b.length > room) truncated = true;
      if (room > 0) parts.push(b.subarray(0, room));
      bytes += Math.min(b.length, Math.max(room, 0));
    },
    data: () => Buffer.concat(parts),
    get truncated() {
      return truncated;
    },
  };
}
