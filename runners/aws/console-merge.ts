import type { SerialChunk } from '../cloud/cloud-provider.js';

/**
 * Below this many characters, an end of what is known that matches the start of a new piece may be
 * chance (a newline, a prompt) rather than the same bytes: such a short match is not trusted as an
 * overlap unless it is all that is known.
 */
export const MIN_OVERLAP = 32;

/**
 * How many positions of the virtual stream a gap takes. EC2 never says how much output fell
 * between two windows, so a gap has a nominal size: enough for a reply's `start` to be later than
 * asked, which is how the lifecycle learns of it and marks it in console.log.
 */
export const GAP_BYTES = 1;

/** Written into the stream before earlier output that EC2 posted only after later output was read. */
export const LATE_NOTE = '\n[tsuite: EC2 posted the following earlier console output late; it belongs before the output above]\n';

/**
 * EC2 keeps "64 KB" of console: a window shorter than this (the decimal reading, the smaller) is
 * everything since the machine started, a longer one may have lost its beginning.
 */
export const WINDOW_CHARS = 64_000;

/** A run of the stream with nothing missing inside it; runs are separated by gaps. */
interface Run {
  start: number;
  text: string;
}

/**
 * EC2's console comes as two windows of at most 64 KB, neither with an offset: the output posted
 * around a state change (the "head": start, terminate) and, on Nitro, the latest output (the
 * "tail"). This keeps ONE virtual byte stream made of them, append-only, so the lifecycle can read
 * it with GCE's offset semantics: a piece is appended after its overlap with what is known (the
 * longest end of the known output that begins the piece), nothing is appended for a piece already
 * known, and a piece that overlaps nothing follows a gap (bytes EC2 no longer has). Earlier output
 * posted late (a head that arrives after a tail that had already moved past it) cannot go back in
 * an append-only stream: it is appended after a note that says so. Pure: no I/O.
 */
export class ConsoleMerge {
  /** What is known of the output in the machine's order (no notes, gaps closed up): what pieces are matched against. */
  private chrono = '';
  private readonly runs: Run[] = [];
  /** Where each gap is in the virtual stream: `[from, to)`. */
  readonly gaps: { from: number; to: number }[] = [];
  /** Whether what is known begins where the machine's output began. */
  private fromStart = false;

  constructor(private readonly window = WINDOW_CHARS) {}

  /** The end of the virtual stream: the offset after the last known byte. */
  get end(): number {
    const last = this.runs.at(-1);
    return last ? last.start + last.text.length : 0;
  }

  /** The stream as returned, gaps left out. */
  get text(): string {
    return this.runs.map((r) => r.text).join('');
  }

  /**
   * Adds one window of console output. Returns what it did: `known` (nothing new), `appended`
   * (after an overlap, or the first output), `gap` (after a gap), `late` (earlier output, posted late).
   */
  add(piece: string): 'empty' | 'known' | 'appended' | 'gap' | 'late' {
    if (piece.length === 0) return 'empty';
    const known = this.chrono;
    const whole = piece.length < this.window;
    if (known.length === 0) {
      this.fromStart = whole;
      this.append(piece, piece);
      return 'appended';
    }
    if (known.includes(piece)) return 'known';
    const overlap = suffixPrefixOverlap(known, piece);
    // All of the known output begins the piece, or a match too long to be chance: the piece continues it.
    if (overlap === known.length || overlap >= MIN_OVERLAP) {
      this.append(piece.slice(overlap), known + piece.slice(overlap));
      return 'appended';
    }
    // Older output, posted late: the piece holds all that is known and more on either side, or its end begins what is known.
    const inside = piece.indexOf(known);
    if (inside >= 0) {
      const earlier = piece.slice(0, inside);
      this.fromStart ||= whole;
      this.append(piece.slice(inside + known.length) + (earlier ? LATE_NOTE + earlier : ''), piece);
      return earlier ? 'late' : 'appended';
    }
    // The beginning again, longer (a window posted from the machine's start, as at terminate): what
    // follows the known beginning is earlier output posted late, less what is known after it.
    const common = this.fromStart ? commonPrefixLength(known, piece) : 0;
    if (common >= Math.min(MIN_OVERLAP, known.length) && common > 0) {
      const rest = piece.slice(common);
      const after = known.slice(common);
      const fresh = rest.slice(0, rest.length - suffixPrefixOverlap(rest, after));
      if (fresh.length === 0 || after.includes(fresh)) return 'known';
      this.append(LATE_NOTE + fresh, known.slice(0, common) + fresh + after);
      return 'late';
    }
    const before = suffixPrefixOverlap(piece, known);
    if (before >= Math.min(MIN_OVERLAP, known.length)) {
      const earlier = piece.slice(0, piece.length - before);
      this.fromStart ||= whole;
      this.append(LATE_NOTE + earlier, earlier + known);
      return 'late';
    }
    // Nothing in common. A whole window (the output from its start) when the start was not known is
    // the beginning, posted late, with output lost between it and what is known; otherwise it is
    // later output, after a loss.
    this.gap();
    if (whole && !this.fromStart) {
      this.fromStart = true;
      this.append(LATE_NOTE + piece, piece + known);
      return 'late';
    }
    this.append(piece, known + piece);
    return 'gap';
  }

  /**
   * The stream from `start`, as GCE's getSerialPortOutput answers: contents up to the next gap (a
   * reply never spans one), the start actually returned (later than asked when `start` is in or
   * before a gap), and where to ask next.
   */
  read(start: number): SerialChunk {
    for (const run of this.runs) {
      const runEnd = run.start + run.text.length;
      if (start < runEnd) {
        const from = Math.max(start, run.start);
        // EC2 never says how much fell between its windows: a gap has no byte count.
        return { contents: run.text.slice(from - run.start), start: from, next: runEnd, ...(from > start ? { lossUnknown: true } : {}) };
      }
    }
    const end = Math.max(start, this.end);
    return { contents: '', start: end, next: end };
  }

  /** Whether output from `start` on is known but not yet returned (a reply stopped at a gap). */
  hasAfter(start: number): boolean {
    return this.end > start;
  }

  private gap(): void {
    const from = this.end;
    this.gaps.push({ from, to: from + GAP_BYTES });
    this.runs.push({ start: from + GAP_BYTES, text: '' });
  }

  private append(text: string, chrono: string): void {
    if (this.runs.length === 0) this.runs.push({ start: 0, text: '' });
    this.runs.at(-1)!.text += text;
    this.chrono = chrono;
  }
}

/** How many characters `a` and `b` begin with in common. */
export function commonPrefixLength(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}

/**
 * The length of the longest end of `a` that is also a beginning of `b` (at most `b.length`), by the
 * Knuth-Morris-Pratt automaton of `b` run over the last `b.length` characters of `a`: linear, where
 * trying each length would be quadratic in a 64 KB window.
 */
export function suffixPrefixOverlap(a: string, b: string): number {
  if (a.length === 0 || b.length === 0) return 0;
  const fail = new Int32Array(b.length);
  for (let i = 1, k = 0; i < b.length; i++) {
    while (k > 0 && b[i] !== b[k]) k = fail[k - 1]!;
    if (b[i] === b[k]) k++;
    fail[i] = k;
  }
  let state = 0;
  for (let i = Math.max(0, a.length - b.length); i < a.length; i++) {
    // A full match of b inside a is not an overlap at a's end: continue as from its longest border.
    if (state === b.length) state = fail[state - 1]!;
    while (state > 0 && a[i] !== b[state]) state = fail[state - 1]!;
    if (a[i] === b[state]) state++;
  }
  return state;
}
