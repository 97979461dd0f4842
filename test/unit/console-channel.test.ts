import { describe, expect, it, vi } from 'vitest';
import { ConsoleChannel, ConsoleClosed, ExpectTimeout } from '../../src/channels/console.js';

const texts = (c: ConsoleChannel) => c.lines.map((l) => l.text);
/** The rejection of `p`, failing the test if it resolves. */
const rejection = (p: Promise<unknown>) =>
  p.then(
    (v) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(v)}`);
    },
    (e: unknown) => e,
  );

describe('ConsoleChannel lines', () => {
  it('splits on \\n across chunk boundaries and drops \\r', () => {
    const c = new ConsoleChannel();
    c.push('fir');
    c.push('st\r');
    c.push('\nsecond\r\nthi');
    expect(texts(c)).toEqual(['first', 'second']);
    c.push('rd\n\n');
    expect(texts(c)).toEqual(['first', 'second', 'third', '']);
  });

  it('stamps each line with the time since the machine started', () => {
    const c = new ConsoleChannel(Date.now() - 1000);
    c.push('x\n');
    expect(c.lines[0]!.atMs).toBeGreaterThanOrEqual(1000);
  });

  it('tells line listeners each line and its index, until unsubscribed', () => {
    const c = new ConsoleChannel();
    const seen: [string, number][] = [];
    const off = c.onLine((l, i) => seen.push([l.text, i]));
    c.push('a\nb\n');
    off();
    c.push('c\n');
    expect(seen).toEqual([
      ['a', 0],
      ['b', 1],
    ]);
  });

  it('end() flushes a partial last line and closes', () => {
    const c = new ConsoleChannel();
    c.push('a\nno newline');
    expect(texts(c)).toEqual(['a']);
    expect(c.isClosed).toBe(false);
    c.end();
    expect(texts(c)).toEqual(['a', 'no newline']);
    expect(c.isClosed).toBe(true);
    c.end();
    expect(texts(c)).toEqual(['a', 'no newline']);
  });

  it('fromText gives a closed console holding every line', () => {
    const c = ConsoleChannel.fromText('one\r\ntwo\r\nthree');
    expect(c.isClosed).toBe(true);
    expect(texts(c)).toEqual(['one', 'two', 'three']);
  });

  it('tail(n) gives the last n lines as text', () => {
    const c = ConsoleChannel.fromText('l1\nl2\nl3\nl4\n');
    expect(c.tail(2)).toBe('l3\nl4');
    expect(c.tail(10)).toBe('l1\nl2\nl3\nl4');
    expect(c.tail(2, 2)).toBe('l1\nl2');
    expect(c.tail(0)).toBe('');
  });
});

describe('ConsoleChannel.write', () => {
  it('throws for a replayed console', () => {
    expect(() => ConsoleChannel.fromText('x').write('tsuite-poweroff\n')).toThrow(/cannot be written/);
  });

  it('sends text to the sink of a live console, and throws once it is closed', () => {
    const sink = vi.fn();
    const c = new ConsoleChannel(Date.now(), sink);
    c.write('tsuite-poweroff\n');
    expect(sink).toHaveBeenCalledWith('tsuite-poweroff\n');
    c.end();
    expect(() => c.write('more\n')).toThrow(/cannot be written/);
    expect(sink).toHaveBeenCalledTimes(1);
  });

  it('throws for a live console without a sink', () => {
    expect(() => new ConsoleChannel().write('x')).toThrow();
  });
});

describe('ConsoleChannel.expect', () => {
  it('resolves with a line that arrived before the call', async () => {
    const c = new ConsoleChannel();
    c.push('booting\nlogin: ready 42\nafter\n');
    const m = await c.expect(/ready (\d+)/, { timeoutMs: 50 });
    expect(m.index).toBe(1);
    expect(m.line.text).toBe('login: ready 42');
    expect(m.match[1]).toBe('42');
  });

  it('resolves with a line that arrives after the call', async () => {
    const c = new ConsoleChannel();
    c.push('booting\n');
    const p = c.expect(/ready/, { timeoutMs: 1000 });
    c.push('still booting\nrea');
    c.push('dy\n');
    const m = await p;
    expect(m.index).toBe(2);
    expect(m.line.text).toBe('ready');
  });

  it('counts only lines at or after fromLine, past and future', async () => {
    const c = new ConsoleChannel();
    c.push('mark 0\nmark 1\nother\n');
    expect((await c.expect(/mark/, { timeoutMs: 50, fromLine: 1 })).index).toBe(1);
    const p = c.expect(/mark/, { timeoutMs: 1000, fromLine: 3 });
    c.push('mark 3\n');
    expect((await p).line.text).toBe('mark 3');
    const beyond = c.expect(/mark/, { timeoutMs: 1000, fromLine: 5 });
    c.push('mark 4\nmark 5\n');
    expect((await beyond).index).toBe(5);
  });

  it('rejects with ExpectTimeout after timeoutMs', async () => {
    const c = new ConsoleChannel();
    c.push('nothing\n');
    const started = Date.now();
    const err = await rejection(c.expect(/never/, { timeoutMs: 50 }));
    expect(err).toBeInstanceOf(ExpectTimeout);
    expect((err as Error).message).toContain('50 ms');
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
  });

  it('does not resolve with a line that arrives after the timeout', async () => {
    const c = new ConsoleChannel();
    const err = await rejection(c.expect(/late/, { timeoutMs: 20 }));
    expect(err).toBeInstanceOf(ExpectTimeout);
    c.push('late\n');
    expect(texts(c)).toEqual(['late']);
  });

  it('rejects with ConsoleClosed when the console ends before a match', async () => {
    const c = new ConsoleChannel();
    const p = c.expect(/never/, { timeoutMs: 5000 });
    c.push('some\n');
    c.end();
    expect(await rejection(p)).toBeInstanceOf(ConsoleClosed);
  });

  it('matches the flushed partial line at end() before reporting the close', async () => {
    const c = new ConsoleChannel();
    const p = c.expect(/last words/, { timeoutMs: 5000 });
    c.push('last words without newline');
    c.end();
    expect((await p).line.text).toBe('last words without newline');
  });

  it('rejects at once with ConsoleClosed on a replayed log without a match', async () => {
    const c = ConsoleChannel.fromText('a\nb\n');
    expect(await rejection(c.expect(/never/, { timeoutMs: 60_000 }))).toBeInstanceOf(ConsoleClosed);
    expect((await c.expect(/b/, { timeoutMs: 60_000 })).index).toBe(1);
  });

  it('rejects with the abort reason when the signal aborts', async () => {
    const c = new ConsoleChannel();
    const ac = new AbortController();
    const p = c.expect(/never/, { timeoutMs: 5000, signal: ac.signal });
    const reason = new Error('interrupted');
    ac.abort(reason);
    expect(await rejection(p)).toBe(reason);
  });

  it('rejects with the abort reason when the signal was aborted before the call', async () => {
    const c = new ConsoleChannel();
    const reason = new Error('interrupted earlier');
    expect(await rejection(c.expect(/never/, { timeoutMs: 100, signal: AbortSignal.abort(reason) }))).toBe(reason);
  });

  it('stops listening once settled', async () => {
    const c = new ConsoleChannel();
    const p = c.expect(/x/, { timeoutMs: 5000 });
    c.push('x\n');
    await p;
    // A close after the match must not turn into an unhandled ConsoleClosed rejection.
    c.end();
    await expect(p).resolves.toMatchObject({ index: 0 });
  });

  it('works repeatedly with a g-flagged regex (no lastIndex state leaks)', async () => {
    const c = new ConsoleChannel();
    const re = /ready/g;
    c.push('ready\n');
    expect((await c.expect(re, { timeoutMs: 50 })).index).toBe(0);
    expect((await c.expect(re, { timeoutMs: 50 })).index).toBe(0);
    expect(re.lastIndex).toBe(0);
    const later = c.expect(re, { timeoutMs: 1000, fromLine: 1 });
    c.push('ready again\n');
    expect((await later).index).toBe(1);
    expect((await c.expect(re, { timeoutMs: 50, fromLine: 1 })).index).toBe(1);
  });
});
