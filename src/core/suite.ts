import type { BootReport } from '../parsers/boot-report.js';
import type { ConformanceSpec } from './conformance.js';
import type { MachineNeeds } from './machine-needs.js';
import type { DevicePluginSettings } from './target.js';
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
  /**
   * The channels the target declares it offers (a QEMU target: `console`, `exit` when its arch
   * profile has an exit device, `agent`, `docker`, `shell` as configured). A test needing a channel
   * not listed is `skipped` before any boot, whatever the boot does; one listed may still be missing
   * from a session (an agent that never answered), which the session then says. Absent: not known
   * before the session, so every requirement is judged against it.
   */
  channels?: readonly ChannelKind[];
  /** The target declares a power-off command (`powerOffCommand`); absent: not known before the session. */
  powerOff?: boolean;
  /** Why the target can never power off when asked, if that is not a missing setting (a cloud instance's console is output only). */
  powerOffWhy?: string;
  /** Why the target never has a tsuite boot report, if that is not a missing setting (the local target was not booted by tsuite). */
  bootReportWhy?: string;
  /**
   * The user allowed changes that outlive the session on a machine tsuite does not own (`tsuite run
   * --allow-destructive`, or the target's `allowDestructive`): binding a device away from its
   * driver, loading kernel modules. A guest tsuite booted is thrown away, so this matters where the
   * agent works on a shared host (`session.agent.scratchRoot` set: the local target); a test that
   * would do such a thing there without it skips (`requireDestructive`). Absent: false.
   */
  allowDestructive?: boolean;
  /** The device plugin the target's config names for the gpu suite to check (its `devicePlugin`). */
  devicePlugin?: DevicePluginSettings;
}

/**
 * A result a test reports for one of its children (e.g. each in-kernel KTAP test, each syscall
 * behaviour), with `ctx.emit`. Each becomes a result of its own in every report.
 */
export interface ChildResult {
  /** Path below the suite: the id becomes `<suite>/<name>` (e.g. `features/fpu`). */
  name: string;
  /** Human words for reports; defaults to the name. */
  title?: string;
  status: TestStatus;
  /** Why it was skipped: required for `skipped`. */
  reason?: string;
  /** What went wrong, for a non-passing status; `consoleExcerpt` defaults to nothing. */
  error?: { message: string; consoleExcerpt?: string };
  /**
   * How long the child took, when the test has evidence (the kernel suite: the console arrival
   * times of KTAP result lines). Left out: the time since the test's previous report (or its
   * start), so children reported all at once after one program ran give it all to the first.
   */
  durationMs?: number;
  metrics?: Metric[];
  /** What the parser of its output noticed but tolerated; copied to the result's `warnings`. */
  warnings?: string[];
}

/**
 * What a test's `run` gets. Throwing fails the test (`failed`, with the console's last lines);
 * `TestOutcome` ends it with another status; `ctx.skip` skips it; running past `timeoutMs` is
 * `timedOut`; the machine dying under it is `crashed`; an `InfraError` is `infraError` (the harness's
 * fault, never the kernel's).
 */
export interface TestContext {
  /**
   * The booted machine: `console` (every line, `expect(regex, { timeoutMs })`, `write`), and the
   * channels the test required — `agent` (QEMU Guest Agent), `docker` (Docker Engine API), `shell`
   * (commands typed at the kernel's serial prompt: `shell.run('cmd')` returns the output).
   */
  readonly session: Session;
  /** Present whenever the test requires `boot-report`. */
  readonly bootReport: BootReport | undefined;
  /** What the target's config says: name, arch, KTAP, which channels it declares. */
  readonly target: TargetFacts;
  /** The run's id: everything a test creates outside the machine (containers, networks) is labelled with it. */
  readonly runId: string;
  /** Aborted when the test times out or the run is interrupted: pass it to every wait. */
  readonly signal: AbortSignal;
  /**
   * Records a measurement on this test's result (every reporter shows it; `tsuite bench` keeps
   * history of them). In a benchmark session a metric without `clock` takes the session's: the
   * guest's clock, which counts instructions in instruction mode. A figure timed on the host must
   * say `clock: 'time'`.
   */
  metric(metric: Metric): void;
  /**
   * Reports a child result. A test that reports children and does not throw is represented by its
   * children only; if it throws, its own failure is recorded beside them.
   */
  emit(child: ChildResult): void;
  /** Ends the test as skipped. Only for conditions found at run time; static ones belong in `requires`. */
  skip(reason: string): never;
  /**
   * Registers an undo for something set up once for the whole session (a service the tests share):
   * it runs after the session's last test, before the machine goes, latest first, pass or fail. A
   * failure is recorded on the session (`cleanupProblems`), never on a test.
   */
  atSessionEnd(what: string, run: () => Promise<void>): void;
}

