/**
 * The canonical result model. `results.json` is exactly a `RunResult`; every reporter and the
 * bench history only read it. Bump RESULT_VERSION on any incompatible change.
 */

import type { BenchClock } from '../bench/clock.js';
import type { ResolvedMachine } from './machine.js';
import type { MergeInfo } from './merge-results.js';
import type { ShardInfo } from './shard.js';

export const RESULT_VERSION = 1;

export const TEST_STATUSES = [
  'passed',
  'failed',
  'skipped',
  'timedOut',
  'crashed',
  'infraError',
  'noTests',
  'parseError',
] as const;
export type TestStatus = (typeof TEST_STATUSES)[number];

/** A measured value. In-guest metrics carry raw samples; a single reading uses `value`. */
export interface Metric {
  name: string;
  unit: string;
  value?: number;
  samples?: number[];
  /** Which direction is better, for later regression checks. */
  better?: 'lower' | 'higher';
  /**
   * What measured it, for a benchmark: `instructions` (a guest figure under QEMU icount, in
   * virtual units: 1 virtual ns = 1 guest instruction) or `time` (real time).
   */
  clock?: BenchClock;
  /** How `tsuite bench` folds a boot's instruction-count samples: see MetricDef.counted in src/bench/model.ts. */
  counted?: 'least-disturbed' | 'better-half';
}

export interface TestResult {
  /** `<suite>/<test>`: stable across runs, used by history and expectations. */
  id: string;
  suite: string;
  title: string;
  status: TestStatus;
  durationMs: number;
  /** Why a test was skipped (always set for `skipped`). */
  reason?: string;
  /** What went wrong, for every non-passing, non-skipped status. */
  error?: { message: string; consoleExcerpt?: string };
  metrics: Metric[];
  /** Session (one boot) the test ran in; matches a folder under the output dir. */
  session: string;
  /** Passed only after a retry: reported as such, never as a plain pass. */
  retries?: number;
  /**
   * Set when the target's expectations file lists this test: a listed failure is an
   * `expected-failure` (not a pass, not a run failure); a listed test that passed is an
   * `unexpected-pass` (fails the run until the entry is removed).
   */
  expectation?: { outcome: 'expected-failure' | 'unexpected-pass'; reason: string; needs?: string };
  /** What the parser of the test's output (KTAP) noticed but tolerated, e.g. odd indentation or numbering. */
  warnings?: string[];
}

export interface KernelInfo {
  /** What was booted: a path on the host. */
  path: string;
  /**
   * Where it came from: `debian-package` for the reference kernel, `file` for the user's own,
   * `source` for one built from a source tree, `image` for an ISO or disk image, `fixture` for
   * tsuite's own test kernel, `drives` for a boot from the machine's drives (path: the boot drive), `endpoint` for whatever kernel runs an existing Docker endpoint
   * (path is the endpoint's URL, version the kernel the engine reports), `host` for the kernel running
   * the host itself (the local target; path is empty, version its release).
   */
  source: 'debian-package' | 'file' | 'source' | 'image' | 'drives' | 'fixture' | 'endpoint' | 'host';
  package?: string;
  version?: string;
  /** For `source`: the tree's commit, with `+dirty.<hash>` for uncommitted changes. */
  revision?: string;
  /** For `source`: the build's log. */
  buildLog?: string;
  initrd?: string;
  /** A root filesystem image the kernel booted from (the container host's). */
  rootfs?: string;
  cmdline: string;
}

/**
 * How a machine ended. `reset` is a guest reset (reboot request, triple fault) under -no-reboot.
 * `stopped`: tsuite stopped a machine that has no power-off once its session was over (or the run
 * was interrupted), as planned: never a crash or a failure.
 */
export interface ExitInfo {
  kind: 'clean' | 'panic' | 'hang' | 'killed' | 'exit-code' | 'reset' | 'stopped';
  /** The host process's exit status, when it exited by itself. */
  code?: number;
  detail?: string;
}

/** What results.json says about a session on a cloud instance; the full record is the session's cloud.json. */
export interface CloudSessionInfo {
  provider: string;
  where: Readonly<Record<string, string>>;
  machineType: string;
  resources: { group?: string; object?: string; image?: string; instance?: string };
  /** Every resource deleted (or never created) by teardown. */
  cleanedUp: boolean;
  /** Resources teardown could not delete, with the command that deletes each. */
  leftovers: { kind: string; name: string; deleteCommand?: string }[];
  consoleGaps: number;
  provenance: string;
}

