import type { ConsoleChannel } from '../../src/channels/console.js';
import { isPanicLine, type EventPatterns } from '../../src/parsers/kernel-events.js';
import { parseKtap, type KtapDocument } from '../../src/parsers/ktap.js';

/** Without a top-level plan (KUnit as modules), the stream is over once results stop coming. */
export const KTAP_IDLE_MS = 10_000;

const RESULT_LINE = /(^|\s)(not )?ok \d+/;

export type KtapEnd =
  | { why: 'complete' | 'console-closed' | 'idle'; doc: KtapDocument | undefined }
  | { why: 'panic'; doc: KtapDocument | undefined; panicLine: string };

const parse = (console: ConsoleChannel) => parseKtap(console.lines.map((l) => l.text));

/** A document is complete when its top-level plan is known and every planned result is in. */
function complete(doc: KtapDocument | undefined): boolean {
  if (!doc) return false;
  const planned = doc.expectedCount;
  return planned !== undefined && doc.tests.length >= planned && doc.tests.every((t) => t.status !== 'crashed');
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
      if (isPanicLine(line.text, patterns)) return finish({ why: 'panic', doc: parse(console), panicLine: line.text.trim() });
      if (!RESULT_LINE.test(line.text)) return;
      const doc = parse(console);
      if (complete(doc)) return finish({ why: 'complete', doc });
      clearTimeout(idle);
      idle = setTimeout(() => finish({ why: 'idle', doc: parse(console) }), idleMs);
    });
    let offClose = () => {};
    signal.addEventListener('abort', onAbort, { once: true });
    const doc = parse(console);
    if (complete(doc)) return finish({ why: 'complete', doc });
    offClose = console.onClose(() => finish({ why: 'console-closed', doc: parse(console) }));
  });
}
