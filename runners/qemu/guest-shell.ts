import { appendFileSync } from 'node:fs';
import { ShellChannel, type ShellSettings } from '../../src/channels/shell.js';
import { describeError } from '../../src/core/errors.js';
import type { QemuSession } from './qemu-session.js';

/**
 * Gives the session its `shell` channel once the prompt appears after the landmark. A prompt that
 * never comes is not a boot failure: the session lacks the channel and `shellProblem` says why, so
 * tests that need the shell fail with it (the target promised one).
 *
 * Every byte stays in console.log: QEMU logs what the guest sends, so a shell that echoes records
 * what was typed itself; for one that does not (`echo: false`), tsuite appends what it types to the
 * log (QEMU opens it in append mode) just before sending it, so the log reads as a transcript.
 */
export async function connectGuestShell(session: QemuSession, settings: ShellSettings, consoleLog: string, signal: AbortSignal): Promise<void> {
  const record = settings.echo === false ? (typed: string) => appendFileSync(consoleLog, typed) : undefined;
  const shell = new ShellChannel(session.console, settings, { record });
  try {
    await shell.ready({ signal });
    session.attachShell(shell);
  } catch (err) {
    shell.close();
    if (signal.aborted) throw err;
    session.shellProblem = describeError(err);
  }
}
