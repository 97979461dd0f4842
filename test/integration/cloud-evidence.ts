import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { RunResult } from '../../src/core/result.js';
import type { Provenance } from '../../runners/cloud/provenance.js';
import type { CliResult } from './cli.js';

/** What every cloud end-to-end test reads back from a run, and the secret check each run must pass. */

/** A suite whose one test is still waiting when a run is interrupted mid-suite. */
export const SLOW_SUITE = `import { defineSuite } from 'tsuite';
export default defineSuite({
  name: 'slow',
  description: 'a test still running when the run is interrupted',
  explicit: true,
  tests: [{
    name: 'waits', title: 'waits for a console line that never comes', requires: ['console'], timeoutMs: 120000,
    async run({ session, signal }) { await session.console.expect(/never-printed-by-any-kernel/, { timeoutMs: 100000, signal }); },
  }],
});
`;

export function readResults(dir: string, run?: CliResult): RunResult {
  if (!existsSync(join(dir, 'results.json'))) throw new Error(`no results.json; the CLI said:\n${run?.stdout ?? ''}${run?.stderr ?? ''}`);
  return JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as RunResult;
}

/** A session's cloud.json. */
export const readProvenance = (dir: string, session: string) => JSON.parse(readFileSync(join(dir, session, 'cloud.json'), 'utf8')) as Provenance;

/** Every file under `dir`, recursively. */
export function outputFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? outputFiles(p) : [p];
  });
}

/** No planted credential in any output file, stdout or stderr. */
export function expectNoSecrets(run: CliResult & { out: string }, secrets: readonly string[]): void {
  expect(secrets.length).toBeGreaterThan(0);
  for (const secret of secrets) {
    expect(run.stdout + run.stderr).not.toContain(secret);
    for (const f of outputFiles(run.out)) expect(readFileSync(f, 'latin1').includes(secret), `${f} holds a planted secret`).toBe(false);
  }
}