/** One test of a suite. */
export interface TestDef {
  /** Kebab-case; the test id is `<suite>/<name>`. */
  name: string;
  /** What the test checks, in words: reports show it. */
  title: string;
  /** What the session must offer; a test whose requirement is unmet is `skipped` with the reason, never run. */
  requires?: readonly Requirement[];
  /** Per-test limit in ms (default: the config's testTimeoutMs, 60000); past it the test is `timedOut`. */
  timeoutMs?: number;
  /** The test ends the machine (e.g. shutdown): it runs last in its session. */
  endsSession?: boolean;
  /**
   * For `tsuite list`: what the test reports as children (ids below the suite) and any notes on
   * what they need beyond `requires` (root, arch). The kernel decides at run time; this is the plan.
   */
  describeChildren?(): { ids: readonly string[]; notes?: readonly string[] };
  /** The test itself: returning passes it, unless it emitted children (then they are its results). */
  run(ctx: TestContext): Promise<void> | void;
}

/**
 * A suite: built in (suites/) or a kernel team's own, in a file matched by the config's
 * `suiteFiles` (default `tsuite/**` + `/*.suite.ts`) that default-exports one suite or an array.
 */
export interface SuiteDef {
  /** Kebab-case, unique among all suites (built-in and user): it prefixes every test id. */
  name: string;
  /** One line for `tsuite list`. */
  description: string;
  /** Run in this order, sharing one boot until a test `endsSession`. */
  tests: readonly TestDef[];
  /** The suite's results fold into a conformance matrix (per syscall, per endpoint). */
  conformance?: ConformanceSpec;
  /**
   * Runs only when named (`--suite`, the config's `suites`, or `tsuite bench`), never in a plain
   * `tsuite run`: for suites too slow for every run, such as the benchmarks.
   */
  explicit?: true;
  /**
   * The suite's tests are benchmarks: they run on a machine whose clock is the benchmark clock
   * (src/bench/clock.ts), in sessions of their own unless that clock is real time.
   */
  benchmarks?: true;
  /**
   * What the suite's machine needs beyond the target's own (an IOMMU, emulated test devices): its
   * tests get sessions of their own, booted with them, on a runner that boots machines (QEMU).
   */
  machine?: MachineNeeds;
}

/** Identity function: gives a suite file type checking and editor completion (`import { defineSuite } from 'tsuite'`). */
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

/** What a test can require of a session that comes up with the console itself, before any other channel. */
const CONSOLE_LEVEL: ReadonlySet<Requirement> = new Set(['console', 'boot-report', 'live', 'power-off', 'ktap']);

/**
 * The test says it needs nothing but the console and what the boot printed on it, so it may run
 * while the session's other channels are still coming up (Session.settling). A test that declares
 * no requirements may use any channel: it waits.
 */
export function consoleOnly(test: TestDef): boolean {
  return (test.requires?.length ?? 0) > 0 && test.requires!.every((r) => CONSOLE_LEVEL.has(r));
}

/**
 * The guest engines ('docker', 'cri') these tests require outright, not as one choice among others:
 * a run that plans any of them waits for that engine after each boot.
 */
export function enginesRequired(tests: readonly TestDef[]): ('docker' | 'cri')[] {
  return (['docker', 'cri'] as const).filter((engine) => tests.some((t) => (t.requires ?? []).includes(engine)));
}

