import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentClient } from '../../src/channels/agent.js';
import { ConsoleChannel, ConsoleClosed, ExpectTimeout } from '../../src/channels/console.js';
import { trackChild } from '../../src/core/child-processes.js';
import { BootFailure, InfraError, UsageError } from '../../src/core/errors.js';
import { freePort } from '../../src/core/ports.js';
import type { ProvisionRequest, Runner } from '../../src/core/runner.js';
import { isPanicLine } from '../../src/parsers/kernel-events.js';
import type { ArchProfile } from './arch-profile.js';
import { chooseAccel, KVM_FAILURE, probeKvm, qemuVersion, recordKvmVerdict } from './accel.js';
import { profileFor } from './profiles/index.js';
import { forwardedGuestPorts, qemuArgs, sessionUefiVars } from './qemu-args.js';
import { concreteMachine } from './machine-args.js';
import { connectGuestCri } from './guest-cri.js';
import { connectGuestDocker } from './guest-docker.js';
import { connectGuestShell } from './guest-shell.js';
import { openConsoleLog } from './console-log.js';
import { BENCH_AUTOGROUP_NICE, raiseAutogroupPriority, SESSION_AUTOGROUP_NICE } from './autogroup.js';
import { sessionClock, vcpusFor } from './bench-clock-args.js';
import { QemuSession } from './qemu-session.js';
import { ownedTmpPrefix, sweepOrphanQemus } from './orphans.js';
import { QmpClient } from './qmp.js';
import { checkHostDevices } from './vfio-host.js';

/** After a panic line, how long the kernel gets to finish printing its trace before QEMU is stopped. */
const PANIC_TRACE_MS = 2_000;

/**
 * How long the guest agent gets, after the landmark, to answer. The tsuite init starts it before
 * printing the landmark, so it answers at once; without an answer the session has no agent channel.
 */
const AGENT_WAIT_MS = 10_000;

class KvmUnusable extends Error {}

export const qemuRunner: Runner = {
  name: 'qemu',
  async sweepOrphans() {
    return sweepOrphanQemus();
  },
  async provision(req, signal) {
    const profile = profileFor(req.arch);
    if (!(await qemuVersion(profile.qemuBinary))) {
      throw new InfraError(`${profile.qemuBinary} is not installed`, 'run `npx tsuite setup` (as root it installs QEMU)');
    }
    // Passthrough fails inside QEMU with one terse line; the host's side is checked first, naming the fix.
    if (req.machine?.hostDevices?.length) checkHostDevices(req.machine.hostDevices, { memoryMb: req.memoryMb });
    await mkdir(req.dir, { recursive: true });
    // Instruction counting exists under TCG only: an explicit instruction-mode benchmark session runs there.
    if (req.clock === 'instructions' && req.accel === 'kvm') {
      throw new UsageError('--clock instructions counts instructions with QEMU icount, which needs TCG, but --accel kvm was asked for', 'use --accel tcg (or auto), or --clock time to measure real time under KVM');
    }
    const accelWanted = req.clock === 'instructions' ? 'tcg' : req.accel;
    let choice = await chooseAccel(accelWanted, profile);
    // An image boot has no kernel file to probe with; it runs under TCG until a kernel boot proves KVM.
    if (choice.tentative && !req.boot.kernel) choice = { accel: 'tcg', reason: 'KVM not yet proven on this host (an image or drive boot does not probe it)', tentative: false };
    if (choice.tentative) {
      // First KVM use on this host: prove it with a short probe boot rather than risk a boot
      // that stalls until its timeout. The verdict is cached for later runs.
      const verdict = await probeKvm(profile, req.boot.kernel);
      await recordKvmVerdict(profile, verdict.usable, verdict.reason);
      choice = await chooseAccel(accelWanted, profile);
    }
    try {
      return await boot(req, profile, choice.accel, signal, choice.reason);
    } catch (err) {
      if (!(err instanceof KvmUnusable)) throw err;
      if (req.accel === 'kvm') throw new InfraError(`KVM was requested but fails on this host: ${err.message}`, 'use --accel auto or --accel tcg');
      await recordKvmVerdict(profile, false, `KVM fails here (${err.message}); TCG used`);
      // Keep the failed attempt as evidence; the TCG boot writes a fresh console.log.
      await rename(join(req.dir, 'console.log'), join(req.dir, 'console.kvm-attempt.log')).catch(() => undefined);
      return boot(req, profile, 'tcg', signal, `KVM failed on this host (${err.message}); fell back to TCG`);
    }
  },
};

