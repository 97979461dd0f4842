import type { Requirement, SuiteDef, TestDef } from '../../core/suite.js';

/**
 * What `tsuite parse` does about the boot landmark of a saved log. A log from a kernel that never
 * printed tsuite's landmark (the default one, nobody named another) is still read for its KTAP:
 * the boot tests, which need to know where boot ended, are skipped with how to name a landmark.
 * A landmark the user named (--landmark, or the target's) that the log lacks is a failed boot, as
 * it would have been live; so is a log with neither the landmark nor any KTAP to read.
 */
export interface LandmarkVerdict {
  /** The replay goes on without a landmark line. */
  optional: boolean;
  /** For stderr, when the log has no landmark line. */
  note?: string;
  /** Why the boot tests are skipped, when they are. */
  skipReason?: string;
}

export function landmarkVerdict(lines: readonly string[], landmark: RegExp, named: boolean, hasKtap: boolean, logPath: string): LandmarkVerdict {
  if (lines.some((l) => landmark.test(l.replace(/\r/g, '')))) return { optional: false };
  const how = `name the console line your kernel prints once it is up: tsuite parse ${logPath} --landmark '<regex>'`;
  if (named) return { optional: false, note: `No line of ${logPath} matches the boot landmark ${landmark}: the boot did not get there\n` };
  if (!hasKtap) return { optional: false, note: `No tsuite boot landmark (${landmark}) and no KTAP in ${logPath}; if your kernel prints no tsuite boot report, ${how}\n` };
  const skipReason = `the log has no tsuite boot landmark (${landmark}), so where boot ended is unknown: ${how}`;
  return { optional: true, skipReason, note: `No tsuite boot landmark (${landmark}) in ${logPath}: reading its KTAP; to run the boot tests, ${how}\n` };
}

/** What a saved console log can answer: its console, its KTAP, its boot report. */
const OFFLINE: readonly Requirement[] = ['console', 'ktap', 'boot-report'];

/**
 * The suites as `tsuite parse` runs them. Skip reasons written for `tsuite run` suggest its flags
 * (--agent, --initrd tsuite); offline, a test skips for what the log lacks instead:
 *  - a test that needs anything but the console, KTAP or the boot report needs a running machine;
 *  - the `boot` suite's tests, when the log has no landmark (`bootSkip`);
 *  - a test that needs the boot report, when the log has none.
 */
export function offlineSuites(suites: readonly SuiteDef[], opts: { bootSkip?: string; hasBootReport: boolean }): SuiteDef[] {
  const reasonFor = (suite: SuiteDef, t: TestDef): string | undefined => {
    const needs = (t.requires ?? []).filter((r) => typeof r !== 'string' || !OFFLINE.includes(r));
    if (needs.length > 0) return `needs a running machine (${needs.map((r) => (typeof r === 'string' ? r : r.join(' or '))).join(', ')}); this is a replayed console log`;
    if (suite.name === 'boot' && opts.bootSkip) return opts.bootSkip;
    if (!opts.hasBootReport && t.requires?.includes('boot-report')) {
      return 'the log has no tsuite boot report (`tsuite-boot:` lines): the kernel was not booted with the tsuite initramfs';
    }
    return undefined;
  };
  return suites.map((s) => ({
    ...s,
    tests: s.tests.map((t) => {
      const reason = reasonFor(s, t);
      return reason === undefined ? t : ({ ...t, requires: ['console'], run: (ctx) => ctx.skip(reason) } satisfies TestDef);
    }),
  }));
}
