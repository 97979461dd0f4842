/**
 * One KTAP line at a time: finding where a document starts, the console prefix to strip from the
 * lines after it, and what kind of line a stripped line is. Pure functions, no state.
 */

export type KtapDirective = 'SKIP' | 'TODO' | 'XFAIL' | 'TIMEOUT' | 'ERROR';

export type KtapLine =
  | { kind: 'version'; format: 'ktap' | 'tap'; version: number }
  | { kind: 'subtest'; name: string }
  | { kind: 'plan'; count: number; comment?: string }
  | { kind: 'result'; ok: boolean; number: number; name: string; directive?: KtapDirective; reason?: string }
  | { kind: 'bail'; reason: string }
  | { kind: 'diagnostic'; text: string }
  | { kind: 'other' };

export interface KtapStart {
  format: 'ktap' | 'tap';
  version: number;
  /** The console prefix seen before the marker, as printed (indentation excluded). */
  prefix: string;
  /** Matches the prefix on later lines; timestamps and counters vary from line to line. */
  prefixPattern: RegExp;
  /** Indentation width of the version line itself: 4 when tests were loaded as modules. */
  indent: number;
}

const VERSION = /(KTAP|TAP) version (\d+)\s*$/;
const VERSION_LINE = /^(KTAP|TAP) version (\d+)\s*$/;
const SUBTEST = /^#\s*Subtest(?::\s*(.*))?$/;
const PLAN = /^1\.\.(\d+)(?:\s*#\s*(.*)|\s*)$/;
const RESULT = /^(ok|not ok)\s+(\d+)\b(?:\s*-(?=\s|$))?\s*(.*)$/;
const BAIL = /^Bail out!\s*(.*)$/;
const DIRECTIVE = /^(?:(skip|todo)\S*|(xfail|timeout|error)\b)\s*:?\s*(.*)$/i;

/** Linux console prefixes: `<6>` (raw dmesg level), `[    0.912345]`, `[  T1]`/`[  C0]` (PRINTK_CALLER). */
const KERNEL_PREFIX = /^(?:<\d+>)?\[ *\d+\.\d+\](?:\[ *[TC]\d+\])?/;

/**
 * The first `KTAP version N` (any N) or `TAP version 13|14` at or after `from`, with the prefix
 * to strip from the lines that follow (kunit_tool strips the same number of characters; a pattern
 * survives a timestamp that grows a digit and a `[ T1]` caller field that becomes `[ C0]`).
 */
export function findKtapStart(lines: readonly string[], from = 0): { index: number; start: KtapStart } | undefined {
  for (let i = from; i < lines.length; i++) {
    const line = String(lines[i]).trimEnd();
    const m = VERSION.exec(line);
    if (!m) continue;
    const format = m[1] === 'KTAP' ? 'ktap' : 'tap';
    const version = Number(m[2]);
    if (format === 'tap' && version !== 13 && version !== 14) continue;
    return { index: i, start: { format, version, ...splitPrefix(line.slice(0, m.index)) } };
  }
  return undefined;
}

function splitPrefix(before: string): Pick<KtapStart, 'prefix' | 'prefixPattern' | 'indent'> {
  const kernel = KERNEL_PREFIX.exec(before);
  const rest = kernel ? before.slice(kernel[0].length) : '';
  if (kernel && /^[ \t]*$/.test(rest)) {
    // The kernel puts exactly one space after its prefix; the rest is KTAP indentation (spaces or tabs).
    const sep = rest.startsWith(' ') ? ' ' : '';
    return { prefix: kernel[0] + sep, prefixPattern: new RegExp(KERNEL_PREFIX.source + sep), indent: leadingIndent(rest.slice(sep.length)).width };
  }
  // Any other prefix: trailing tabs, and trailing spaces in whole steps of 4, are indentation; the remainder is prefix.
  let end = before.length;
  while (end > 0 && (before[end - 1] === ' ' || before[end - 1] === '\t')) end--; // not a regex: quadratic on long runs
  const body = before.slice(0, end);
  const trailing = before.slice(end);
  const tab = trailing.indexOf('\t');
  const spaces = tab >= 0 ? 0 : trailing.length - (trailing.length % 4);
  const prefix = tab >= 0 ? before.slice(0, body.length + tab) : before.slice(0, before.length - spaces);
  return { prefix, prefixPattern: new RegExp('^' + generalize(prefix)), indent: leadingIndent(before.slice(prefix.length)).width };
}

/**
 * Digit runs become `\d+` and inner space runs ` *` (padding shrinks as a counter grows), but ` +`
 * between two digit runs: `\d+ *\d+` would backtrack polynomially on a long line of digits.
 */
function generalize(prefix: string): string {
  let end = prefix.length;
  while (end > 0 && prefix[end - 1] === ' ') end--; // not / +$/: quadratic on a long run of spaces
  const body = prefix.slice(0, end);
  const parts = body.split(/(\d+| +)/).filter((p) => p !== '');
  const isDigits = (p: string | undefined) => p !== undefined && /^\d/.test(p);
  let out = '';
  parts.forEach((part, i) => {
    if (/^\d+$/.test(part)) out += '\\d+';
    else if (/^ +$/.test(part)) out += isDigits(parts[i - 1]) && isDigits(parts[i + 1]) ? ' +' : ' *';
    else out += part.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  });
  return out + prefix.slice(body.length);
}

/** The line without the document's prefix, or undefined when it lacks it (a foreign line). */
export function stripPrefix(line: string, start: KtapStart): string | undefined {
  if (start.prefix === '') return line;
  const m = start.prefixPattern.exec(line);
  return m ? line.slice(m[0].length) : undefined;
}

/** Columns a tab advances to: the next multiple of 8, as a terminal shows it. */
const TAB_STOP = 8;

/**
 * A line's indentation: any leading whitespace (spaces, tabs, mixed), as kunit_tool strips it.
 * `chars` is how many characters to cut; `width` the column it reaches, tabs at stops of 8, which
 * is what levels are compared by (KUnit printed one tab per level before Linux 5.7, 4 spaces since).
 */
export function leadingIndent(text: string): { chars: number; width: number } {
  let chars = 0;
  let width = 0;
  for (; chars < text.length; chars++) {
    const c = text.charCodeAt(chars);
    if (c === 32) width++;
    else if (c === 9) width += TAB_STOP - (width % TAB_STOP);
    else break;
  }
  return { chars, width };
}

/** Classifies one line whose prefix and indentation are already removed. */
export function classifyKtapLine(body: string): KtapLine {
  let m = VERSION_LINE.exec(body);
  if (m) return { kind: 'version', format: m[1] === 'KTAP' ? 'ktap' : 'tap', version: Number(m[2]) };
  m = SUBTEST.exec(body);
  if (m) return { kind: 'subtest', name: (m[1] ?? '').trim() };
  m = PLAN.exec(body);
  if (m) return m[2] === undefined ? { kind: 'plan', count: Number(m[1]) } : { kind: 'plan', count: Number(m[1]), comment: m[2].trim() };
  m = RESULT.exec(body);
  if (m) return parseResult(m[1] === 'ok', Number(m[2]), m[3]!);
  m = BAIL.exec(body);
  if (m) return { kind: 'bail', reason: m[1]!.trim() };
  // KTAP's "# <text>": the kernel's own `#PF: error_code(...)` lines are not diagnostics.
  if (/^#(?:\s|$)/.test(body)) return { kind: 'diagnostic', text: body.slice(1).replace(/^ /, '') };
  return { kind: 'other' };
}

/** `<description>[ # [<directive>] [<diagnostic data>]]`; `\#` is a literal `#` (TAP14). */
function parseResult(ok: boolean, number: number, rest: string): KtapLine {
  let hash = -1;
  for (let i = 0; i < rest.length; i++) {
    const c = rest[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (c === '#' && (i === 0 || rest[i - 1] === ' ' || rest[i - 1] === '\t')) {
      hash = i;
      break;
    }
  }
  const description = (hash < 0 ? rest : rest.slice(0, hash)).trim().replace(/\\([\\#])/g, '$1');
  const result: KtapLine & { kind: 'result' } = { kind: 'result', ok, number, name: description };
  if (hash < 0) return result;
  const data = rest.slice(hash + 1).trim();
  const d = DIRECTIVE.exec(data);
  if (d) {
    result.directive = (d[1] ?? d[2]!).toUpperCase() as KtapDirective;
    if (d[3]) result.reason = d[3].trim();
  } else if (data !== '') {
    result.reason = data;
  }
  return result;
}

/** kunit_tool's lines after which the kernel is done with the tests, plus the other `reboot:` ones. */
const END_MARKERS = /(?:List of all partitions:|Kernel panic - not syncing: VFS:|reboot: System halted|reboot: Restarting system|reboot: Power down)/;

export function isKtapEnd(line: string): boolean {
  return END_MARKERS.test(line);
}
