import { UsageError } from '../core/errors.js';
import type { SuiteDef } from '../core/suite.js';

/** What `tsuite bench` and `tsuite compare` measure unless told: the built-in benchmarks. */
export const DEFAULT_BENCH_SUITES: readonly string[] = ['bench'];

/**
 * The benchmark suites to measure: the built-in `bench`, or the kernel team's own suites declared
 * with `benchmarks: true`. A suite that is not a benchmark suite is refused: its figures (if any)
 * were never meant for the history or a regression verdict.
 */
export function benchSuites(named: readonly string[] | undefined, available: readonly SuiteDef[]): string[] {
  const names = named?.length ? [...new Set(named)] : [...DEFAULT_BENCH_SUITES];
  const benchmarks = available.filter((s) => s.benchmarks).map((s) => s.name);
  for (const name of names) {
    const suite = available.find((s) => s.name === name);
    if (!suite) throw new UsageError(`unknown suite '${name}'`, `name a benchmark suite: ${benchmarks.join(', ')} (see \`tsuite list\`)`);
    if (!suite.benchmarks) {
      throw new UsageError(`suite '${name}' is not a benchmark suite`, `name one of ${benchmarks.join(', ')}, or mark your suite with benchmarks: true in its defineSuite`);
    }
  }
  return names;
}
