import { ExitCode } from '../core/errors.js';
import { failsRun, type RunResult } from '../core/result.js';

/**
 * 130 when interrupted; 1 when any kernel test failed, timed out or crashed (proven whatever else
 * happened) unless the expectations file lists it, or when a listed test unexpectedly passed;
 * 3 when the harness failed (a cloud resource teardown could not delete included); 0 when everything passed, was skipped, or failed as expected.
 */
export function exitCodeFor(result: RunResult): ExitCode {
  if (result.run.interrupted) return ExitCode.interrupted;
  if (result.tests.some(failsRun)) return ExitCode.testFailed;
  if (result.run.infraError || result.tests.some((t) => t.status === 'infraError')) return ExitCode.infra;
  // A leaked cloud resource costs money until someone deletes it: the run must not look clean.
  if (result.sessions.some((s) => s.cloud && !s.cloud.cleanedUp)) return ExitCode.infra;
  return ExitCode.ok;
}
