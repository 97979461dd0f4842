import type { BootReport } from '../parsers/boot-report.js';
import type { ConformanceSpec } from './conformance.js';
import type { Metric, TestStatus } from './result.js';
import type { ChannelKind, Session } from './session.js';

/**
 * What a test may require. A session that lacks one makes the test `skipped` with the reason,
 * never `failed`.
 *  - a channel kind: the target must offer that channel;
 *  - `boot-report`: the kernel printed the tsuite boot report;
 *  - `live`: a running machine (not a replayed console log);
 *  - `power-off`: the guest powers off when asked;
 *  - `ktap`: the target declares that its kernel prints KTAP on the console;
 *  - a list of channel kinds: any one of them (the syscall probes run over the agent or, for a
 *    kernel whose only interface is its management API, in a container over `docker`).
 */
export type Requirement = ChannelKind | 'boot-report' | 'live' | 'power-off' | 'ktap' | readonly ChannelKind[];

/** What a test may know of its target beyond the session: facts from the target's config. */
export interface TargetFacts {
  name: string;
  /** Guest arch (`x86_64`, `aarch64`): probes and syscall numbers differ by arch. */
  arch: string;
  /** The kernel prints its in-kernel test results as KTAP on the console. */
  ktap: boolean;
  /** The isa-debug-exit value that means success (QEMU status `(value << 1) | 1`), if the kernel uses it. */
  exitSuccessValue?: number;
  /**
   * Where the containers suite gets busybox, nginx and alpine: `local` images tsuite builds and
   * loads (no registry), or `upstream` ones pulled by reference where a registry is reachable.
   */
  containerImages: 'local' | 'upstream';
}

/** A result a test reports for one of its children (e.g. each in-kernel KTAP test). */
export interface ChildResult {
  /** Path below the suite: the id becomes `<suite>/<name>`. */
  name: string;
  title?: string;
  status: TestStatus;
  reason?: string;
  error?: { message: string; consoleExcerpt?: string };
  durationMs?: number;
  metrics?: Metric[];
}

export interface TestContext {
  readonly session: Session;
  /** Present whenever the test requires `boot-report`. */
  readonly bootReport: BootReport | undefined;
  readonly target: TargetFacts;
  /** The run's id: everything a test creates outside the machine (containers, networks) is labelled with it. */
  readonly runId: string;
  readonly signal: AbortSignal;
  metric(metric: Metric): void;
  /**
   * Reports a child result. A test that reports children and does not throw is represented by its
   * children only; if it throws, its own failure is recorded beside them.
   */
  emit(child: ChildResult): void;
  /** Ends the test as skipped. Only for conditions found at run time; static ones belong in `requires`. */
  skip(reason: string): never;
}

export interface TestDef {
  /** Kebab-case; the test id is `<suite>/<name>`. */
  name: string;
  title: string;
  requires?: readonly Requirement[];
  timeoutMs?: number;
  /** The test ends the machine (e.g. shutdown): it runs last in its session. */
  endsSession?: boolean;
  /**
   * For `tsuite list`: what the test reports as children (ids below the suite) and any notes on
   * what they need beyond `requires` (root, arch). The kernel decides at run time; this is the plan.
   */
  describeChildren?(): { ids: readonly string[]; notes?: readonly string[] };
  run(ctx: TestContext): Promise<void> | void;
}

export interface SuiteDef {
  name: string;
  description: string;
  tests: readonly TestDef[];
  /** The suite's results fold into a conformance matrix (per syscall, per endpoint). */
  conformance?: ConformanceSpec;
  /**
   * Runs only when named (`--suite`, the config's `suites`, or `tsuite bench`), never in a plain
   * `tsuite run`: for suites too slow for every run, such as the benchmarks.
   */
  explicit?: true;
}

export function defineSuite(suite: SuiteDef): SuiteDef {
  return suite;
}

/** Thrown by `ctx.skip`. */
export class SkipTest extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'SkipTest';
  }
}

/**
 * A channel the target promised but that did not come up (its engine never answered): a test that
 * needs it fails with this, rather than being skipped, since the target said it offers it.
 */
export function brokenChannel(req: Requirement, session: Session): string | undefined {
  const kinds: readonly Requirement[] = typeof req === 'string' ? [req] : req;
  if (kinds.some((k) => typeof k === 'string' && session.channels.has(k as ChannelKind))) return undefined;
  return kinds.includes('docker') && session.dockerProblem ? `the target's Docker endpoint did not come up: ${session.dockerProblem}` : undefined;
}

/** Why a requirement is not met, or undefined when it is. */
export function unmetRequirement(req: Requirement, session: Session, report: BootReport | undefined, target: TargetFacts): string | undefined {
  if (typeof req !== 'string') {
    const reasons = req.map((kind) => unmetRequirement(kind, session, report, target));
    return reasons.some((r) => r === undefined) ? undefined : `needs one of the channels ${req.join(', ')}: ${reasons.join('; ')}`;
  }
  switch (req) {
    case 'ktap':
      return target.ktap ? undefined : `target '${target.name}' does not declare KTAP output (ktap: true in its config, or --ktap)`;
    case 'live':
      if (session.spec) return undefined;
      return session.channels.has('console') ? 'needs a running machine; this is a replayed console log' : `target '${target.name}' is an existing endpoint: there is no machine tsuite booted to check`;
    case 'power-off':
      return session.canPowerOff ? undefined : 'the target has no power-off command (powerOffCommand in its config)';
    case 'boot-report':
      return report
        ? undefined
        : 'the kernel printed no tsuite boot report (`tsuite-boot:` lines); boot it with the tsuite initramfs (--initrd tsuite) to run this test';
    case 'agent':
      if (session.channels.has('agent')) return undefined;
      return session.agentProblem ? `no agent channel: ${session.agentProblem}` : `target '${target.name}' offers no agent channel (agent: true in its config, or --agent)`;
    default:
      return session.channels.has(req) ? undefined : `target offers no '${req}' channel`;
  }
}

/** Thrown by a test to end with a specific non-passing status, e.g. `noTests` when a kernel printed no KTAP. */
export class TestOutcome extends Error {
  constructor(
    readonly status: Exclude<TestStatus, 'passed' | 'skipped'>,
    message: string,
  ) {
    super(message);
    this.name = 'TestOutcome';
  }
}
