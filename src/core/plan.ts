import type { BenchClockChoice } from '../bench/clock.js';
import { UsageError } from './errors.js';
import type { MachineNeeds } from './machine-needs.js';
import { globToRegex } from './glob.js';
import type { SuiteDef, TestDef } from './suite.js';

export interface PlannedTest {
  id: string;
  suite: SuiteDef;
  test: TestDef;
}

/** Tests that share one boot: same target, kernel, cmdline and session needs. */
export interface SessionPlan {
  /** Folder name of the session under the run's output dir. */
  id: string;
  key: string;
  tests: PlannedTest[];
  /** A session of benchmarks: its machine runs the benchmark clock. */
  clock?: BenchClockChoice;
  /** What its suite needs of the machine beyond the target's own (SuiteDef.machine). */
  machineNeeds?: MachineNeeds;
}

export interface PlanRequest {
  suites: readonly SuiteDef[];
  /** Suite names to run; when empty, every suite but the `explicit` ones. */
  only?: readonly string[];
  /** Substrings or `*` globs of test ids to keep. */
  grep?: readonly string[];
  /** Target + kernel + cmdline: what decides whether two tests can share a boot. */
  sessionKey: string;
  target: string;
  /**
   * The benchmark clock: tests of `benchmarks` suites get sessions of their own, booted with it,
   * unless it is real time (then nothing sets them apart). Default time.
   */
  benchClock?: BenchClockChoice;
}

/** The id (and folder name) of the plan's session at `index`: the first is `<target>-1`. */
export const sessionFolder = (target: string, index: number): string => `${target}-${index + 1}`;

// A `*` glob (globToRegex) matches the whole id, as globs do; a plain string matches any part of it.

/**
 * Picks the tests to run and groups them into sessions so one boot serves many tests. Tests that
 * end their machine run last in it.
 */
export function buildPlan(req: PlanRequest): SessionPlan[] {
  const byName = new Map(req.suites.map((s) => [s.name, s]));
  const unknown = (req.only ?? []).filter((n) => !byName.has(n));
  if (unknown.length > 0) {
    throw new UsageError(`unknown suite(s): ${unknown.join(', ')}`, `use one of: ${[...byName.keys()].join(', ')} (see \`tsuite list\`)`);
  }
  const named = (req.only?.length ?? 0) > 0;
  const chosen = named ? req.only!.map((n) => byName.get(n)!) : req.suites.filter((s) => !s.explicit);
  const patterns = (req.grep ?? []).map((g) => (g.includes('*') ? globToRegex(g) : g));
  const keep = (id: string) => patterns.length === 0 || patterns.some((p) => (typeof p === 'string' ? id.includes(p) : p.test(id)));

  const tests: PlannedTest[] = chosen.flatMap((suite) =>
    suite.tests.map((test) => ({ id: `${suite.name}/${test.name}`, suite, test })).filter((t) => keep(t.id)),
  );
  if (tests.length === 0) {
    const hidden = named ? [] : req.suites.filter((s) => s.explicit && s.tests.some((t) => keep(`${s.name}/${t.name}`)));
    const fix = hidden.length > 0
      ? `${hidden.map((s) => s.name).join(', ')} run${hidden.length === 1 ? 's' : ''} only when named: add --suite ${hidden.map((s) => s.name).join(',')}`
      : 'check --suite and --test (see `tsuite list`)';
    throw new UsageError('no tests match the selection', fix);
  }
  const clock = req.benchClock ?? 'time';
  const apart = (t: PlannedTest) => clock !== 'time' && t.suite.benchmarks === true;
  const sessions: SessionPlan[] = [];
  // A suite that needs more of the machine (an IOMMU, a test device) boots one of its own.
  const needy = (t: PlannedTest) => !apart(t) && t.suite.machine !== undefined;
  addSessions(sessions, tests.filter((t) => !apart(t) && !needy(t)), req);
  for (const suite of new Set(tests.filter(needy).map((t) => t.suite))) {
    addSessions(sessions, tests.filter((t) => needy(t) && t.suite === suite), req, undefined, suite.machine);
  }
  // Benchmarks last: an instruction-counting machine is slower at everything else.
  addSessions(sessions, tests.filter(apart), req, clock);
  if (clock === 'time') for (const s of sessions) if (s.tests.some((t) => t.suite.benchmarks)) s.clock = 'time';
  return sessions;
}

/** One session suffices until a test ends its machine; the next test then needs a fresh boot. */
function addSessions(sessions: SessionPlan[], tests: readonly PlannedTest[], req: PlanRequest, clock?: BenchClockChoice, machineNeeds?: MachineNeeds): void {
  const ordered = [...tests.filter((t) => !t.test.endsSession), ...tests.filter((t) => t.test.endsSession)];
  const key = `${req.sessionKey}${clock ? `+clock=${clock}` : ''}${machineNeeds ? `+machine=${JSON.stringify(machineNeeds)}` : ''}`;
  let current: SessionPlan | undefined;
  for (const t of ordered) {
    if (!current) {
      current = { id: sessionFolder(req.target, sessions.length), key, tests: [], ...(clock ? { clock } : {}), ...(machineNeeds ? { machineNeeds } : {}) };
      sessions.push(current);
    }
    current.tests.push(t);
    if (t.test.endsSession) current = undefined;
  }
}