/**
 * A channel the target promised but that did not come up (its engine never answered): a test that
 * needs it fails with this, rather than being skipped, since the target said it offers it.
 */
export function brokenChannel(req: Requirement, session: Session): string | undefined {
  const kinds: readonly Requirement[] = typeof req === 'string' ? [req] : req;
  if (kinds.some((k) => typeof k === 'string' && session.channels.has(k as ChannelKind))) return undefined;
  if (kinds.includes('docker') && session.dockerProblem) return `the target's Docker endpoint did not come up: ${session.dockerProblem}`;
  if (kinds.includes('cri') && session.criProblem) return `the target's CRI endpoint did not come up: ${session.criProblem}`;
  return kinds.includes('shell') && session.shellProblem ? `the target's shell did not come up: ${session.shellProblem}` : undefined;
}

const KTAP_UNDECLARED = (target: TargetFacts) => `target '${target.name}' does not declare KTAP output (ktap: true in its config, or --ktap)`;
const POWER_OFF_UNDECLARED = 'the target has no power-off command (powerOffCommand in its config)';

/** How a target gets each channel it may lack, for the skip reason. */
const CHANNEL_FIX: Readonly<Record<string, string>> = {
  agent: 'agent: true in its config, or --agent',
  docker: 'docker.port in its config, or --docker-port, for a guest serving the Docker Engine API',
  shell: 'shell in its config, or --shell-prompt',
  cri: 'cri.port in its config for a guest serving CRI, or --target cri --cri-endpoint <unix:///path | tcp://host:port>',
};

/** The skip reason for a channel the target does not offer. */
export function noChannel(kind: ChannelKind, target: TargetFacts): string {
  const fix = CHANNEL_FIX[kind];
  return `target '${target.name}' offers no '${kind}' channel${fix ? ` (${fix})` : ''}`;
}

/**
 * Why a requirement can never be met on this target, from what its config declares (no boot
 * needed), or undefined when only a session can tell. Dispatch skips such tests before booting.
 */
export function undeclaredRequirement(req: Requirement, target: TargetFacts): string | undefined {
  if (typeof req !== 'string') {
    const reasons = req.map((kind) => undeclaredRequirement(kind, target));
    return reasons.some((r) => r === undefined) ? undefined : `needs one of the channels ${req.join(', ')}: ${reasons.join('; ')}`;
  }
  switch (req) {
    case 'ktap':
      return target.ktap ? undefined : KTAP_UNDECLARED(target);
    case 'power-off':
      return target.powerOff === false ? target.powerOffWhy ?? POWER_OFF_UNDECLARED : undefined;
    case 'boot-report':
    case 'live':
      return undefined;
    default:
      return target.channels && !target.channels.includes(req) ? noChannel(req, target) : undefined;
  }
}

/** Why a requirement is not met, or undefined when it is. */
export function unmetRequirement(req: Requirement, session: Session, report: BootReport | undefined, target: TargetFacts): string | undefined {
  if (typeof req !== 'string') {
    const reasons = req.map((kind) => unmetRequirement(kind, session, report, target));
    return reasons.some((r) => r === undefined) ? undefined : `needs one of the channels ${req.join(', ')}: ${reasons.join('; ')}`;
  }
  switch (req) {
    case 'ktap':
      return target.ktap ? undefined : KTAP_UNDECLARED(target);
    case 'live':
      if (session.spec) return undefined;
      return session.channels.has('console') ? 'needs a running machine; this is a replayed console log' : `target '${target.name}' is an existing endpoint: there is no machine tsuite booted to check`;
    case 'power-off':
      return session.canPowerOff ? undefined : target.powerOffWhy ?? POWER_OFF_UNDECLARED;
    case 'boot-report':
      return report
        ? undefined
        : target.bootReportWhy ?? 'the kernel printed no tsuite boot report (`tsuite-boot:` lines); boot it with the tsuite initramfs (--initrd tsuite) to run this test';
    case 'agent':
      if (session.channels.has('agent')) return undefined;
      return session.agentProblem ? `no agent channel: ${session.agentProblem}` : noChannel('agent', target);
    default:
      return session.channels.has(req) ? undefined : noChannel(req, target);
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
