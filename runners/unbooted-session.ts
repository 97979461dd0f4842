import type { ExitInfo } from '../src/core/session.js';

/**
 * What every session on something tsuite did not boot shares (this host, a machine over SSH, a
 * Docker or CRI endpoint): no accelerator, nothing to power off, and an end that happens once —
 * the first shutdown records why and stops what the session holds; later ones return that exit.
 */
export abstract class UnbootedSession {
  readonly accel = 'none' as const;
  readonly canPowerOff = false;
  exit?: ExitInfo;
  readonly ended: Promise<ExitInfo>;
  private finish!: (exit: ExitInfo) => void;

  /** `what`: the session's kind in words, for the default shutdown reason (`local session closed`). */
  constructor(private readonly what: string) {
    this.ended = new Promise((resolve) => (this.finish = resolve));
  }

  /** Stops what the session holds (its processes, its connection); runs once, after `exit` is set. */
  protected abstract stop(reason: string): Promise<void> | void;

  async shutdown(reason = `${this.what} session closed`): Promise<ExitInfo> {
    if (!this.exit) {
      this.exit = { kind: 'clean', detail: reason };
      await this.stop(reason);
      this.finish(this.exit);
    }
    return this.exit;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }
}
