/**
 * Typed errors. Each carries the process exit code it maps to and, where we know one, the fix,
 * so the CLI can print "what went wrong" and "what to do" without guessing.
 */

import type { ExitInfo } from './result.js';

/** Process exit codes, documented in the README. */
export const ExitCode = {
  ok: 0,
  testFailed: 1,
  usage: 2,
  infra: 3,
  interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export abstract class TsuiteError extends Error {
  abstract readonly exitCode: ExitCode;
  constructor(
    message: string,
    /** What the user should do about it. */
    readonly fix?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Wrong flag, unknown target/suite/reporter, malformed config: the user's input is at fault. */
export class UsageError extends TsuiteError {
  readonly exitCode = ExitCode.usage;
}

/** One or more config fields are invalid; all problems are collected, never just the first. */
export class ConfigError extends UsageError {
  constructor(
    readonly file: string,
    readonly problems: readonly { path: string; message: string; fix?: string }[],
  ) {
    super(
      `${file}: ${problems.length} problem(s):\n` +
        problems.map((p) => `  - ${p.path || '(root)'}: ${p.message}${p.fix ? ` (fix: ${p.fix})` : ''}`).join('\n'),
    );
  }
}

/** The host or harness failed (missing QEMU, no kernel cache, disk full): never the kernel's fault. */
export class InfraError extends TsuiteError {
  readonly exitCode = ExitCode.infra;
}

/** The run was interrupted by SIGINT/SIGTERM. */
export class InterruptedError extends TsuiteError {
  readonly exitCode = ExitCode.interrupted;
  constructor(readonly signal: string) {
    super(`interrupted by ${signal}`);
  }
}

/** Why a boot did not reach its landmark: the kernel's fault, reported against the tests. */
export class BootFailure extends Error {
  constructor(
    readonly kind: 'timedOut' | 'crashed',
    message: string,
    /** Last lines of the console, for the error shown with each affected test. */
    readonly consoleTail: string,
    /** The accelerator the failed boot ran under, for the report. */
    readonly accel?: 'kvm' | 'tcg',
    /** How the machine ended, when there was one. */
    readonly exit?: ExitInfo,
  ) {
    super(message);
    this.name = 'BootFailure';
  }
}

export function describeError(err: unknown): string {
  if (err instanceof TsuiteError) return err.fix ? `${err.message}\n  fix: ${err.fix}` : err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}
