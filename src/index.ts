/** The public API: what tsuite.config.ts and suites import. */
export { defineConfig, type TsuiteConfig } from './config/define-config.js';
export { defineSuite, TestOutcome, type SuiteDef, type TestDef, type TestContext, type Requirement, type ChildResult, type TargetFacts } from './core/suite.js';
export type { Session, ChannelKind, ExitInfo, MachineSpec } from './core/session.js';
export type { RunResult, TestResult, Metric, TestStatus } from './core/result.js';
export type { TargetDef } from './core/target.js';
export type { BootReport } from './parsers/boot-report.js';
export { scanKernelEvents, isPanicLine, LINUX_EVENT_PATTERNS, type KernelEvent, type EventPatterns } from './parsers/kernel-events.js';
export type { ConsoleChannel, ConsoleLine } from './channels/console.js';
export type { Reporter } from './reporters/reporter.js';
export { parseKtap, parseKtapAll, flattenKtap, type KtapDocument, type KtapTest, type KtapStatus, type KtapFlatTest } from './parsers/ktap.js';
export { InfraError, UsageError } from './core/errors.js';
export { assetPath } from './core/paths.js';
export { AgentClient, type ExecResult, type ExecOptions } from './channels/agent.js';
export { AgentError } from './channels/agent-error.js';
export { DockerChannel, type DockerEndpoint, type DockerEngineInfo } from './channels/docker.js';
export { buildProbes, buildBench } from '../kernel/probes/build-probes.js';
export type { ProbeArch } from '../kernel/probes/toolchain.js';
export type { MetricDef, Direction } from './bench/model.js';
