import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConsoleChannel } from '../../src/channels/console.js';
import type { SshChannel, SshRunning } from '../../src/channels/ssh.js';

/** Lines tsuite itself adds to an ssh session's console start with this. */
export const SSH_NOTE = 'tsuite-ssh:';

/**
 * An ssh session's console: the machine has no serial port tsuite owns, so what stands for one is
 * its kernel log from the session's start on (`dmesg --follow-new` over the connection), as on the
 * local target: a panic, oops or WARN a probe provokes turns its results `crashed`. Without
 * CAP_SYSLOG there (a non-root user under kernel.dmesg_restrict=1) it holds tsuite's notes only,
 * one of which says why. Every line is also appended to console.log in the session folder.
 */
export class SshConsole {
  readonly channel = new ConsoleChannel();
  private readonly logFile: string;
  private follower?: SshRunning;
  private closing = false;

  constructor(dir: string, onLine?: (line: string) => void) {
    this.logFile = join(dir, 'console.log');
    appendFileSync(this.logFile, '');
    this.channel.onLine((l) => {
      appendFileSync(this.logFile, `${l.text}\n`);
      onLine?.(l.text);
    });
  }

  /** Starts following the machine's kernel log; resolves once dmesg runs (or has said why it cannot). */
  async follow(ssh: SshChannel): Promise<void> {
    // stderr joins stdout so a refusal is seen; dmesg prints kernel lines only, no ambiguity.
    const decoder = new TextDecoder();
    const run = ssh.start('exec dmesg --follow-new --color=never 2>&1', { onStdout: (b) => this.pushKernel(decoder.decode(b, { stream: true })) });
    this.follower = run;
    await run.pid.catch(() => undefined);
    run.result.then(
      (r) => {
        if (r.signal !== 'SIGKILL' && !this.closing) this.note(`the kernel log of ${ssh.name} stopped (dmesg ended: ${r.exitCode ?? r.signal}); this console no longer follows it`);
      },
      (err: Error) => this.closing || this.note(`the kernel log of ${ssh.name} stopped: ${err.message}`),
    );
  }

  /** A line from tsuite itself. */
  note(text: string): void {
    if (this.channel.isClosed) return;
    if (this.channel.partialLine) this.channel.push('\n');
    this.channel.push(`${SSH_NOTE} ${text}\n`);
  }

  /** Stops following the kernel log (kills dmesg on the machine) and closes the console. */
  async close(): Promise<void> {
    this.closing = true;
    await this.follower?.kill().catch(() => undefined);
    this.channel.end();
  }

  private pushKernel(text: string): void {
    if (!this.channel.isClosed && text) this.channel.push(text);
  }
}
