import { ExitCode } from '../core/errors.js';
import { isKernelFailure, type RunResult } from '../core/result.js';

/**
 * 130 when interrupted; 1 when any kernel test failed, timed out or crashed (proven whatever else
 * happened); 3 when the harness failed; 0 when everything passed or was skipped.
 */
export function exitCodeFor(result: RunResult): ExitCode {
  if (result.run.interrupted) return ExitCode.interrupted;
  if (result.tests.some((t) => isKernelFailure(t.status))) return ExitCode.testFailed;
  if (result.run.infraError || result.tests.some((t) => t.status === 'infraError')) return ExitCode.infra;
  return ExitCode.ok;
}
