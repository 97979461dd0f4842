import { posix } from 'node:path';
import type { AgentInfo, ExecOptions, ExecResult, OsInfo } from './agent.js';

/**
 * The `agent` channel as tests see it: the QGA subset (ping, info, osinfo, exec, files, shutdown).
 * `AgentClient` speaks it to a guest's qemu-ga; the `local` runner implements it on this host.
 */
export interface GuestAgent {
  ping(): Promise<void>;
  info(): Promise<AgentInfo>;
  osInfo(): Promise<OsInfo>;
  /** Starts a command (output captured) and returns its pid. */
  execStart(argv: readonly string[], options?: ExecOptions): Promise<number>;
  /** Undefined while the command runs; its result once, after it exited. */
  execStatus(pid: number): Promise<ExecResult | undefined>;
  /** Runs a command to its end. */
  exec(argv: readonly string[], options?: ExecOptions): Promise<ExecResult>;
  readFile(path: string): Promise<Buffer>;
  writeFile(path: string, data: Buffer | string, mode?: number): Promise<void>;
  shutdown(mode?: 'powerdown' | 'halt' | 'reboot'): Promise<void>;
  close(): void;
  readonly isClosed: boolean;
  /**
   * Set when the "guest" is a machine the session does not own (the host tsuite runs on): the
   * folder that stands for the guest's root for everything a test creates (uploads, working
   * directories). Absent for a real guest, whose whole file system is the session's.
   */
  readonly scratchRoot?: string;
}

/**
 * Where a guest path a test writes to really is: the path itself in a guest, or the same path under
 * the agent's scratch root on a machine the session must not change (`/opt/tsuite/probes` →
 * `<scratch>/opt/tsuite/probes`).
 */
export function guestPath(agent: Pick<GuestAgent, 'scratchRoot'>, path: string): string {
  return agent.scratchRoot === undefined ? path : posix.join(agent.scratchRoot, path);
}

/** A path as one shell word: unchanged when it needs no quoting, else single-quoted. */
export function shellWord(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}
