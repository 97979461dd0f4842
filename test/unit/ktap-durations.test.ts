import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ConsoleLine } from '../../src/channels/console.js';
import { parseKtapAll } from '../../src/parsers/ktap.js';
import { ktapConsoleDurations } from '../../suites/ktap-durations.js';
import { reportedKtapTests } from '../../suites/ktap-results.js';

/**
 * A real KUnit boot (fixtures/ktap/README.md) as if it had arrived on the console when the kernel
 * printed each line: its printk timestamp is the arrival time.
 */
const log = readFileSync(new URL('../../fixtures/ktap/kunit-builtin-x86_64.log', import.meta.url), 'utf8').replace(/\r/g, '').split('\n');
const stamp = (text: string) => Number(/^\[\s*(\d+\.\d+)\]/.exec(text)?.[1] ?? NaN) * 1000;
let last = 0;
const lines: ConsoleLine[] = log.map((text) => ({ text, atMs: (last = Number.isNaN(stamp(text)) ? last : stamp(text)) }));
const docs = parseKtapAll(log);
const reported = reportedKtapTests(docs);
const ms = (durations: number[], name: string) => durations[reported.findIndex((r) => r.test.name === name)];

describe('ktapConsoleDurations', () => {
  const durations = ktapConsoleDurations(reported, docs, lines);

  it("gives each KTAP test the time between its result line and the previous one, as the kernel's own clock shows", () => {
    // `[0.450298] KTAP version 1` ... `[2.845598]     ok 1 time64_to_tm_test_date_range`: KUnit's slow one.
    expect(ms(durations, 'time64_to_tm_test_date_range')).toBe(2395);
    // `[2.845598]` (the previous case) ... `[2.851426]     ok 1 test_one_cpu # SKIP`, across a suite boundary.
    expect(ms(durations, 'test_one_cpu')).toBe(6);
    expect(ms(durations, 'test_many_cpus')).toBe(1);
    expect(durations.every((d) => Number.isInteger(d) && d >= 0)).toBe(true);
  });

  it("adds up to the time from the document's version line to its last result", () => {
    const lastLine = Math.max(...reported.map((r) => r.test.line));
    const total = durations.reduce((a, b) => a + b, 0);
    expect(Math.abs(total - (lines[lastLine]!.atMs - lines[docs[0]!.startLine]!.atMs))).toBeLessThanOrEqual(reported.length);
  });

  it('a log replayed all at once gives no time to any test', () => {
    const replayed = log.map((text) => ({ text, atMs: 1_700_000_000_000 }));
    expect(new Set(ktapConsoleDurations(reported, docs, replayed))).toEqual(new Set([0]));
  });
});
