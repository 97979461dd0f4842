import { resolve } from 'node:path';
import { release } from 'node:os';
import { InfraError, UsageError } from '../core/errors.js';
import { hostInfo } from '../core/host-info.js';
import { buildPlan, type SessionPlan } from '../core/plan.js';
import { shardPlan, type ShardSpec } from '../core/shard.js';
import type { Progress } from '../core/progress.js';
import type { KernelInfo, RunInfo, RunResult } from '../core/result.js';
import { bootsFromDrives, isCloudRunner, NODE_CRI_HOST_PORTS, NODE_PUBLISH_PORTS, type TargetDef } from '../core/target.js';
import { resolveMachine } from '../core/machine.js';
import { linuxIommuCmdline, withMachineNeeds } from '../core/machine-needs.js';
import type { CriEndpointRequest, CriRequest, DockerRequest, ProvisionRequest, Runner } from '../core/runner.js';

/** How long a guest's engine may take to answer after the boot landmark, unless the target says. */
const DOCKER_READY_TIMEOUT_MS = 120_000;
import { dispatch } from '../core/dispatch.js';
import { loadExpectations, type Expectation } from '../core/expectations.js';
import type { Reporter } from '../reporters/index.js';
import { SHELL_SUITE, withShellTests } from '../../suites/shell/index.js';
import { enginesRequired, type SuiteDef } from '../core/suite.js';
import type { MachineNeeds } from '../core/machine-needs.js';
import type { BenchClockChoice } from '../bench/clock.js';
import type { BootAhead } from './boot-ahead.js';
import { resolveBoot, type ResolvedBoot } from '../../kernel/resolve-boot.js';
import { runnerFor } from '../../runners/index.js';
import { hostSpec } from '../../runners/local/local-session.js';
import { profileFor } from '../../runners/qemu/profiles/index.js';
import { qemuVersion } from '../../runners/qemu/accel.js';
import { targetFacts } from './target-facts.js';
import type { ResolvedTarget } from './target-options.js';

import { tsuiteVersion } from './version.js';
export { tsuiteVersion };

/** A target whose kernel has been fetched or built (or that failed to be), ready to boot any number of times. */
export interface PreparedTarget {
  target: ResolvedTarget;
  runner: Runner;
  resolved?: ResolvedBoot;
  /** Why the kernel could not be had: every test of every run is then infraError, with this message. */
  resolveError?: InfraError;
  expectations?: { file: string; entries: readonly Expectation[] };
  qemuVersion?: string;
}

/** What the results say about a kernel that could not be fetched or built. */
function unresolvedKernel(def: TargetDef): KernelInfo {
  if (def.runner === 'docker') return { path: def.docker?.host ?? '', source: 'endpoint', cmdline: '' };
  if (def.runner === 'cri') return { path: def.cri?.endpoint ?? '', source: 'endpoint', cmdline: '' };
  if (def.runner === 'local') return { path: '', source: 'host', version: release(), cmdline: hostSpec(def.arch).cmdline };
  if (def.runner === 'ssh') return { path: `ssh://${def.ssh?.user}@${def.ssh?.host}:${def.ssh?.port ?? 22}`, source: 'endpoint', cmdline: '' };
  if (def.image) return { path: def.image, source: 'image', cmdline: '' };
  if (bootsFromDrives(def)) return { path: def.machine!.drives![0]!.file, source: 'drives', cmdline: '' };
  if (def.kernelSrc) return { path: def.kernelSrc, source: 'source', cmdline: '' };
  const source = def.kernel === 'reference' ? 'debian-package' : def.kernel === 'fixture' ? 'fixture' : 'file';
  return { path: def.kernel, source, cmdline: '' };
}

