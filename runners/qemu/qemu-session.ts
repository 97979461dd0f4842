import type { ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BenchClock } from '../../src/bench/clock.js';
import type { AgentClient } from '../../src/channels/agent.js';
import type { ConsoleChannel } from '../../src/channels/console.js';
import type { CriChannel } from '../../src/channels/cri.js';
import type { DockerChannel } from '../../src/channels/docker.js';
import type { ShellChannel } from '../../src/channels/shell.js';
import type { EventPatterns } from '../../src/parsers/kernel-events.js';
import type { Accel, ChannelKind, ExitInfo, MachineSpec, Session } from '../../src/core/session.js';
import { AGENT_PORT_ID } from './qemu-args.js';
import type { QmpClient, QmpEvent } from './qmp.js';
import type { ResolvedMachine } from '../../src/core/machine.js';

/**
 * How long a guest gets to power itself off before QMP `quit`, and `quit` before SIGKILL. These
 * waits are unref'd: a machine that is already gone must not keep tsuite alive.
 */
const POWEROFF_GRACE_MS = 10_000;
const QUIT_GRACE_MS = 3_000;

/** Why a machine is stopped when its session closes normally: its tests are done. */
const SESSION_DONE = "after the session's last test";

/** One running QEMU process and everything that knows about it. */
export class QemuSession implements Session {
  private readonly channelSet: Set<ChannelKind>;
  readonly canPowerOff: boolean;
  agent?: AgentClient;
  agentProblem?: string;
  /** The agent's handshake, when it is still under way after the landmark (Session.settling). */
  settling?: Promise<void>;
  /** The guest's Docker Engine API, through its forwarded port, once it answered. */
  docker?: DockerChannel;
  /** Why a machine that was asked to serve docker has no `docker` channel. */
  dockerProblem?: string;
  /** The shell on the serial console, once its prompt appeared. */
  shell?: ShellChannel;
  /** Why a machine whose target declares a shell has no `shell` channel. */
  shellProblem?: string;
  /** Host milliseconds from machine start to the engine's ready line on the console. */
  dockerReadyMs?: number;
  /** The guest's CRI runtime, through its forwarded port, once it answered Version. */
  cri?: CriChannel;
  /** Why a machine that was asked to serve CRI has no `cri` channel. */
  criProblem?: string;
  /** Host milliseconds from machine start to the CRI runtime's ready line on the console. */
  criReadyMs?: number;
  /** Whether the guest has its end of the agent port open (QMP VSERPORT_CHANGE); undefined until it says. */
  agentPortOpen?: boolean;
  bootMs?: number;
  accelReason?: string;
  clock?: BenchClock;
  hostCpus?: number[];
  hostPriority?: string;
  /** The machine as booted (type, drives, NICs with their host ports, ...), recorded in results.json. */
  machine?: ResolvedMachine;
  landmarkLine?: number;
  exit?: ExitInfo;
  /** Resolves once the process has exited and its QMP stream is drained. */
  readonly ended: Promise<ExitInfo>;
  private shutdownEvent?: QmpEvent;
  private panicked = false;
  private stopped?: { reason: string; kind: 'killed' | 'hang' | 'stopped' };

  constructor(
    readonly id: string,
    readonly dir: string,
    readonly console: ConsoleChannel,
    readonly accel: Accel,
    readonly spec: MachineSpec,
    readonly eventPatterns: EventPatterns,
    private readonly child: ChildProcess,
    private readonly tmpDir: string,
    private readonly powerOffCommand: string | undefined,
    hasExitDevice: boolean,
    private qmp?: QmpClient,
  ) {
    this.canPowerOff = powerOffCommand !== undefined;
    this.channelSet = new Set<ChannelKind>(hasExitDevice ? ['console', 'exit'] : ['console']);
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    this.ended = exited.then(async ({ code, signal }) => {
      // QEMU sends SHUTDOWN before it exits; let the QMP socket drain before classifying.
      await Promise.race([this.qmp?.closed, sleep(500)]);
      this.console.end();
      this.exit = this.classify(code, signal);
      return this.exit;
    });
    this.ended.catch(() => undefined);
  }

  get channels(): ReadonlySet<ChannelKind> {
    return this.channelSet;
  }

