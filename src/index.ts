/**
 * The public API: what tsuite.config.ts, suites (built-in and a kernel team's own, in its own
 * repository) and custom reporters import as `'tsuite'`. Built-in suites use nothing else.
 */
export { defineConfig, type TsuiteConfig } from './config/define-config.js';
export { defineSuite, TestOutcome, type SuiteDef, type TestDef, type TestContext, type Requirement, type ChildResult, type TargetFacts } from './core/suite.js';
export type { ConformanceSpec } from './core/conformance.js';
export type { Session, ChannelKind, ExitInfo, MachineSpec, Accel } from './core/session.js';
export type { RunResult, RunInfo, SessionResult, TestResult, Metric, TestStatus, KernelInfo, Summary, ConformanceMatrix, ConformanceItem } from './core/result.js';
export type { TargetDef } from './core/target.js';
export type { MachineDef, DriveDef, NicDef, NicForward, ShareDef, ResolvedMachine, ResolvedDrive, ResolvedNic } from './core/machine.js';
export type { BootReport } from './parsers/boot-report.js';
export { scanKernelEvents, isPanicLine, LINUX_EVENT_PATTERNS, type KernelEvent, type EventPatterns } from './parsers/kernel-events.js';
export { ExpectTimeout, ConsoleClosed, type ConsoleChannel, type ConsoleLine, type ConsoleMatch, type ExpectOptions } from './channels/console.js';
export type { Reporter, ReporterOptions, ReporterFactory, RunningSession, TestStart } from './reporters/reporter.js';
export { parseKtap, parseKtapAll, flattenKtap, type KtapDocument, type KtapTest, type KtapStatus, type KtapFlatTest } from './parsers/ktap.js';
export { InfraError, UsageError } from './core/errors.js';
export { assetPath } from './core/paths.js';
export { AgentClient, type ExecResult, type ExecOptions } from './channels/agent.js';
export { guestPath, shellWord, type GuestAgent } from './channels/guest-agent.js';
export { requireDestructive, destructiveRefusal, sharesHost } from './core/destructive.js';
export { AgentError } from './channels/agent-error.js';
export { DockerChannel, type DockerEndpoint, type DockerEngineInfo } from './channels/docker.js';
export { SshChannel, SshError, type SshEndpoint, type SshExecOptions, type SshExecResult, type SshRunning } from './channels/ssh.js';
export { CriChannel, CriRpcError, CriConnectError, isUnimplemented, LOCAL_NODE, type CriNode, type CriEndpoint, type CriRuntimeInfo, type CallOptions as CriCallOptions } from './channels/cri.js';
export type * as Cri from './channels/cri-messages.js';
export { parseCriEndpoint, type CriAddress } from './channels/cri-endpoint.js';
// CRI streaming (Exec, Attach, PortForward URLs): what the cri suite's streaming tests drive.
export { criExec, criAttach, openExec, openAttach, RemoteCommand, type RemoteCommandOptions, type RemoteCommandResult, type OutputStream, type StreamRequest } from './channels/cri-streams.js';
export { criPortForward, openPortForward, PortForwardStream } from './channels/cri-port-forward.js';
export { CriStreamError, type CriStreamErrorKind, type StreamOptions as CriStreamOptions } from './channels/cri-stream-socket.js';
export type { StreamStatus as CriStreamStatus, TerminalSize } from './channels/cri-stream-wire.js';
export { ShellChannel, ShellTimeout, ShellClosed, SHELL_DEFAULT_TIMEOUT_MS, type ShellSettings, type ShellRunOptions } from './channels/shell.js';
export { terminalText, type LineEnding } from './channels/shell-text.js';
export type { ShellStep, ShellTestDef } from './core/shell-test-def.js';
export { buildProbes, buildBench, buildGpuProbes, buildNvidiaProbes } from '../kernel/probes/build-probes.js';
export { loadOptionalModulesCommand, OPTIONAL_MODULES_DIR, VFIO_MODULES } from '../kernel/initramfs/optional-modules.js';
export type { ProbeArch } from '../kernel/probes/toolchain.js';
export type { MetricDef, Direction } from './bench/model.js';
