/**
 * The state machine behind parseKtap: a stack of open tests ("frames"), each with the indentation
 * of its own lines. Structural lines (version, `# Subtest:`, plan, result) open and close frames
 * by indentation; every other line waits in the top frame's pending buffer and goes to the test
 * whose header or result comes next (kunit_tool's rule), so kernel lines never move the stack.
 */

import type { KtapDocument, KtapTest } from './ktap.js';
import { classifyKtapLine, isKtapEnd, leadingIndent, stripPrefix, type KtapLine, type KtapStart } from './ktap-lines.js';
import { addMissing, applyResult, newTest } from './ktap-tests.js';

type Result = Extract<KtapLine, { kind: 'result' }>;
type Header = Extract<KtapLine, { kind: 'version' | 'subtest' | 'plan' }>;

interface Pending {
  diagnostics: string[];
  log: string[];
  /** Last input line in the buffer, for the document's endLine. */
  last: number;
  /** Set after a `#` line: deeper or equally indented text lines continue it (min: a width, strip: characters). */
  cont?: { min: number; strip: number };
}

interface Frame {
  test: KtapTest;
  indent: number;
  root: boolean;
  /** Only its own header lines so far: no child opened, no result seen. */
  header: boolean;
  /** A TAP14 `# Subtest: name` printed at this level, naming the child that opens next. */
  announced?: string;
  pending: Pending;
}

/** Plans above this are noise, not a promise of a million placeholder tests. */
const MAX_PLAN = 1_000_000;

export class KtapBuilder {
  private readonly stack: Frame[];
  private readonly docWarnings: string[] = [];
  private lastUsed: number;
  /** The last non-blank input line fed: where a document cut short ends. */
  private lastSeen: number;
  private yaml?: { test: KtapTest; indent: number; strip?: number };
  private done?: KtapDocument;
  private completeAfterYaml = false;

  constructor(
    private readonly startLine: number,
    private readonly start: KtapStart,
  ) {
    this.lastUsed = startLine;
    this.lastSeen = startLine;
    const root: Frame = { test: newTest('', startLine), indent: 0, root: true, header: start.indent === 0, pending: emptyPending() };
    this.stack = [root];
    if (start.format === 'ktap' && start.version !== 1) this.docWarnings.push(`KTAP version ${start.version}: this parser knows version 1`);
    // Tests built as modules: no top-level header, the first version line is a suite's (indented).
    if (start.indent > 0) this.open(start.indent, startLine, undefined);
  }

  /** Takes one input line; false once the document has ended (the line is not part of it). */
  feed(raw: string, index: number): boolean {
    if (this.done) return false;
    const line = raw.trimEnd();
    if (line === '') return true;
    if (isKtapEnd(line)) {
      this.end(this.cutLine());
      return false;
    }
    const more = this.take(line, index);
    if (more) this.lastSeen = index;
    return more;
  }

  /** One non-blank line; `lastSeen` is still the line before it. */
  private take(line: string, index: number): boolean {
    const content = stripPrefix(line, this.start);
    if (content !== undefined && content.trim() === '') return true;
    if (this.yaml && content !== undefined && this.inYaml(content, index)) return true;
    if (this.completeAfterYaml) {
      this.end(this.lastUsed);
      return false;
    }
    const top = this.top();
    if (content === undefined) {
      top.pending.log.push(line);
      top.pending.cont = undefined;
      top.pending.last = index;
      return true;
    }
    // Any leading whitespace is indentation; levels compare by width (a tab reaches the next stop of 8).
    const { chars, width: indent } = leadingIndent(content);
    const parsed = classifyKtapLine(content.slice(chars));
    switch (parsed.kind) {
      case 'result':
        this.result(parsed, indent, index);
        return true;
      case 'version':
      case 'subtest':
      case 'plan': {
        const more = this.header(parsed, indent, index);
        if (more) this.lastUsed = index;
        return more;
      }
      case 'bail':
        this.docWarnings.push(`bail out${parsed.reason ? `: ${parsed.reason}` : ''}`);
        this.end(index);
        return false;
      case 'diagnostic':
        top.pending.diagnostics.push(parsed.text);
        top.pending.cont = { min: Math.max(1, indent), strip: chars };
        top.pending.last = index;
        return true;
      case 'other': {
        const cont = top.pending.cont;
        if (cont && indent >= cont.min) top.pending.diagnostics.push(content.slice(Math.min(cont.strip, chars)));
        else {
          top.pending.log.push(content);
          top.pending.cont = undefined;
        }
        top.pending.last = index;
        return true;
      }
    }
  }

