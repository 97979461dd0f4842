/**
 * Runs the sessions of a plan at most `workers` at a time (`tsuite run --workers N`). Sessions are
 * started in plan order; a running session may claim the ones after it that nobody has started
 * (a machine left up serves the next session of its key, as in a serial run), and a claimed one
 * is never started on its own. With one worker this is exactly the serial loop.
 *
 * Callers keep results by index, so what finishes first never changes the order of the output.
 */
export class SessionPool {
  private readonly started: boolean[];
  private nextIndex = 0;

  constructor(
    readonly total: number,
    readonly workers: number,
  ) {
    if (!Number.isInteger(workers) || workers < 1) throw new RangeError(`a pool needs at least one worker, not ${workers}`);
    this.started = new Array<boolean>(total).fill(false);
  }

  /** Takes `index` for the caller when no worker has started it: true when it is now the caller's. */
  claim(index: number): boolean {
    if (index < 0 || index >= this.total || this.started[index]) return false;
    this.started[index] = true;
    return true;
  }

  private take(): number | undefined {
    while (this.nextIndex < this.total) {
      const i = this.nextIndex++;
      if (this.claim(i)) return i;
    }
    return undefined;
  }

  /**
   * Calls `work` for every index not claimed by another call, at most `workers` at once. A call that
   * throws stops new starts; the ones running are awaited, then the first error is rethrown (a
   * session's own failures are results, not throws: only a usage or harness error gets here).
   */
  async run(work: (index: number) => Promise<void>): Promise<void> {
    let failure: { err: unknown } | undefined;
    const lane = async () => {
      for (let i = this.take(); i !== undefined && !failure; i = failure ? undefined : this.take()) {
        try {
          await work(i);
        } catch (err) {
          failure ??= { err };
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.workers, Math.max(this.total, 1)) }, lane));
    if (failure) throw failure.err;
  }
}

/**
 * Serializes async jobs: a session's buffered reporter events are replayed as one block, never
 * interleaved with another session's.
 */
export function serialQueue(): (job: () => Promise<void>) => Promise<void> {
  let tail: Promise<void> = Promise.resolve();
  return (job) => {
    const next = tail.then(job, job);
    tail = next.catch(() => undefined);
    return next;
  };
}
