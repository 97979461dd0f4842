import { setTimeout as sleep } from 'node:timers/promises';
import { AgentConnection } from './agent-connection.js';
import { AgentError } from './agent-error.js';
import { toBase64 } from './agent-protocol.js';
import type { GuestAgent } from './guest-agent.js';

export { AgentError, type AgentErrorKind } from './agent-error.js';
export { DEFAULT_CONNECT_WAIT_MS, DEFAULT_REPLY_TIMEOUT_MS, DEFAULT_SYNC_TIMEOUT_MS, type AgentConnectOptions, type AgentOptions, type CallOptions } from './agent-connection.js';

/** Default limit for a guest command run by `exec`. */
export const DEFAULT_EXEC_TIMEOUT_MS = 60_000;
/** File data per guest-file-read/write: small enough for a slow guest, large enough to be quick. */
export const FILE_CHUNK_BYTES = 64 * 1024;

export interface AgentInfo {
  version: string;
  commands: { name: string; enabled: boolean; successResponse: boolean }[];
}

/** `guest-get-osinfo`, camel-cased; every field is optional in QGA. */
export interface OsInfo {
  kernelRelease?: string;
  kernelVersion?: string;
  machine?: string;
  id?: string;
  name?: string;
  prettyName?: string;
  version?: string;
  versionId?: string;
}

export interface ExecOptions {
  /** The command's whole environment (QGA replaces the agent's own with it, PATH included). */
  env?: Readonly<Record<string, string>>;
  /** Bytes for the command's stdin, which is then closed. */
  input?: Buffer | string;
  /** How long the command may run before `exec` rejects with `still-running`. */
  timeoutMs?: number;
}

export interface ExecResult {
  /** Set when the command exited; `signal` instead when a signal killed it. */
  exitCode?: number;
  signal?: number;
  stdout: Buffer;
  stderr: Buffer;
  /** The agent keeps at most 16 MiB per stream; more is cut off. */
  truncated: boolean;
}

/**
 * The guest agent, as tests use it: the QGA subset documented in the README (ping, info, osinfo,
 * exec, files, shutdown) over an AgentConnection. `AgentClient.connect(socketPath)` opens one.
 */
export class AgentClient extends AgentConnection implements GuestAgent {
  async ping(): Promise<void> {
    await this.call('guest-ping');
  }

  async info(): Promise<AgentInfo> {
    const r = await this.call<{ version: string; supported_commands: { name: string; enabled: boolean; 'success-response': boolean }[] }>('guest-info');
    return { version: r.version, commands: r.supported_commands.map((c) => ({ name: c.name, enabled: c.enabled, successResponse: c['success-response'] })) };
  }

  async osInfo(): Promise<OsInfo> {
    const r = await this.call<Record<string, string | undefined>>('guest-get-osinfo');
    return {
      kernelRelease: r['kernel-release'], kernelVersion: r['kernel-version'], machine: r.machine, id: r.id,
      name: r.name, prettyName: r['pretty-name'], version: r.version, versionId: r['version-id'],
    };
  }

  /** Starts a guest command (`guest-exec`, output captured) and returns its guest pid. */
  async execStart(argv: readonly string[], options: ExecOptions = {}): Promise<number> {
    if (argv.length === 0) throw new AgentError('rejected', 'guest-exec', 'exec needs a program to run', 'pass argv with the program first');
    const args: Record<string, unknown> = { path: argv[0], arg: argv.slice(1), 'capture-output': true };
    if (options.env) args.env = Object.entries(options.env).map(([k, v]) => `${k}=${v}`);
    if (options.input !== undefined) args['input-data'] = toBase64(options.input);
    return (await this.call<{ pid: number }>('guest-exec', args)).pid;
  }

  /** One `guest-exec-status`: undefined while the command runs. The agent forgets a command once it reported its end. */
  async execStatus(pid: number): Promise<ExecResult | undefined> {
    const r = await this.call<Record<string, unknown>>('guest-exec-status', { pid });
    if (!r.exited) return undefined;
    return {
      exitCode: typeof r.exitcode === 'number' ? r.exitcode : undefined,
      signal: typeof r.signal === 'number' ? r.signal : undefined,
      stdout: this.bytes('guest-exec-status', r['out-data']),
      stderr: this.bytes('guest-exec-status', r['err-data']),
      truncated: r['out-truncated'] === true || r['err-truncated'] === true,
    };
  }

  /** Runs a guest command to its end: `guest-exec`, then `guest-exec-status` until it has exited. */
  async exec(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    const limit = options.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;
    const pid = await this.execStart(argv, options);
    const deadline = Date.now() + limit;
    // Poll fast first (most commands end in milliseconds), then back off.
    for (let delay = 1; ; delay = Math.min(delay * 2, 50)) {
      const status = await this.execStatus(pid);
      if (status) return status;
      if (Date.now() >= deadline) {
        throw new AgentError('still-running', 'guest-exec', `\`${argv.join(' ')}\` (guest pid ${pid}) was still running after ${limit} ms`,
          'raise the exec timeout, or find out why the command does not end in the guest');
      }
      await sleep(delay);
    }
  }

  /** Reads a whole guest file, in chunks. */
  async readFile(path: string): Promise<Buffer> {
    const handle = await this.call<number>('guest-file-open', { path, mode: 'r' });
    const parts: Buffer[] = [];
    try {
      for (;;) {
        const r = await this.call<{ count: number; 'buf-b64': string; eof: boolean }>('guest-file-read', { handle, count: FILE_CHUNK_BYTES });
        parts.push(this.bytes('guest-file-read', r['buf-b64']));
        if (r.eof || r.count === 0) break;
      }
    } finally {
      await this.call('guest-file-close', { handle }).catch(() => undefined);
    }
    return Buffer.concat(parts);
  }

  /**
   * Writes a whole guest file (created or truncated), in chunks. `mode` (e.g. 0o755) is applied with
   * the guest's `chmod`, since QGA creates files 0600 and has no command for modes.
   */
  async writeFile(path: string, data: Buffer | string, mode?: number): Promise<void> {
    const bytes = Buffer.from(data);
    const handle = await this.call<number>('guest-file-open', { path, mode: 'w' });
    try {
      for (let at = 0; at < bytes.length; ) {
        const chunk = bytes.subarray(at, at + FILE_CHUNK_BYTES);
        const r = await this.call<{ count: number }>('guest-file-write', { handle, 'buf-b64': toBase64(chunk) });
        if (!(r.count > 0)) throw new AgentError('rejected', 'guest-file-write', `the agent wrote nothing to ${path} at offset ${at}`, 'check the guest file system (full? read-only?)');
        at += r.count;
      }
    } finally {
      await this.call('guest-file-close', { handle }).catch(() => undefined);
    }
    if (mode === undefined) return;
    const chmod = await this.exec(['chmod', mode.toString(8), path]);
    if (chmod.exitCode !== 0) {
      throw new AgentError('rejected', 'guest-exec', `chmod ${mode.toString(8)} ${path} failed in the guest: ${chmod.stderr.toString().trim()}`, 'the guest needs a chmod program on its PATH');
    }
  }

  /**
   * Asks the guest to power off (or halt, reboot). QGA sends no reply on success, so this resolves
   * once the request is sent and no error came back within a second.
   */
  shutdown(mode: 'powerdown' | 'halt' | 'reboot' = 'powerdown'): Promise<void> {
    return this.callWithoutReply('guest-shutdown', { mode }, 1_000);
  }
}
