/**
 * Finds the console lines that mean the kernel is in trouble. The defaults are Linux's; a target
 * for another kernel configures its own patterns (a banner-only kernel may print `PANIC:`).
 */

export type KernelEventKind = 'panic' | 'oops' | 'bug' | 'warning';

export interface KernelEvent {
  kind: KernelEventKind;
  line: number;
  text: string;
}

export type EventPatterns = Readonly<Record<KernelEventKind, readonly RegExp[]>>;

export const LINUX_EVENT_PATTERNS: EventPatterns = Object.freeze({
  panic: [/Kernel panic - not syncing/],
  oops: [/\bOops(: |#)/, /general protection fault/, /BUG: unable to handle/],
  bug: [/kernel BUG at /, /\bBUG: /],
  warning: [/WARNING: CPU: \d+ PID: \d+/, /-+\[ cut here \]-+/],
});

/** Every event in `lines[from, to)`, each line classified once by the most severe kind it shows. */
export function scanKernelEvents(
  lines: readonly string[],
  patterns: EventPatterns = LINUX_EVENT_PATTERNS,
  from = 0,
  to = lines.length,
): KernelEvent[] {
  const order: KernelEventKind[] = ['panic', 'oops', 'bug', 'warning'];
  const events: KernelEvent[] = [];
  for (let i = from; i < to; i++) {
    const text = lines[i]!;
    const kind = order.find((k) => patterns[k].some((re) => re.test(text)));
    if (kind) events.push({ kind, line: i, text: text.trim() });
  }
  return events;
}

export function isPanicLine(text: string, patterns: EventPatterns = LINUX_EVENT_PATTERNS): boolean {
  return patterns.panic.some((re) => re.test(text));
}
