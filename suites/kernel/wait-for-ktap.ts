import { isPanicLine, parseKtapAll, type ConsoleChannel, type EventPatterns, type KtapDocument } from '../../src/index.js';

/** Without a top-level plan (KUnit as modules), the stream is over once results stop coming. */
export const KTAP_IDLE_MS = 10_000;

/** Lines that can complete a plan, or start or extend one: only these re-parse the console. */
const KTAP_LINE = /(^|\s)((not )?ok \d+|1\.\.\d+)/;

/** Every KTAP document the console held when the stream ended (KUnit as modules prints several). */
export type KtapEnd =
  | { why: 'complete' | 'console-closed' | 'idle'; docs: KtapDocument[] }
  | { why: 'panic'; docs: KtapDocument[]; panicLine: string };

const parse = (lines: readonly string[]) => parseKtapAll(lines);
const texts = (console: ConsoleChannel) => console.lines.map((l) => l.text);

/**
 * Complete when the last document with tests has a top-level plan and every planned result is in.
 * An empty `1..0` document does not count: a kernel with KUnit built in but its tests as modules
 * prints one at boot, and the modules' documents follow.
 */
export function ktapComplete(docs: readonly KtapDocument[]): boolean {
  const last = docs.filter(hasTests).at(-1);
  if (!last || last.expectedCount === undefined) return false;
  return last.tests.length >= last.expectedCount && last.tests.every((t) => t.status !== 'crashed');
}

const hasTests = (d: KtapDocument) => d.tests.length > 0 || (d.expectedCount ?? 0) > 0;

/** A top-level plan promises more results: wait for them (or a panic, or the end), not for quiet. */
const planPending = (docs: readonly KtapDocument[]) => docs.filter(hasTests).at(-1)?.expectedCount !== undefined && !ktapComplete(docs);

/**
 * How a stream that already holds `lines` ended, if it has, decided exactly as a live stream fed
 * the same lines one by one would be: the first of "a panic line" and "the line that completes the
 * plan" wins, and the documents are those of the lines up to it. So a saved log (`tsuite parse`)
 * and a live run of the same bytes agree: a panic printed after a complete plan is not a crash
 * during the tests, and nothing after the end of a complete plan is read.
 */
export function ktapEndOf(lines: readonly string[], patterns: EventPatterns): KtapEnd | undefined {
  const panicAt = lines.findIndex((l) => isPanicLine(l, patterns));
  const upToPanic = panicAt < 0 ? lines : lines.slice(0, panicAt + 1);
  // A document ends where its plan completes; the earliest complete prefix is where a live run stopped.
  const docs = parse(upToPanic);
  for (let k = 0; k < docs.length; k++) {
    const prefix = docs.slice(0, k + 1);
    if (!ktapComplete(prefix)) continue;
    const at = docs[k]!.endLine;
    if (panicAt >= 0 && panicAt <= at) break;
    return { why: 'complete', docs: parse(lines.slice(0, at + 1)) };
  }
  if (panicAt >= 0) return { why: 'panic', docs, panicLine: lines[panicAt]!.trim() };
  return undefined;
}

/**
 * Waits until the kernel's KTAP output is over: the plan is complete, a panic line appeared, the
 * console closed (the kernel exited), or, with no top-level plan pending, no KTAP line arrived for
 * KTAP_IDLE_MS. Lines already on the console when it is called are judged as if they came live.
 */
export function waitForKtap(console: ConsoleChannel, patterns: EventPatterns, signal: AbortSignal, idleMs = KTAP_IDLE_MS): Promise<KtapEnd> {
  return new Promise((resolve, reject) => {
    let idle: NodeJS.Timeout | undefined;
    const finish = (end: KtapEnd) => {
      cleanup();
      resolve(end);
    };
    const cleanup = () => {
      clearTimeout(idle);
      off();
      offClose();
      signal.removeEventListener('abort', onAbort);
    };
    const onAbort = () => {
      cleanup();
      reject(signal.reason);
    };
    const armIdle = (docs: readonly KtapDocument[]) => {
      clearTimeout(idle);
      if (docs.length > 0 && !planPending(docs)) idle = setTimeout(() => finish({ why: 'idle', docs: parse(texts(console)) }), idleMs);
    };
    let off: () => unknown = () => undefined;
    let offClose: () => unknown = () => undefined;
    if (signal.aborted) return reject(signal.reason);
    const already = ktapEndOf(texts(console), patterns);
    if (already) return resolve(already);
    off = console.onLine((line) => {
      if (isPanicLine(line.text, patterns)) return finish({ why: 'panic', docs: parse(texts(console)), panicLine: line.text.trim() });
      if (!KTAP_LINE.test(line.text)) return;
      const docs = parse(texts(console));
      if (ktapComplete(docs)) return finish({ why: 'complete', docs });
      armIdle(docs);
    });
    signal.addEventListener('abort', onAbort, { once: true });
    armIdle(parse(texts(console)));
    offClose = console.onClose(() => finish({ why: 'console-closed', docs: parse(texts(console)) }));
  });
}
