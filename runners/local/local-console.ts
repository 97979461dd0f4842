import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { ConsoleChannel } from '../../src/channels/console.js';
import { trackChild } from '../../src/core/child-processes.js';

/** Lines tsuite itself adds to a local session's console start with this. */
export const LOCAL_NOTE = 'tsuite-local:';

/**
 * A local session's console. The host has no serial port tsuite owns; what stands for one is the
 * host kernel's own log from the session's start on (`dmesg --follow-new`), so that a panic, oops
 * or WARN a probe provokes is seen exactly as on a guest's console (probe results turn `crashed`,
 * isolation/kernel-health fails). Reading it needs CAP_SYSLOG where kernel.dmesg_restrict=1
 * (Debian's default): without it, the console holds only tsuite's notes, one of which says why.
 * Every line is also appended to console.log in the session folder.
 */
export class LocalConsole {
  readonly channel: ConsoleChannel;
  /** Why the kernel log is not on this console; undefined when it is. */
  readonly kernelLogProblem?: string;
  private readonly dmesg?: ChildProcess;
  private readonly logFile: string;

  constructor(dir: string, onLine?: (line: string) => void, kmsgPath = '/dev/kmsg') {
    this.logFile = join(dir, 'console.log');
    appendFileSync(this.logFile, '');
    this.channel = new ConsoleChannel();
    this.channel.onLine((l) => {
      appendFileSync(this.logFile, `${l.text}\n`);
      onLine?.(l.text);
    });
    this.kernelLogProblem = kernelLogProblem(kmsgPath);
    if (this.kernelLogProblem) return;
    this.dmesg = spawn('dmesg', ['--follow-new', '--color=never'], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    trackChild(this.dmesg);
    this.dmesg.on('error', (err) => this.note(`the kernel log stopped: ${err.message}`));
    this.dmesg.stdout!.setEncoding('utf8').on('data', (chunk: string) => this.channel.push(chunk));
    let stderr = '';
    this.dmesg.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    this.dmesg.on('exit', (code, signal) => {
      if (!this.channel.isClosed && signal !== 'SIGTERM') this.note(`dmesg ended (${code ?? signal}): ${stderr.trim() || 'no message'}; the kernel log is no longer on this console`);
    });
  }

  /** A line from tsuite itself. */
  note(text: string): void {
    if (this.channel.isClosed) return;
    // A kernel line still unterminated stays whole: the note goes on its own line.
    if (this.channel.partialLine) this.channel.push('\n');
    this.channel.push(`${LOCAL_NOTE} ${text}\n`);
  }

  /** Stops following the kernel log and closes the console. */
  close(): void {
    if (this.dmesg && this.dmesg.exitCode === null && this.dmesg.signalCode === null) {
      try {
        process.kill(-this.dmesg.pid!, 'SIGTERM');
      } catch {
        this.dmesg.kill('SIGTERM');
      }
    }
    this.channel.end();
  }
}

/** Why the kernel log cannot be read here (opening /dev/kmsg is the same permission check dmesg meets). */
function kernelLogProblem(kmsgPath: string): string | undefined {
  try {
    closeSync(openSync(kmsgPath, 'r'));
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'EPERM' || code === 'EACCES'
      ? `the kernel log is not readable by this user (${code} on ${kmsgPath}; kernel.dmesg_restrict=1 needs CAP_SYSLOG): this console holds tsuite's notes only`
      : `no kernel log (${kmsgPath}: ${code ?? (err as Error).message}): this console holds tsuite's notes only`;
  }
}
