/**
 * Pure helpers of the `shell` channel: turning what a terminal would render into plain text, and
 * finding the prompt in it. Kept apart so they are tested on captured bytes alone.
 */

/**
 * ECMA-48 escape sequences: CSI (`ESC [` parameters, intermediates, final byte: colours, cursor
 * moves, clear screen), OSC (`ESC ]` … BEL or ST: window titles) and the two-byte escapes (`ESC c`,
 * `ESC M`, …). A sequence cut short at the end of the text stays until the rest arrives.
 */
const ESCAPES = /\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])/g;

/**
 * What a terminal would show as text: escape sequences, `\r` and NULs removed, and backspaces
 * applied (a line editor echoes an erased character as `\b \b`), never across a line break.
 */
export function terminalText(raw: string): string {
  const text = raw.replace(ESCAPES, '').replace(/[\r\0]/g, '');
  if (!text.includes('\b')) return text;
  const out: string[] = [];
  for (const ch of text) {
    if (ch !== '\b') out.push(ch);
    else if (out.length > 0 && out[out.length - 1] !== '\n') out.pop();
  }
  return out.join('');
}

/** The line ending a shell wants after a command. */
export type LineEnding = '\n' | '\r' | '\r\n';

/**
 * The output of one command, from the terminal text received since it was typed, or undefined
 * while the prompt has not come back. With `echo`, the first line is the shell repeating the
 * command, and the prompt is looked for only after it (a prompt-like command must not end its own
 * wait). The prompt is matched with `^`/`$` at line boundaries (flag `m`), so `fixture> $` finds a
 * prompt that waits, unterminated, at the end of the text.
 */
export function outputBeforePrompt(text: string, prompt: RegExp, echo: boolean, from = 0): { output: string; echoed?: string } | undefined {
  let start = 0;
  let echoed: string | undefined;
  if (echo) {
    const eol = text.indexOf('\n');
    if (eol < 0) return undefined;
    echoed = text.slice(0, eol);
    start = eol + 1;
  }
  // `from` (a line start) skips text already searched: a match there would have been found then.
  const search = new RegExp(prompt.source, `${promptPattern(prompt).flags}g`);
  search.lastIndex = Math.max(start, from);
  const match = search.exec(text);
  if (!match) return undefined;
  return { output: text.slice(start, match.index).replace(/\n$/, ''), ...(echoed !== undefined && { echoed }) };
}

/** The prompt as matched: multiline, never global (a global regex would keep state between calls). */
export function promptPattern(prompt: RegExp): RegExp {
  const flags = prompt.flags.replace(/[gy]/g, '');
  return new RegExp(prompt.source, flags.includes('m') ? flags : `${flags}m`);
}

/**
 * The terminal text of a growing stream, converted a line at a time, so a long output arriving in
 * many small chunks is not re-converted from its start on each one (escapes and erasures never
 * cross a line break, so converting line by line gives the same text).
 */
export class TerminalTranscript {
  private done = '';
  private rest = '';

  push(chunk: string): void {
    const all = this.rest + chunk;
    const eol = all.lastIndexOf('\n');
    if (eol < 0) {
      this.rest = all;
      return;
    }
    this.done += terminalText(all.slice(0, eol + 1));
    this.rest = all.slice(eol + 1);
  }

  get text(): string {
    return this.done + terminalText(this.rest);
  }

  /** Where the last, unterminated line starts in `text`: the next search for a prompt may start there. */
  get lastLineStart(): number {
    return this.done.length;
  }

  clear(): void {
    this.done = this.rest = '';
  }
}
