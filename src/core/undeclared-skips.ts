import type { PlannedTest, SessionPlan } from './plan.js';
import { undeclaredRequirement, type TargetFacts } from './suite.js';

/**
 * Tests whose requirements the target's config never offers (a channel it does not declare, KTAP
 * it does not print, a power-off it has no command for) are known before any boot: dispatch
 * records them `skipped`, whatever the boot then does, and boots nothing for a session left empty.
 */

/** A planned test the target can never run, and why. */
export interface UndeclaredSkip {
  test: PlannedTest;
  reason: string;
}

/** The plan's sessions with the tests the target can never run taken out (and kept, with why). */
export function withoutUndeclared(sessions: readonly SessionPlan[], target: TargetFacts): { plan: SessionPlan; skipped: UndeclaredSkip[] }[] {
  return sessions.map((s) => {
    const skipped: UndeclaredSkip[] = [];
    const runnable: PlannedTest[] = [];
    for (const test of s.tests) {
      const reason = (test.test.requires ?? []).map((need) => undeclaredRequirement(need, target)).find((r) => r !== undefined);
      if (reason === undefined) runnable.push(test);
      else skipped.push({ test, reason });
    }
    return { plan: { ...s, tests: runnable }, skipped };
  });
}
