/**
 * Declarative shell tests (a target's `shellTests`), for kernel teams that do not write TypeScript
 * yet; LAVA's interactive tests are the model. Each step is one of:
 *  - `{ send: 'ls' }`: types the command and waits for the prompt (the shell channel's `run`);
 *    fails if the prompt does not come back in time;
 *  - `{ expect: 'regex' }`: the last command's output must match (before any `send`: the console
 *    since boot);
 *  - `{ notExpect: 'regex' }`: it must not match;
 *  - `{ timeout: ms }`: the time limit of the following `send` steps.
 * Every `send`, `expect` and `notExpect` step is a result, `shell/<test>/<n>-<kind>` (n from 1).
 */
export type ShellStep = { send: string } | { expect: string } | { notExpect: string } | { timeout: number };

export interface ShellTestDef {
  /** Kebab-case; the results are `shell/<name>/<step>`. */
  name: string;
  title?: string;
  steps: ShellStep[];
}
