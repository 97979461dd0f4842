/** Polls `read` every half second until `done` holds, or fails after `timeoutMs` naming what was last seen. */
export async function pollUntil<T>(signal: AbortSignal, read: () => Promise<T>, done: (x: T) => boolean, what: string, show: (x: T) => string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const x = await read();
    if (done(x)) return x;
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs / 1000} s: last ${show(x)}`);
    await new Promise((r) => setTimeout(r, 500));
    signal.throwIfAborted();
  }
}