/** Reads the expectations file first (a bad file is a usage error before anything boots), then fetches or builds the kernel. */
export async function prepareTarget(target: ResolvedTarget, progress: Progress): Promise<PreparedTarget> {
  const expectations = target.def.expectations
    ? { file: resolve(target.def.expectations), entries: await loadExpectations(resolve(target.def.expectations)) }
    : undefined;
  const runner = runnerFor(target.def.runner);
  // An existing endpoint has nothing to fetch or build: its kernel is whatever runs the engine.
  if (target.def.runner === 'docker' || target.def.runner === 'cri' || target.def.runner === 'local' || target.def.runner === 'ssh') return { target, runner, expectations };
  const profile = profileFor(target.def.arch);
  // QEMU's --version answers while the boot files are resolved, not before (it never rejects).
  const version = qemuVersion(profile.qemuBinary);
  const prepared: PreparedTarget = { target, runner, expectations };
  try {
    prepared.resolved = await resolveBoot(target.def, profile, progress);
  } catch (err) {
    if (!(err instanceof InfraError)) throw err;
    prepared.resolveError = err;
  }
  prepared.qemuVersion = await version;
  return prepared;
}

export interface SuiteRunRequest {
  suites?: readonly string[];
  /** Every suite that may be planned (the context's catalog); the built-in ones when absent. */
  available: readonly SuiteDef[];
  grep?: readonly string[];
  runId: string;
  outputDir: string;
  reporters: readonly Reporter[];
  testTimeoutMs: number;
  testTimeoutOverrideMs?: number;
  signal: AbortSignal;
  /**
   * Per-boot changes to the machine: guest vCPUs instead of the target's, and the host CPUs QEMU
   * is pinned to (a duet A/B run boots A and B at once, each on its own half of the host).
   */
  machineOverride?: { cpus?: number; hostCpus?: readonly number[] };
  /** Run only this shard's sessions of the plan (`--shard i/n`), balanced by these earlier session durations. */
  shard?: { spec: ShardSpec; durations?: ReadonlyMap<string, number> };
  /** Sessions booted at once (`--workers`); one at a time when absent. */
  workers?: number;
  /** The first session's machine, booting since before the plan (boot-ahead.ts): taken when it asked for the same. */
  bootAhead?: BootAhead;
}

/**
 * The sessions that run the chosen tests; a bad suite name or a pattern that matches nothing is a
 * UsageError. `available` is every suite that may run: the built-in ones and the user's (the context's catalog).
 */
export function planFor(target: ResolvedTarget, suites: readonly string[] | undefined, grep: readonly string[] | undefined, available: readonly SuiteDef[]): SessionPlan[] {
  refuseEmptyShellRun(target, suites);
  return buildPlan({
    // The declarative shell tests are the target's: they fill the `shell` suite here.
    suites: withShellTests(available, target.def),
    only: suites,
    grep,
    target: target.name,
    benchClock: target.benchClock,
    sessionKey: JSON.stringify([target.name, target.def.kernel, target.def.kernelSrc, target.def.image, target.def.firmware, target.def.append ?? '', target.def.rootfs, target.def.docker, target.def.cri, target.def.machine, target.def.gcp, target.def.aws, target.def.azure]),
  });
}

/** `--suite shell` alone on a target with no declarative shell tests is a usage error (known before any suite loads). */
export function refuseEmptyShellRun(target: ResolvedTarget, suites: readonly string[] | undefined): void {
  if (suites?.length === 1 && suites[0] === SHELL_SUITE && !target.def.shellTests?.length) {
    throw new UsageError(`--suite ${SHELL_SUITE} runs the target's declarative shell tests, and target '${target.name}' has none`,
      `add shellTests (and shell: { prompt }) to targets.${target.name} in tsuite.config.ts, or drop ${SHELL_SUITE} from the suites`);
  }
}

