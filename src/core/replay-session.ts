import { ConsoleChannel } from '../channels/console.js';
import { isPanicLine, type EventPatterns } from '../parsers/kernel-events.js';
import { BootFailure } from './errors.js';
import type { ChannelKind, Session } from './session.js';

/**
 * A session over a saved console log, for `tsuite parse`: the same tests run offline, and those
 * that need a live machine skip with that reason. A log without its landmark is a boot that
 * failed, unless `landmarkOptional` (a log from a kernel that never printed tsuite's landmark,
 * read for its KTAP): the session then has no `landmarkLine`.
 */
export function replaySession(
  id: string,
  dir: string,
  text: string,
  landmark: RegExp,
  eventPatterns: EventPatterns,
  options: { landmarkOptional?: boolean } = {},
): Session {
  const console = ConsoleChannel.fromText(text);
  const found = console.lines.findIndex((l) => landmark.test(l.text));
  const landmarkLine = found < 0 ? undefined : found;
  if (landmarkLine === undefined && !options.landmarkOptional) {
    const panic = console.lines.find((l) => isPanicLine(l.text, eventPatterns));
    if (panic) throw new BootFailure('crashed', `kernel panic during boot: ${panic.text.trim()}`, console.tail(40));
    throw new BootFailure('timedOut', `the log ends before the boot landmark ${landmark} (the kernel hung, or the log is cut short)`, console.tail(40));
  }
  return {
    id,
    dir,
    console,
    channels: new Set<ChannelKind>(['console']),
    accel: 'none',
    ...(landmarkLine !== undefined && { landmarkLine }),
    eventPatterns,
    canPowerOff: false,
    shutdown: async () => ({ kind: 'exit-code', detail: 'replayed log' }),
    [Symbol.asyncDispose]: async () => undefined,
  };
}