async function boot(req: ProvisionRequest, profile: ArchProfile, accel: 'kvm' | 'tcg', signal: AbortSignal, accelReason: string): Promise<QemuSession> {
  signal.throwIfAborted();
  const tmp = await mkdtemp(ownedTmpPrefix());
  const consoleLog = join(req.dir, 'console.log');
  const paths = {
    qmpSocket: join(tmp, 'qmp.sock'), uefiVars: await sessionUefiVars(req, profile),
    agentSocket: req.agent ? join(tmp, 'qga.sock') : undefined,
  };
  const ports = new Map<number, number>();
  for (const guest of forwardedGuestPorts(req)) ports.set(guest, await freePort());
  const args = qemuArgs(req, profile, accel, paths, ports);

  // The log is appended to (so tsuite can add what it types): a log from an earlier run must go.
  await rm(consoleLog, { force: true });
  const log = openConsoleLog(consoleLog);
  const started = Date.now();
  // Own process group: a terminal's Ctrl-C reaches tsuite only, which then stops QEMU in order.
  // Pinned (a duet's half of the host): taskset sets the affinity and execs QEMU, so the pid, the
  // process group and /proc/<pid>/cmdline (what the orphan sweep reads) are QEMU's own.
  const pinned = req.hostCpus !== undefined && req.hostCpus.length > 0;
  const [command, argv] = pinned ? ['taskset', ['-c', req.hostCpus!.join(','), profile.qemuBinary, ...args]] : [profile.qemuBinary, args];
  const child = spawn(command, argv, { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  trackChild(child);
  const console = new ConsoleChannel(started, (text) => child.stdin!.write(text));
  const firmware = req.boot.image || req.boot.driveBoot ? req.boot.firmware ?? 'bios' : profile.firmware ? 'qboot' : 'default';
  const clock = sessionClock(req, accel);
  const spec = { arch: profile.arch, cpus: vcpusFor(req, clock), memoryMb: req.memoryMb, cmdline: req.boot.cmdline, firmware } as const;
  const session = new QemuSession(req.sessionId, req.dir, console, accel, spec, req.eventPatterns, child, tmp,
    req.powerOffCommand, Boolean(profile.exitDevice));
  session.accelReason = accelReason;
  if (clock) session.clock = clock;
  if (pinned) session.hostCpus = [...req.hostCpus!];
  // Real time on a shared host: QEMU's share of the CPU against everything else is part of the
  // figure. Any other machine still comes before tsuite's own work (autogroup.ts).
  if (child.pid !== undefined) session.hostPriority = await raiseAutogroupPriority(child.pid, clock === 'time' ? BENCH_AUTOGROUP_NICE : SESSION_AUTOGROUP_NICE);
  // The machine as booted, host ports included, for results.json.
  session.machine = concreteMachine(req, profile, ports);

  let stderr = '';
  let spawnError: Error | undefined;
  child.on('error', (e) => (spawnError = e));
  child.stdin!.on('error', () => undefined);
  // Bytes to the log as they came, text to the tests; a character split between reads is joined.
  const text = new StringDecoder('utf8');
  child.stdout!.on('data', (d: Buffer) => {
    log.write(d);
    console.push(text.write(d));
  });
  child.stdout!.on('close', () => log.close());
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  if (req.onConsoleLine) console.onLine((l) => req.onConsoleLine!(l.text));

  try {
    const qmp = await QmpClient.connect(paths.qmpSocket, 10_000, () => session.alive).catch(() => undefined);
    if (qmp) session.attachQmp(qmp);
    const landmark = await waitForLandmark(req, session, () => stderr, signal);
    session.bootMs = landmark.line.atMs;
    session.landmarkLine = landmark.index;
    // The agent's handshake goes on beside the rest: tests that need only the console need not wait for it.
    if (paths.agentSocket) session.settling = connectAgent(session, paths.agentSocket, signal);
    if (req.shell) await connectGuestShell(session, req.shell, consoleLog, signal);
    // The engines come up side by side in the guest: wait for both at once.
    await Promise.all([
      req.docker ? connectGuestDocker(session, req.docker, ports, signal) : undefined,
      req.cri ? connectGuestCri(session, req.cri, ports, signal) : undefined,
    ]);
    return session;
  } catch (err) {
    const hung = err instanceof BootFailure && err.kind === 'timedOut';
    const exit = await session.kill(hung ? 'boot timed out' : 'boot failed', hung ? 'hang' : 'killed');
    await session[Symbol.asyncDispose]();
    if (spawnError && (spawnError as NodeJS.ErrnoException).code === 'ENOENT') {
      if (pinned) throw new InfraError('taskset is not installed: it pins QEMU to its host CPUs', 'install util-linux');
      throw new InfraError(`${profile.qemuBinary} is not installed`, 'run `npx tsuite setup`');
    }
    if (KVM_FAILURE.test(stderr)) throw new KvmUnusable(KVM_FAILURE.exec(stderr)![0]);
    if (err instanceof BootFailure) throw new BootFailure(err.kind, err.message, err.consoleTail, accel, exit);
    throw err;
  }
}

/**
 * Connects the guest agent, retrying while it comes up. Failing is not a boot failure: the session
 * then lacks the `agent` channel, and `agentProblem` says why, for the tests that skip.
 */
async function connectAgent(session: QemuSession, socket: string, signal: AbortSignal): Promise<void> {
  try {
    const agent = await AgentClient.connect(socket, { waitMs: AGENT_WAIT_MS, alive: () => session.alive && !signal.aborted, gone: session.ended.catch(() => undefined) });
    session.attachAgent(agent);
    // The port may have closed between the answer and now.
    if (session.agentPortOpen === false) agent.setPortOpen(false);
  } catch (err) {
    const never = session.agentPortOpen === undefined ? ' (the guest never opened the agent port: no agent runs in it)' : '';
    session.agentProblem = `${err instanceof Error ? err.message : String(err)}${never}`;
  }
}

/** Races the landmark against a panic line, QEMU exiting, the boot timeout and an abort. */
async function waitForLandmark(req: ProvisionRequest, session: QemuSession, stderr: () => string, signal: AbortSignal) {
  const { console } = session;
  let offPanic = () => {};
  let panicLine: string | undefined;
  let panicIndex = 0;
  // The excerpt starts just before the panic line, so it shows the reason and the trace.
  const panicFailure = () => new BootFailure('crashed', `kernel panic during boot: ${panicLine}`, console.tail(45, panicIndex + 40));
  const panic = new Promise<never>((_, reject) => {
    offPanic = console.onLine((line, index) => {
      if (panicLine || !isPanicLine(line.text, req.eventPatterns)) return;
      panicLine = line.text.trim();
      panicIndex = index;
      session.markPanicked();
      // Let the trace finish (panic=-1 usually ends QEMU by itself), then report the panic line.
      void Promise.race([session.ended, sleep(PANIC_TRACE_MS, undefined, { ref: false })]).then(() => reject(panicFailure()));
    });
  });
  panic.catch(() => undefined);
  try {
    return await Promise.race([console.expect(req.landmark, { timeoutMs: req.bootTimeoutMs, signal }), panic]);
  } catch (err) {
    if (err instanceof BootFailure) throw err;
    if (err instanceof ExpectTimeout) {
      throw new BootFailure('timedOut', `boot landmark ${req.landmark} not seen within ${req.bootTimeoutMs} ms: the kernel hung or never printed it`, console.tail(40));
    }
    if (err instanceof ConsoleClosed) {
      const exit = await session.ended;
      if (panicLine) throw panicFailure();
      const qemuError = stderr().split('\n').filter((l) => /^qemu-system-\S+: /.test(l) && !/warning:/.test(l));
      if (qemuError.length > 0 && !KVM_FAILURE.test(stderr())) {
        throw new InfraError(`QEMU could not start the machine: ${qemuError.join('; ')}`, 'check the --kernel/--initrd files and the target settings');
      }
      const how = exit.kind === 'panic' ? 'panicked' : `ended (${exit.detail ?? exit.kind})`;
      throw new BootFailure('crashed', `the machine ${how} before the boot landmark ${req.landmark}`, console.tail(40));
    }
    throw err;
  } finally {
    offPanic();
  }
}