/** Plans the chosen tests and runs them on fresh boots of the prepared target. */
export async function runSuites(prepared: PreparedTarget, req: SuiteRunRequest): Promise<RunResult> {
  const { target, runner, resolved, resolveError } = prepared;
  const whole = planFor(target, req.suites, req.grep, req.available);
  const sharded = req.shard ? shardPlan(whole, req.shard.spec, req.shard.durations) : undefined;
  const plan = sharded?.sessions ?? whole;
  // Waiting for a guest's engine costs tens of seconds under TCG: only when some test needs it.
  const engines = enginesRequired(plan.flatMap((s) => s.tests.map((t) => t.test)));
  const info: RunInfo = {
    id: req.runId,
    target: target.name,
    startedAt: new Date().toISOString(),
    kernel: resolved?.kernel ?? unresolvedKernel(target.def),
    accel: 'none',
    qemuVersion: prepared.qemuVersion,
    host: hostInfo(),
    tsuiteVersion,
    allowDestructive: target.def.allowDestructive === true,
    ...(sharded ? { shard: sharded.info } : {}),
  };
  return dispatch({
    expectations: prepared.expectations,
    sessions: plan,
    target: targetFacts(target),
    run: info,
    reporters: req.reporters,
    outputDir: resolve(req.outputDir),
    testTimeoutMs: req.testTimeoutMs,
    testTimeoutOverrideMs: req.testTimeoutOverrideMs,
    signal: req.signal,
    workers: req.workers,
    provision: async (session, dir, signal) => {
      if (target.def.runner === 'docker') {
        const endpoint = { url: target.def.docker!.host!, certPath: target.def.docker!.certPath };
        const s = await runner.provision({ ...machinelessRequest(session.id, dir, target), endpoint }, signal);
        if (s.docker) info.kernel = { ...info.kernel, version: s.docker.info.kernelVersion };
        return s;
      }
      if (target.def.runner === 'cri') return runner.provision({ ...machinelessRequest(session.id, dir, target), criEndpoint: criEndpointRequest(target.def) }, signal);
      if (target.def.runner === 'local') return runner.provision(machinelessRequest(session.id, dir, target), signal);
      if (target.def.runner === 'ssh') {
        const s = await runner.provision({ ...machinelessRequest(session.id, dir, target), ssh: { ...target.def.ssh, host: target.def.ssh!.host!, user: target.def.ssh!.user! } }, signal);
        // The machine's kernel is whatever booted it: its release, as the session found it.
        if (s.agent) info.kernel = { ...info.kernel, version: (await s.agent.osInfo()).kernelRelease, cmdline: s.spec?.cmdline ?? '' };
        return s;
      }
      if (!resolved) throw resolveError!;
      const request = machineRequest({ ...prepared, resolved }, { id: session.id, machineNeeds: session.machineNeeds, clock: session.clock, engines }, dir,
        { runId: req.runId, kernel: info.kernel, machineOverride: req.machineOverride });
      // The first session may have been booting since before the suites loaded (boot-ahead.ts).
      return (await req.bootAhead?.take(request, signal)) ?? runner.provision(request, signal);
    },
  });
}

/** What one session of the plan asks of its machine: its own needs, and the guest engines the whole run waits for. */
export interface SessionAsk {
  id: string;
  machineNeeds?: MachineNeeds;
  clock?: BenchClockChoice;
  engines: readonly ('docker' | 'cri')[];
}

/**
 * The provision request of a session on a machine tsuite boots (QEMU, or a cloud instance), the
 * one place it is built: a boot started ahead of the plan is taken only when it asked for the same.
 */
export function machineRequest(
  prepared: PreparedTarget & { resolved: ResolvedBoot }, ask: SessionAsk, dir: string,
  run: { runId: string; kernel: KernelInfo; machineOverride?: SuiteRunRequest['machineOverride'] },
): ProvisionRequest {
  const { target, resolved } = prepared;
  const machine = resolveMachine(withMachineNeeds(target.def.machine, target.def.arch, ask.machineNeeds), target.def.arch, profileFor(target.def.arch).machine);
  // The reference Linux is told to use the IOMMU it is given; another kernel's command line is its own.
  const boot = target.def.kernel === 'reference' ? { ...resolved.boot, cmdline: linuxIommuCmdline(machine, resolved.boot.cmdline) } : resolved.boot;
  return {
    sessionId: ask.id,
    dir,
    arch: target.def.arch,
    boot,
    cpus: run.machineOverride?.cpus ?? target.def.cpus,
    memoryMb: target.def.memoryMb,
    accel: target.def.accel,
    landmark: target.landmark,
    bootTimeoutMs: target.def.bootTimeoutMs,
    eventPatterns: target.eventPatterns,
    powerOffCommand: target.def.powerOffCommand,
    agent: target.def.agent === true,
    shell: target.def.shell,
    docker: ask.engines.includes('docker') ? dockerRequest(target.def) : undefined,
    cri: ask.engines.includes('cri') ? criRequest(target.def) : undefined,
    machine,
    // A cloud runner packages, uploads and launches this kernel; the rest of the request is the same.
    ...(isCloudRunner(target.def.runner) ? { cloud: { runId: run.runId, target: target.name, def: target.def, kernel: run.kernel } } : {}),
    ...(ask.clock ? { clock: ask.clock } : {}),
    ...(run.machineOverride?.hostCpus ? { hostCpus: run.machineOverride.hostCpus } : {}),
  };
}

