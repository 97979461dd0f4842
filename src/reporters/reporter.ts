import type { RunInfo, RunResult, SessionResult, TestResult } from '../core/result.js';

/** What a reporter is told when a test begins. */
export interface TestStart {
  id: string;
  suite: string;
  title: string;
  session: string;
}

/**
 * Every hook is optional and may be async; the dispatcher awaits each in order. Reporters only read
 * the result model: they never import runners or suites.
 */
export interface Reporter {
  readonly name: string;
  onRunStart?(run: RunInfo): void | Promise<void>;
  onSessionStart?(session: SessionResult): void | Promise<void>;
  onTestStart?(test: TestStart): void | Promise<void>;
  /**
   * With several sessions at once (`--workers`), what each running session is doing, whenever that
   * changes: the other hooks then come as one block per session when it ends. A TTY's live line.
   */
  onProgress?(running: readonly RunningSession[]): void | Promise<void>;
  /** A console line from a session, as it arrives. */
  onOutput?(session: string, line: string): void | Promise<void>;
  onTestEnd?(result: TestResult): void | Promise<void>;
  onSessionEnd?(session: SessionResult): void | Promise<void>;
  /** A harness problem outside a test (it is also recorded in the result model). */
  onError?(message: string): void | Promise<void>;
  /** The final, complete model: file reporters write here. */
  onRunEnd?(result: RunResult): void | Promise<void>;
}

/** A session that is booting (no test yet) or running a test. */
export interface RunningSession {
  session: string;
  test?: string;
}

export interface ReporterOptions {
  /** Where file reporters write (`reports/<run-id>/` by default). */
  outputDir: string;
  /** Where the console reporter writes; stdout by default. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
}

export type ReporterFactory = (options: ReporterOptions) => Reporter;