  /** Ends the document at the end of the input, if nothing ended it before. */
  finish(): KtapDocument {
    if (!this.done) this.end(this.cutLine());
    return this.done!;
  }

  /** Where the document ends when the input stops: its last line, or the last line read if cut short. */
  private cutLine(): number {
    return this.stack.length > 1 || this.planOpen() ? this.lastSeen : this.lastUsed;
  }

  private top(): Frame {
    return this.stack[this.stack.length - 1]!;
  }

  private result(r: Result, indent: number, index: number): void {
    const popped: Frame[] = [];
    while (this.stack.length > 1 && this.top().indent > indent) popped.push(this.stack.pop()!);
    if (popped.length > 0) {
      // Frames deeper than the one this line closes never printed their result.
      for (const f of popped.slice(0, -1)) this.close(f, undefined, this.lastSeen);
      this.close(popped[popped.length - 1]!, r, index);
    } else {
      const level = this.top();
      // Only a header opens a level (kunit_tool needs one too); a result deeper than its level
      // is still that level's, unless TAP 14 announced a subtest with `# Subtest:` just before.
      const deeper = indent > level.indent;
      if (deeper && level.announced !== undefined) this.open(indent, index, undefined);
      const parent = this.top();
      const test = newTest(r.name, index);
      this.attach(parent.pending, test);
      parent.test.subtests.push(test);
      parent.header = false;
      parent.announced = undefined;
      applyResult(test, r, parent.test.subtests.length);
      if (deeper && parent === level) test.warnings.push(deeperWarning('result line', indent, level.indent));
    }
    this.lastUsed = index;
    this.yaml = { test: this.lastResultTest(popped, r), indent };
    this.checkComplete();
  }

  private lastResultTest(popped: Frame[], r: Result): KtapTest {
    if (popped.length > 0) return popped[popped.length - 1]!.test;
    const subs = this.top().test.subtests;
    return subs[subs.length - 1] ?? newTest(r.name, 0);
  }

  private header(h: Header, indent: number, index: number): boolean {
    const cut = this.cutLine();
    while (this.stack.length > 1 && this.top().indent > indent) this.close(this.stack.pop()!, undefined, this.lastSeen);
    let top = this.top();
    if (indent > top.indent) {
      if (h.kind === 'subtest' && !top.root && top.header && top.test.name === '' && top.test.expectedCount === undefined && top.announced === undefined) {
        // `KTAP version 1` then an over-indented `# Subtest:`: one header, not two levels.
        top.test.name = h.name;
        top.test.warnings.push(deeperWarning('`# Subtest:` line', indent, top.indent));
        return true;
      }
      if (h.kind === 'plan' && top.announced === undefined) {
        // A plan opens no level by itself: it is this level's, indented too far.
        (top.root ? this.docWarnings : top.test.warnings).push(deeperWarning(`plan 1..${h.count}`, indent, top.indent));
        this.plan(top, h.count, index);
        this.checkComplete();
        return true;
      }
      top = this.open(indent, index, h.kind === 'subtest' ? h.name : undefined);
      if (h.kind === 'plan') this.plan(top, h.count, index);
      return true;
    }
    if (h.kind === 'version') {
      if (top.header) return true; // a repeated version line in a header: harmless
      if (top.root) {
        this.end(cut); // a second document starts here
        return false;
      }
      // A sibling starts at this level before the open one reported: that one never finished.
      this.close(this.stack.pop()!, undefined, this.lastSeen);
      this.open(indent, index, undefined);
      return true;
    }
    if (h.kind === 'subtest') {
      if (!top.root && top.header && top.test.name === '') top.test.name = h.name;
      else top.announced = h.name;
      return true;
    }
    this.plan(top, h.count, index);
    this.checkComplete();
    return true;
  }

  private plan(frame: Frame, count: number, index: number): void {
    const warnings = frame.root ? this.docWarnings : frame.test.warnings;
    if (count > MAX_PLAN) warnings.push(`plan 1..${count} ignored: implausibly large`);
    else if (frame.test.expectedCount !== undefined) warnings.push(`second plan 1..${count} ignored (plan was 1..${frame.test.expectedCount})`);
    else frame.test.expectedCount = count;
    this.lastUsed = index;
  }

