import { setTimeout as sleep } from 'node:timers/promises';
import { ConsoleClosed, ExpectTimeout, type ConsoleMatch } from '../../src/channels/console.js';
import { BootFailure } from '../../src/core/errors.js';
import type { ProvisionRequest } from '../../src/core/runner.js';
import { isPanicLine } from '../../src/parsers/kernel-events.js';
import type { CloudSession } from './cloud-session.js';
import type { SerialConsole } from './serial-console.js';

/** After a panic line, how long the console is still read for the rest of the trace. */
const PANIC_TRACE_MS = 5_000;

/**
 * The boot landmark on a cloud console, raced against a panic line, the instance stopping, the
 * console becoming unreadable, the boot timeout and an abort. A panic or a timeout is the kernel's
 * (BootFailure); an unreadable console is the provider's (its CloudApiError passes through).
 */
export async function waitForCloudLandmark(req: ProvisionRequest, session: CloudSession, serial: SerialConsole, signal: AbortSignal): Promise<ConsoleMatch> {
  const { console } = session;
  let off = () => {};
  const panic = new Promise<never>((_, reject) => {
    off = console.onLine((line, index) => {
      if (!isPanicLine(line.text, req.eventPatterns)) return;
      off();
      void sleep(PANIC_TRACE_MS).then(() =>
        reject(new BootFailure('crashed', `kernel panic during boot: ${line.text.trim()}`, console.tail(45, index + 40))));
    });
  });
  panic.catch(() => undefined);
  try {
    return await Promise.race([console.expect(req.landmark, { timeoutMs: req.bootTimeoutMs, signal }), panic, serial.lost]);
  } catch (err) {
    if (err instanceof ExpectTimeout) {
      throw new BootFailure('timedOut', `boot landmark ${req.landmark} not seen on the instance's serial console within ${req.bootTimeoutMs} ms: the kernel hung or never printed it`, console.tail(40));
    }
    if (err instanceof ConsoleClosed) {
      throw new BootFailure('crashed', `the instance stopped before the boot landmark ${req.landmark} (${session.exit?.detail ?? 'stopped'})`, console.tail(40));
    }
    throw err;
  } finally {
    off();
  }
}