  attachQmp(qmp: QmpClient): void {
    this.qmp = qmp;
    qmp.on('event', (e) => {
      if (e.event === 'SHUTDOWN') this.shutdownEvent = e;
      if (e.event === 'GUEST_PANICKED') this.panicked = true;
      if (e.event === 'VSERPORT_CHANGE' && e.data?.id === AGENT_PORT_ID) {
        this.agentPortOpen = e.data.open === true;
        this.agent?.setPortOpen(this.agentPortOpen);
      }
    });
  }

  /** The agent answered: the session now offers the `agent` channel. */
  attachAgent(agent: AgentClient): void {
    this.agent = agent;
    this.agentProblem = undefined;
    this.channelSet.add('agent');
  }

  /** The engine answered: the session now offers the `docker` channel. */
  attachDocker(docker: DockerChannel): void {
    this.docker = docker;
    this.dockerProblem = undefined;
    this.channelSet.add('docker');
  }

  /** The runtime answered Version: the session now offers the `cri` channel. */
  attachCri(cri: CriChannel): void {
    this.cri = cri;
    this.criProblem = undefined;
    this.channelSet.add('cri');
  }

  /** The shell's prompt appeared: the session now offers the `shell` channel. */
  attachShell(shell: ShellChannel): void {
    this.shell = shell;
    this.shellProblem = undefined;
    this.channelSet.add('shell');
  }

  markPanicked(): void {
    this.panicked = true;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /**
   * Ends the machine the way it allows: its power-off command, escalating to a hard stop; a kernel
   * with no power-off (nor an exit it reached by itself) is stopped by tsuite, recorded as
   * `stopped` with `reason` ("after the session's last test"): never a crash, never a failure.
   */
  async shutdown(reason = 'shutdown requested'): Promise<ExitInfo> {
    if (this.alive && this.powerOffCommand && !this.console.isClosed) {
      this.console.write(`${this.powerOffCommand}\n`);
      await Promise.race([this.ended, sleep(POWEROFF_GRACE_MS, undefined, { ref: false })]);
      if (this.alive) await this.kill(reason);
    }
    if (this.alive) await this.kill(`tsuite stopped the machine ${reason}: the kernel has no power-off`, 'stopped');
    return this.ended;
  }

  /** Stops the machine from the host side: QMP quit, then SIGKILL of its process group. */
  async kill(reason: string, kind: 'killed' | 'hang' | 'stopped' = 'killed'): Promise<ExitInfo> {
    if (this.alive) {
      this.stopped = { reason, kind };
      await this.qmp?.command('quit').catch(() => undefined);
      await Promise.race([this.ended, sleep(QUIT_GRACE_MS, undefined, { ref: false })]);
      if (this.alive && this.child.pid) {
        try {
          process.kill(-this.child.pid, 'SIGKILL');
        } catch {
          this.child.kill('SIGKILL');
        }
      }
    }
    return this.ended;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    // Kept-alive API connections first: the guest is about to go.
    this.docker?.close();
    this.cri?.close();
    await this.shutdown(SESSION_DONE);
    // The machine is gone, so a handshake still under way ends now; an agent it attached is closed below.
    await this.settling;
    this.shell?.close();
    this.agent?.close();
    this.qmp?.close();
    await rm(this.tmpDir, { recursive: true, force: true });
  }

  private classify(code: number | null, signal: NodeJS.Signals | null): ExitInfo {
    const reason = this.shutdownEvent?.data?.reason as string | undefined;
    if (this.panicked || reason === 'guest-panic') return { kind: 'panic', code: code ?? undefined, detail: 'kernel panic' };
    if (this.stopped) return { kind: this.stopped.kind, detail: this.stopped.reason };
    if (signal) return { kind: 'killed', detail: `QEMU killed by ${signal}` };
    if (reason === 'guest-shutdown') return { kind: 'clean', code: code ?? 0, detail: 'guest powered off' };
    if (reason === 'guest-reset') return { kind: 'reset', code: code ?? 0, detail: 'guest reset (reboot or triple fault)' };
    if (code !== null && code % 2 === 1 && this.channels.has('exit')) {
      return { kind: 'exit-code', code, detail: `isa-debug-exit value ${code >> 1} (QEMU status ${code})` };
    }
    return { kind: 'exit-code', code: code ?? undefined, detail: reason ? `QEMU shutdown: ${reason}` : undefined };
  }
}
