import { readFile } from 'node:fs/promises';
import type * as Yaml from 'yaml';
import { z } from 'zod';
import { ConfigError, UsageError } from './errors.js';
import { globToRegex } from './glob.js';
import { lazyRequire } from './lazy-require.js';
import type { TestResult } from './result.js';

// The YAML library loads when a YAML file is first read or written, not at every start-up.
const yaml = lazyRequire<typeof Yaml>('yaml');

/**
 * A kernel's known gaps: tests expected to fail on a target, each with its reason. A listed test
 * that fails is an expected failure (not a pass, not a run failure); a listed test that passes is
 * reported loudly as unexpectedly passing, and fails the run until the entry is removed.
 */
export interface Expectation {
  /** A test id, or a `*` glob over ids, e.g. `syscall/memory/mremap/*`. */
  test: string;
  reason: string;
  /** The capability the kernel lacks, if that is the reason (e.g. `mremap`, `user namespaces`). */
  needs?: string;
}

const fileSchema = z.array(
  z.strictObject({
    test: z.string({ error: 'must be a test id or glob' }).min(1),
    reason: z.string({ error: 'must say why the test is expected to fail' }).min(1),
    needs: z.string().optional(),
  }),
  { error: 'must be a list of entries, each with test and reason' },
);

/** Reads an expectations file (YAML, or JSON which is YAML too); every bad entry is reported at once. */
export async function loadExpectations(file: string): Promise<Expectation[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new UsageError(`expectations file not found: ${file}`, 'give an existing file to --expectations (or expectations in the target config)');
  }
  let raw: unknown;
  try {
    raw = yaml().parse(text) ?? [];
  } catch (err) {
    throw new UsageError(`${file} is not valid YAML: ${(err as Error).message}`);
  }
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(file, parsed.error.issues.map((i) => ({
      path: i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, ''),
      message: i.message,
      fix: '- test: syscall/memory/mremap/*\n    reason: mremap is not implemented yet',
    })));
  }
  return parsed.data;
}

/** The first expectation whose pattern matches the test id. */
export function findExpectation(id: string, expectations: readonly Expectation[]): Expectation | undefined {
  return expectations.find((e) => (e.test.includes('*') ? globToRegex(e.test).test(id) : e.test === id));
}

const FAILING = new Set(['failed', 'crashed', 'timedOut', 'parseError']);

/** Marks a result its expectation covers; returns the expectation that matched, if any. */
export function markExpectation(t: TestResult, expectations: readonly Expectation[]): Expectation | undefined {
  const e = findExpectation(t.id, expectations);
  if (!e) return undefined;
  const mark = { reason: e.reason, ...(e.needs && { needs: e.needs }) };
  if (FAILING.has(t.status)) t.expectation = { outcome: 'expected-failure', ...mark };
  else if (t.status === 'passed') t.expectation = { outcome: 'unexpected-pass', ...mark };
  return e;
}
