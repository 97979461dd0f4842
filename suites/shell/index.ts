import { defineSuite, SHELL_DEFAULT_TIMEOUT_MS, type SuiteDef, type TargetDef, type TestDef } from '../../src/index.js';
import { planSteps, runShellSteps, testTimeoutMs } from './steps.js';

export const SHELL_SUITE = 'shell';

const DESCRIPTION = "Declarative shell tests from the target's shellTests: send / expect / notExpect / timeout steps over the shell channel, each step a result";

/**
 * The suite as listed before a target is known: no tests of its own. `withShellTests` puts the
 * target's tests in its place, so `--suite shell`, the config's `suites` and `tsuite list` all know
 * the name.
 */
export default defineSuite({ name: SHELL_SUITE, description: DESCRIPTION, tests: [] });

/** The `shell` suite of one target: one test per entry of its shellTests, each needing the shell channel. */
export function shellSuite(def: Pick<TargetDef, 'shellTests' | 'shell'>): SuiteDef {
  const sendMs = def.shell?.timeoutMs ?? SHELL_DEFAULT_TIMEOUT_MS;
  const tests: TestDef[] = (def.shellTests ?? []).map((test) => ({
    name: test.name,
    title: test.title ?? `shell test '${test.name}'`,
    requires: ['shell'],
    timeoutMs: testTimeoutMs(test, sendMs),
    describeChildren: () => ({ ids: planSteps(test).map((p) => p.name) }),
    run: (ctx) => runShellSteps(test, ctx),
  }));
  return defineSuite({ name: SHELL_SUITE, description: DESCRIPTION, tests });
}

/** `suites` with the placeholder `shell` suite replaced by the target's own. */
export function withShellTests(suites: readonly SuiteDef[], def: Pick<TargetDef, 'shellTests' | 'shell'>): SuiteDef[] {
  return suites.map((s) => (s.name === SHELL_SUITE && s.tests.length === 0 ? shellSuite(def) : s));
}
