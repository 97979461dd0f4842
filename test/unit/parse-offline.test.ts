import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { landmarkVerdict, offlineSuites } from '../../src/cli/commands/parse-offline.js';
import { SkipTest, type TestContext } from '../../src/core/suite.js';
import { BOOT_REPORT_READY } from '../../src/parsers/boot-report.js';
import { builtInSuites } from '../../suites/index.js';

const lines = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8').split('\n');
const KUNIT = lines('fixtures/ktap/kunit-builtin-x86_64.log');
const TSUITE = lines('fixtures/console/reference-x86_64-ok.log');

describe('tsuite parse without a landmark line', () => {
  it('reads the KTAP of a log that never printed tsuite\'s default landmark, and says how to name one', () => {
    const v = landmarkVerdict(KUNIT, BOOT_REPORT_READY, false, true, 'k.log');
    expect(v).toMatchObject({ optional: true, skipReason: expect.stringContaining("tsuite parse k.log --landmark '<regex>'") });
    expect(v.note).toContain('reading its KTAP');
  });

  it('keeps a failed boot a failed boot: a named landmark the log lacks, or neither landmark nor KTAP', () => {
    expect(landmarkVerdict(KUNIT, /never printed/, true, true, 'k.log')).toMatchObject({ optional: false, note: expect.stringContaining('did not get there') });
    expect(landmarkVerdict(TSUITE.slice(0, 10), BOOT_REPORT_READY, false, false, 't.log')).toMatchObject({ optional: false, note: expect.stringContaining("--landmark '<regex>'") });
    expect(landmarkVerdict(TSUITE, BOOT_REPORT_READY, false, false, 't.log')).toEqual({ optional: false });
  });

  it('skip reasons of the built-in suites offline suggest no flag `tsuite parse` lacks', async () => {
    const reasons: string[] = [];
    const ctx = { skip: (r: string) => { throw new SkipTest(r); } } as unknown as TestContext;
    const suites = offlineSuites(builtInSuites, { bootSkip: landmarkVerdict(KUNIT, BOOT_REPORT_READY, false, true, 'k.log').skipReason, hasBootReport: false });
    for (const s of suites) {
      for (const t of s.tests) {
        const original = builtInSuites.find((b) => b.name === s.name)!.tests.find((o) => o.name === t.name)!;
        if (t === original) continue;
        expect(t.requires).toEqual(['console']);
        const thrown = await Promise.resolve().then(() => t.run(ctx)).then(() => undefined, (e: unknown) => e);
        expect(thrown, `${s.name}/${t.name}`).toBeInstanceOf(SkipTest);
        reasons.push((thrown as SkipTest).reason);
      }
    }
    expect(reasons.length).toBeGreaterThan(20);
    const flags = new Set(reasons.flatMap((r) => r.match(/--[a-z][a-z-]+/g) ?? []));
    expect([...flags]).toEqual(['--landmark']);
    // The boot suite's offline tests carry the landmark reason; the live ones say they need a machine.
    const boot = suites.find((s) => s.name === 'boot')!;
    const reasonOf = async (name: string) => { try { await boot.tests.find((t) => t.name === name)!.run(ctx); } catch (e) { return (e as SkipTest).reason; } };
    expect(await reasonOf('no-kernel-errors')).toContain('no tsuite boot landmark');
    expect(await reasonOf('cpus')).toMatch(/^needs a running machine \(live\)/);
  });

  it('leaves a test that a replayed log can answer as it is', () => {
    const suites = offlineSuites(builtInSuites, { hasBootReport: true });
    const kernel = suites.find((s) => s.name === 'kernel')!;
    expect(kernel.tests[0]).toBe(builtInSuites.find((s) => s.name === 'kernel')!.tests[0]);
    expect(suites.find((s) => s.name === 'boot')!.tests.find((t) => t.name === 'no-kernel-errors')).toBe(
      builtInSuites.find((s) => s.name === 'boot')!.tests.find((t) => t.name === 'no-kernel-errors'),
    );
  });
});