  private open(indent: number, index: number, headerName: string | undefined): Frame {
    const parent = this.top();
    const name = parent.announced ?? headerName ?? '';
    const test = newTest(name, index);
    test.number = parent.test.subtests.length + 1;
    this.attach(parent.pending, test);
    parent.test.subtests.push(test);
    parent.header = false;
    const frame: Frame = { test, indent, root: false, header: true, pending: emptyPending() };
    // With a TAP14 announcement the name is taken: a `# Subtest:` opening the frame announces its child.
    if (parent.announced !== undefined && headerName !== undefined) frame.announced = headerName;
    parent.announced = undefined;
    this.stack.push(frame);
    this.lastUsed = index;
    return frame;
  }

  /** A frame ends: with its result line, or without one (the output moved on or stopped). */
  private close(frame: Frame, r: Result | undefined, index: number): void {
    const test = frame.test;
    const placeholders = addMissing(test, index);
    this.attach(frame.pending, r ? test : (placeholders[0] ?? test));
    if (r) {
      if (test.name !== '' && r.name !== '' && r.name !== test.name) test.warnings.push(`result line says "${r.name}" but its subtest header "${test.name}"`);
      test.name = r.name || test.name;
      applyResult(test, r, test.number ?? 1);
      test.line = index;
    } else {
      test.status = 'crashed';
      test.reason = 'missing result line';
      test.line = Math.max(test.line, index);
    }
    this.lastUsed = Math.max(this.lastUsed, test.line);
    if (r && test.subtests.some((s) => s.status === 'crashed')) {
      test.status = 'crashed';
      test.reason ??= 'a subtest crashed';
    }
  }

  private end(endLine: number): void {
    if (this.done) return;
    if (this.stack.length > 1) {
      const t = this.top().test;
      this.docWarnings.push(`the output ended inside test "${t.name || `#${t.number}`}" before its result line`);
    }
    while (this.stack.length > 1) this.close(this.stack.pop()!, undefined, Math.max(endLine, this.startLine));
    const root = this.stack[0]!;
    const placeholders = addMissing(root.test, Math.max(endLine, this.startLine));
    if (placeholders[0]) this.attach(root.pending, placeholders[0]);
    this.done = {
      version: `${this.start.format === 'ktap' ? 'KTAP' : 'TAP'} version ${this.start.version}`,
      format: this.start.format,
      prefix: this.start.prefix,
      tests: root.test.subtests,
      warnings: [...this.docWarnings, ...root.test.warnings],
      startLine: this.startLine,
      endLine: Math.max(endLine, this.lastUsed, this.startLine),
      ...(root.test.expectedCount !== undefined ? { expectedCount: root.test.expectedCount } : {}),
    };
  }

  private planOpen(): boolean {
    const root = this.stack[0]!.test;
    return root.expectedCount !== undefined && root.subtests.length < root.expectedCount;
  }

  private checkComplete(): void {
    const root = this.stack[0]!.test;
    if (this.stack.length === 1 && root.expectedCount !== undefined && root.subtests.length >= root.expectedCount) {
      this.completeAfterYaml = true;
    }
  }

  /** A TAP YAML block (`---` … `...`) right after a result belongs to that result. */
  private inYaml(content: string, index: number): boolean {
    const y = this.yaml!;
    const { chars, width: indent } = leadingIndent(content);
    const body = content.trim();
    if (y.strip === undefined) {
      if (indent > y.indent && body === '---') {
        y.strip = chars;
        this.lastUsed = index;
        return true;
      }
      this.yaml = undefined;
      return false;
    }
    if (indent <= y.indent) {
      this.yaml = undefined;
      return false;
    }
    if (body === '...') this.yaml = undefined;
    else y.test.diagnostics.push(content.slice(Math.min(y.strip, chars)));
    this.lastUsed = index;
    return true;
  }

  private attach(p: Pending, test: KtapTest): void {
    if (p.diagnostics.length + p.log.length > 0) this.lastUsed = Math.max(this.lastUsed, p.last);
    // Not push(...lines): a log with a few hundred thousand lines would overflow the call stack.
    test.diagnostics = test.diagnostics.length === 0 ? p.diagnostics : test.diagnostics.concat(p.diagnostics);
    test.log = test.log.length === 0 ? p.log : test.log.concat(p.log);
    p.diagnostics = [];
    p.log = [];
    p.cont = undefined;
  }
}

function deeperWarning(what: string, width: number, level: number): string {
  return `${what} indented deeper than expected (column ${width}, its level is at ${level}): read at that level, as kunit_tool does`;
}

function emptyPending(): Pending {
  return { diagnostics: [], log: [], last: -1 };
}