/** What the guest's Docker Engine API needs from the runner, when the target says the guest serves one. */
function dockerRequest(def: TargetDef): DockerRequest | undefined {
  const d = def.docker;
  if (!d?.port) return undefined;
  return {
    guestPort: d.port,
    certPath: d.certPath,
    readyPattern: d.readyPattern ? new RegExp(d.readyPattern) : undefined,
    readyTimeoutMs: d.readyTimeoutMs ?? DOCKER_READY_TIMEOUT_MS,
    publishPorts: d.publishPorts ?? NODE_PUBLISH_PORTS,
  };
}

/** What the guest's CRI runtime needs from the runner, when the target says the guest serves one. */
function criRequest(def: TargetDef): CriRequest | undefined {
  const c = def.cri;
  if (!c?.port) return undefined;
  return {
    guestPort: c.port,
    streamGuestPort: c.streamPort,
    certPath: c.certPath,
    readyPattern: c.readyPattern ? new RegExp(c.readyPattern) : undefined,
    readyTimeoutMs: c.readyTimeoutMs ?? DOCKER_READY_TIMEOUT_MS,
    hostPorts: c.hostPorts ?? NODE_CRI_HOST_PORTS,
    // QEMU's user-mode network: the guest reaches this host's loopback at the gateway.
    hostAddress: c.hostAddress ?? '10.0.2.2',
    registryConfigDir: c.registryConfigDir,
  };
}

/** The existing runtime of a `cri` target, and what of its node this host reaches. */
function criEndpointRequest(def: TargetDef): CriEndpointRequest {
  const c = def.cri ?? {};
  return {
    url: c.endpoint!, certPath: c.certPath, nodeAddress: c.nodeAddress ?? '127.0.0.1', hostAddress: c.hostAddress ?? '127.0.0.1',
    hostPorts: c.hostPorts ?? NODE_CRI_HOST_PORTS, registryConfigDir: c.registryConfigDir,
  };
}

/** A provision request for a runner that boots nothing: only ids, folders and the endpoint matter. */
function machinelessRequest(sessionId: string, dir: string, target: ResolvedTarget): ProvisionRequest {
  const { def } = target;
  return {
    sessionId, dir, arch: def.arch, boot: { kernel: '', cmdline: '' }, cpus: def.cpus, memoryMb: def.memoryMb, accel: 'auto',
    landmark: target.landmark, bootTimeoutMs: def.bootTimeoutMs, eventPatterns: target.eventPatterns,
  };
}

/** Stops QEMU processes an earlier, SIGKILLed tsuite left behind, and says so. */
export async function sweepOrphans(target: ResolvedTarget): Promise<void> {
  // A cloud target boots QEMU too, for the local proof of its package; its cloud orphans are swept by its lifecycle.
  if (target.def.runner === 'local') {
    const gone = (await runnerFor('local').sweepOrphans?.()) ?? [];
    if (gone.length > 0) process.stderr.write(`tsuite: removed the scratch folders of local sessions of ${gone.length} earlier tsuite(s) that were killed (pids ${gone.join(', ')})\n`);
    return;
  }
  if (target.def.runner !== 'qemu' && !isCloudRunner(target.def.runner)) return;
  const swept = (await runnerFor('qemu').sweepOrphans?.()) ?? [];
  if (swept.length > 0) {
    process.stderr.write(`tsuite: stopped ${swept.length} QEMU process(es) left by an earlier tsuite that was killed (pids ${swept.join(', ')})\n`);
  }
}
