import { isPanicLine, parseKtapAll, type ConsoleChannel, type EventPatterns, type KtapDocument } from '../../src/index.js';

/** Without a top-level plan (KUnit as modules), the stream is over once results stop coming. */
export const KTAP_IDLE_MS = 10_000;

const RESULT_LINE = /(^|\s)(not )?ok \d+/;

/** Every KTAP document the console held when the stream ended (KUnit as modules prints several). */
export type KtapEnd =
  | { why: 'complete' | 'console-closed' | 'idle'; docs: KtapDocument[] }
  | { why: 'panic'; docs: KtapDocument[]; panicLine: string };

const parse = (console: ConsoleChannel) => parseKtapAll(console.lines.map((l) => l.text));

/**
 * Complete when the last document with tests has a top-level plan and every planned result is in.
 * An empty `1..0` document does not count: a kernel with KUnit built in but its tests as modules
 * prints one at boot, and the modules' documents follow.
 */
function complete(docs: readonly KtapDocument[]): boolean {
  const last = docs.filter((d) => d.tests.length > 0 || (d.expectedCount ?? 0) > 0).at(-1);
  if (!last || last.expectedCount === undefined) return false;
  return last.tests.length >= last.expectedCount && last.tests.every((t) => t.status !== 'crashed');
}

/**
 * Waits until the kernel's KTAP output is over: the plan is complete, the console closed (the
 * kernel exited), a panic line appeared, or no result arrived for KTAP_IDLE_MS after the last one.
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
    const off = console.onLine((line) => {
      if (isPanicLine(line.text, patterns)) return finish({ why: 'panic', docs: parse(console), panicLine: line.text.trim() });
      if (!RESULT_LINE.test(line.text)) return;
      const docs = parse(console);
      if (complete(docs)) return finish({ why: 'complete', docs });
      clearTimeout(idle);
      idle = setTimeout(() => finish({ why: 'idle', docs: parse(console) }), idleMs);
    });
    let offClose = () => {};
    signal.addEventListener('abort', onAbort, { once: true });
    const docs = parse(console);
    // A panic already on the console (a replayed log, or one before this test began) ends it too.
    const panic = console.lines.find((l) => isPanicLine(l.text, patterns));
    if (panic) return finish({ why: 'panic', docs, panicLine: panic.text.trim() });
    if (complete(docs)) return finish({ why: 'complete', docs });
    offClose = console.onClose(() => finish({ why: 'console-closed', docs: parse(console) }));
  });
}
