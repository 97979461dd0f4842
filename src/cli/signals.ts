import { InterruptedError } from '../core/errors.js';

/**
 * Turns SIGINT/SIGTERM into an abort of the run, so every open session is shut down and the
 * partial results are written. A second signal exits at once (children are still killed on exit).
 */
export function abortOnSignals(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const handler = (sig: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      process.stderr.write(`\ntsuite: ${sig} again, exiting now\n`);
      process.exit(130);
    }
    process.stderr.write(`\ntsuite: ${sig} received, stopping machines and writing partial results (again to force)\n`);
    controller.abort(new InterruptedError(sig));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: controller.signal,
    dispose() {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}
