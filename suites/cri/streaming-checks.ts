import type { TestContext } from '../../src/index.js';

/** What the streaming tests share: the stream deadline and checks whose failures name expected and seen. */

/** The whole stream's deadline: every test command here ends within seconds, so reaching it means a hang. */
export const streamOpts = (ctx: TestContext) => ({ timeoutMs: 30_000, signal: ctx.signal });

/** Fails unless `seen` equals `want` (as JSON), naming what was checked, the expected and the seen value. */
export function same(what: string, seen: unknown, want: unknown): void {
  if (JSON.stringify(seen) !== JSON.stringify(want)) throw new Error(`${what}: expected ${JSON.stringify(want)}, saw ${JSON.stringify(seen)}`);
}

/** The error `work` ends with; a success is itself the failure, described by `what`. */
export async function failureOf(work: () => Promise<unknown>, what: string): Promise<Error> {
  let value: unknown;
  try {
    value = await work();
  } catch (err) {
    return err as Error;
  }
  throw new Error(`${what} succeeded (${JSON.stringify(value)?.slice(0, 300)}), expected it to fail`);
}
