import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../src/core/seeded-random.js';
import { isPanicLine, LINUX_EVENT_PATTERNS, scanKernelEvents, type EventPatterns } from '../../src/parsers/kernel-events.js';

const fixture = (name: string) =>
  readFileSync(new URL(`../../fixtures/console/${name}`, import.meta.url), 'utf8').split(/\r?\n/);


describe('scanKernelEvents on the reference x86_64 console logs', () => {
  it('finds no event in a clean boot', () => {
    expect(scanKernelEvents(fixture('reference-x86_64-ok.log'))).toEqual([]);
  });

  it('finds the panic of a boot whose init could not be run', () => {
    const lines = fixture('reference-x86_64-panic-init.log');
    const events = scanKernelEvents(lines);
    const panics = events.filter((e) => e.kind === 'panic');
    expect(panics).toHaveLength(1);
    const panic = panics[0]!;
    expect(panic.text).toContain('Attempted to kill init');
    expect(lines[panic.line]).toContain('Kernel panic - not syncing');
    // The call trace's `panic+0x118/0x2f4` frame is not a second panic.
    expect(events).toHaveLength(1);
    expect(isPanicLine(lines[panic.line]!)).toBe(true);
  });
});

describe('scanKernelEvents classification', () => {
  const kindOf = (line: string) => scanKernelEvents([line]).map((e) => e.kind);

  it.each([
    ['[   12.000000] Oops: 0000 [#1] SMP', 'oops'],
    ['[   12.000000] general protection fault, probably for non-canonical address 0xdead: 0000 [#1] SMP', 'oops'],
    ['[   12.000000] BUG: unable to handle page fault for address: 0000000000001234', 'oops'],
    ['[   12.000000] kernel BUG at mm/slub.c:123!', 'bug'],
    ['[   12.000000] BUG: scheduling while atomic: swapper/0/0/0x00000002', 'bug'],
    ['[   12.000000] WARNING: CPU: 0 PID: 1 at kernel/foo.c:1 bar+0x1/0x2', 'warning'],
    ['[   12.000000] ------------[ cut here ]------------', 'warning'],
    ['[   12.000000] Kernel panic - not syncing: VFS: Unable to mount root fs', 'panic'],
  ])('%s → %s', (line, kind) => {
    expect(kindOf(line)).toEqual([kind]);
  });

  it.each([
    '[    0.000000] Command line: console=ttyS0 panic=-1',
    '[    1.782450]  panic+0x118/0x2f4',
    'no Oops here',
    'DEBUG: all fine',
    'WARNING: something without cpu and pid',
    '',
  ])('ignores %j', (line) => {
    expect(scanKernelEvents([line])).toEqual([]);
  });

  it('reports a line once, as the most severe kind it shows', () => {
    const events = scanKernelEvents(['Kernel panic - not syncing: Fatal exception in interrupt; kernel BUG at x.c:1! WARNING: CPU: 1 PID: 2']);
    expect(events).toEqual([{ kind: 'panic', line: 0, text: expect.stringContaining('Kernel panic') }]);
  });

  it('gives the index and the trimmed text of each event', () => {
    const lines = ['booting', '  kernel BUG at mm/slub.c:123!  ', 'ok', '------------[ cut here ]------------'];
    expect(scanKernelEvents(lines)).toEqual([
      { kind: 'bug', line: 1, text: 'kernel BUG at mm/slub.c:123!' },
      { kind: 'warning', line: 3, text: '------------[ cut here ]------------' },
    ]);
  });
});

describe('scanKernelEvents with other patterns and windows', () => {
  /** A kernel that is not Linux and prints `PANIC:` when it dies. */
  const OTHER: EventPatterns = { panic: [/^PANIC: /], oops: [], bug: [], warning: [/^warn: /] };

  it('uses the patterns it is given instead of Linux ones', () => {
    const lines = ['hello', 'PANIC: page fault in kernel mode', 'warn: low memory', 'Kernel panic - not syncing: x'];
    expect(scanKernelEvents(lines, OTHER)).toEqual([
      { kind: 'panic', line: 1, text: 'PANIC: page fault in kernel mode' },
      { kind: 'warning', line: 2, text: 'warn: low memory' },
    ]);
    expect(isPanicLine('PANIC: page fault in kernel mode', OTHER)).toBe(true);
    expect(isPanicLine('PANIC: page fault in kernel mode')).toBe(false);
    expect(isPanicLine('Kernel panic - not syncing: x', OTHER)).toBe(false);
  });

  it('scans only lines[from, to)', () => {
    const lines = ['kernel BUG at a.c:1!', 'kernel BUG at b.c:2!', 'kernel BUG at c.c:3!', 'kernel BUG at d.c:4!'];
    expect(scanKernelEvents(lines, LINUX_EVENT_PATTERNS, 1, 3).map((e) => e.line)).toEqual([1, 2]);
    expect(scanKernelEvents(lines, LINUX_EVENT_PATTERNS, 2).map((e) => e.line)).toEqual([2, 3]);
    expect(scanKernelEvents(lines, LINUX_EVENT_PATTERNS, 0, 0)).toEqual([]);
    expect(scanKernelEvents(lines, LINUX_EVENT_PATTERNS, 4)).toEqual([]);
  });
});

describe('scanKernelEvents fuzz', () => {
  it('never throws on 2000 random byte strings', () => {
    const rand = mulberry32(0x7e57);
    const seeds = ['Kernel panic - not syncing', 'Oops: ', 'BUG: ', 'WARNING: CPU: 1 PID: 2', '[ cut here ]', '\r', '\n', '\0'];
    for (let n = 0; n < 2000; n++) {
      const bytes = Buffer.alloc(Math.floor(rand() * 200));
      for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(rand() * 256);
      // Half the cases splice in fragments of the patterns so the matchers see near-misses.
      let text = n % 2 === 0 ? bytes.toString('utf8') : bytes.toString('latin1');
      if (rand() < 0.5) text = text.slice(0, text.length / 2) + seeds[Math.floor(rand() * seeds.length)] + text.slice(text.length / 2);
      const lines = text.split('\n');
      let events: ReturnType<typeof scanKernelEvents> = [];
      expect(() => (events = scanKernelEvents(lines))).not.toThrow();
      for (const e of events) {
        expect(e.line).toBeGreaterThanOrEqual(0);
        expect(e.line).toBeLessThan(lines.length);
        expect(['panic', 'oops', 'bug', 'warning']).toContain(e.kind);
      }
    }
  });
});
