import { closeSync, openSync, writeSync } from 'node:fs';

/** A session's console.log, written by tsuite from the console stream it reads. */
export interface ConsoleLog {
  /** Appends bytes as QEMU sent them, before any test can see them. */
  write(chunk: Buffer): void;
  close(): void;
}

/**
 * Opens the session's console log for appending. tsuite writes it, not QEMU (`logfile=`): QEMU
 * logs a byte its stdout refused for the moment (EAGAIN, a full socket when tsuite is slow to
 * read) and then logs it again when the serial port sends it again, so the log gained bytes the
 * guest never printed ("tsuite-booot: ready" beside a live "tsuite-boot: ready"; seen on a
 * loaded 2-core host, and at will by pausing the reader). Written here, the log is exactly what
 * the tests saw. Appending, so a shell that does not echo can add what tsuite types
 * (guest-shell.ts). Each write is synchronous: what a test reads from disk is never behind the
 * stream, and a killed tsuite has lost nothing it had read.
 *
 * A write that fails (a full disk) is said once on stderr and ends the log; the run goes on,
 * and the boot suite's landmark-in-the-log check then names the gap.
 */
export function openConsoleLog(path: string): ConsoleLog {
  let fd: number | undefined = openSync(path, 'a');
  const stop = () => {
    if (fd !== undefined) closeSync(fd);
    fd = undefined;
  };
  return {
    write(chunk) {
      if (fd === undefined) return;
      try {
        writeSync(fd, chunk);
      } catch (err) {
        stop();
        process.stderr.write(`tsuite: ${path} could not be written, the rest of the console goes unlogged: ${(err as Error).message} (free disk space, then run again)\n`);
      }
    },
    close: stop,
  };
}