export interface SessionResult {
  id: string;
  target: string;
  accel: 'kvm' | 'tcg' | 'none';
  accelReason?: string;
  /** Relative to the output dir. */
  consoleLog: string;
  /** How the machine ended. */
  exit?: ExitInfo;
  bootMs?: number;
  /** The Docker Engine the session talked to, and the API version negotiated with it. */
  docker?: { endpoint: string; apiVersion: string; serverApiVersion: string; engineVersion: string; os: string; arch: string; kernelVersion?: string };
  /** Why the target's Docker endpoint never answered. */
  dockerProblem?: string;
  /** The CRI runtime the session talked to, as its `Version` answered. */
  cri?: { endpoint: string; version: string; runtimeName: string; runtimeVersion: string; runtimeApiVersion: string };
  /** Why the target's CRI endpoint never answered. */
  criProblem?: string;
  /** What the session's tests set up for the whole session and could not undo (a registry that would not stop). */
  cleanupProblems?: string[];
  /** A cloud session: where it ran, what it created, and whether teardown deleted all of it (details in its cloud.json). */
  cloud?: CloudSessionInfo;
  /**
   * The kernel never reached its landmark: how and why, once for the session. Each test that could
   * not run for it carries the same status and error.
   */
  bootFailure?: { status: 'crashed' | 'timedOut'; message: string; consoleExcerpt?: string };
  /** The machine the kernel ran on: type, drives, NICs with their host ports, shares, IOMMU, extra devices, raw args. */
  machine?: ResolvedMachine;
  /**
   * A benchmark session's clock: `instructions` (QEMU `-icount shift=0,sleep=off,align=off`, one
   * vCPU: guest figures are instruction counts) or `time` (real time). Absent for other sessions.
   */
  clock?: BenchClock;
  /** The host CPUs QEMU was pinned to (`tsuite compare --duet`); absent when not pinned. */
  hostCpus?: number[];
  /** A time-mode benchmark session: QEMU's priority on the host (`autogroup nice -10`, or why not). */
  hostPriority?: string;
}

export interface RunInfo {
  id: string;
  target: string;
  startedAt: string;
  finishedAt?: string;
  kernel: KernelInfo;
  /** The accelerator the (last) session ran under, and why: KVM only where it really works. */
  accel: 'kvm' | 'tcg' | 'none';
  accelReason?: string;
  qemuVersion?: string;
  host: { hostname: string; platform: string; arch: string; cpuModel: string; cpus: number; memoryMb: number };
  tsuiteVersion: string;
  /** Set when SIGINT/SIGTERM cut the run short; the results are then partial. */
  interrupted?: { signal: string };
  /** The expectations file applied, and its entries that matched no test (stale: remove them). */
  expectations?: { file: string; stale: string[] };
  /** A harness failure outside any test (for example no QEMU on the host). */
  infraError?: { message: string; fix?: string };
  /** Whether tests were allowed to change a machine tsuite does not own beyond the run (--allow-destructive). */
  allowDestructive?: boolean;
  /** This run is one shard of a plan (`--shard i/n`): which, and what `tsuite merge` checks. */
  shard?: ShardInfo;
  /** This run was joined by `tsuite merge` from shards of one plan. */
  merged?: MergeInfo;
}

export interface Summary {
  total: number;
  passed: number;
  failed: number;
  skipped: number;
  timedOut: number;
  crashed: number;
  infraError: number;
  noTests: number;
  parseError: number;
  /** Failures the expectations file lists (already counted in their status above). */
  expectedFailures: number;
  /** Listed tests that passed (already counted in `passed`). */
  unexpectedPasses: number;
  durationMs: number;
}

export interface RunResult {
  version: typeof RESULT_VERSION;
  run: RunInfo;
  summary: Summary;
  sessions: SessionResult[];
  tests: TestResult[];
  /** Per suite that declares one: pass / fail / skip per API item (syscall, endpoint). */
  conformance?: Record<string, ConformanceMatrix>;
}

export interface ConformanceItem {
  /** e.g. `memory/mremap` for a syscall (family/name). */
  item: string;
  /** `unimplemented`: nothing ran, because the target answered the item's API call as not implemented. */
  status: 'pass' | 'fail' | 'skip' | 'expected-fail' | 'unimplemented';
  passed: number;
  failed: number;
  skipped: number;
  /** Why it was skipped or expected to fail. */
  reasons: string[];
  /** Extra facts the suite adds, e.g. the syscall number on this arch. */
  details?: Record<string, string | number>;
}

export interface ConformanceMatrix {
  /** What an item is: `syscall`, `attempt`, `endpoint`. */
  itemKind: string;
  /** Items with at least one behaviour that ran (passed or failed). */
  covered: number;
  items: ConformanceItem[];
}

export function summarize(tests: readonly TestResult[], durationMs: number): Summary {
  const summary: Summary = {
    total: tests.length,
    passed: 0,
    failed: 0,
    skipped: 0,
    timedOut: 0,
    crashed: 0,
    infraError: 0,
    noTests: 0,
    parseError: 0,
    expectedFailures: 0,
    unexpectedPasses: 0,
    durationMs,
  };
  for (const t of tests) {
    summary[t.status] += 1;
    if (t.expectation?.outcome === 'expected-failure') summary.expectedFailures += 1;
    if (t.expectation?.outcome === 'unexpected-pass') summary.unexpectedPasses += 1;
  }
  return summary;
}

/**
 * A result that fails the run: a kernel failure the expectations file does not list, or a listed
 * test that unexpectedly passed.
 */
export function failsRun(t: TestResult): boolean {
  if (t.expectation?.outcome === 'unexpected-pass') return true;
  return isKernelFailure(t.status) && t.expectation?.outcome !== 'expected-failure';
}

/**
 * Statuses that are the kernel's fault. `infraError` is deliberately not one of them. `noTests`
 * is: a kernel that was to print its tests and ran none fails the run, as kunit.py's "no tests run" does.
 */
export function isKernelFailure(status: TestStatus): boolean {
  return status === 'failed' || status === 'timedOut' || status === 'crashed' || status === 'parseError' || status === 'noTests';
}
