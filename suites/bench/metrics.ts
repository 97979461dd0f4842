import type { MetricDef } from '../../src/index.js';

/** Samples each in-guest metric has: BENCH_SAMPLES in fixtures/bench/bench.h. */
export const GUEST_SAMPLES = 20;
/** guest-ping round trips timed by tinybench (after its warm-up) for `agent/round-trip`. */
export const AGENT_PING_SAMPLES = 200;

/** One in-guest benchmark: a static C program in fixtures/bench, and the metrics it prints. */
export interface BenchProgram {
  /** The program (fixtures/bench/<program>.c), also the test's name. */
  program: string;
  title: string;
  metrics: readonly MetricDef[];
}

const lower = (name: string, unit: string): MetricDef => ({ name, unit, better: 'lower' });
const higher = (name: string, unit: string): MetricDef => ({ name, unit, better: 'higher' });

/**
 * What each program must print (fixtures/bench/README.md): a program that prints another set, or
 * another unit or direction, fails its test. Metric names are unique across tsuite: `<area>/<measure>`.
 */
export const BENCH_PROGRAMS: readonly BenchProgram[] = [
  { program: 'syscall', title: 'system call round trip: getppid through syscall(), in a loop', metrics: [lower('syscall/getppid', 'ns')] },
  {
    program: 'context-switch',
    title: 'context switch: two processes on one CPU pass a byte back and forth over pipes',
    metrics: [lower('context-switch/pipe-round-trip', 'us')],
  },
  {
    program: 'ipc',
    title: 'IPC throughput: 64 KiB writes streamed to another process over a pipe and a unix stream socket',
    metrics: [higher('ipc/pipe-throughput', 'MB/s'), higher('ipc/unix-stream-throughput', 'MB/s')],
  },
  {
    program: 'memory',
    title: 'memory: first touch of anonymous pages (page faults), munmap per page, malloc/free',
    metrics: [lower('memory/page-fault', 'ns'), lower('memory/munmap-per-page', 'ns'), lower('memory/malloc-free', 'ns')],
  },
  { program: 'process', title: 'process creation: fork, exec of a static binary, wait', metrics: [lower('process/fork-exec-wait', 'us')] },
  {
    program: 'files',
    title: 'files on /tmp (tmpfs): create, write 4 KiB, fsync, close, unlink',
    // Part of this work (freeing inodes and dentries) is deferred past an RCU grace period: counted, no batch is free of it.
    metrics: [{ ...lower('files/create-write-fsync-unlink', 'us'), counted: 'better-half' }],
  },
];

/** Boot time, one reading per boot. */
export const BOOT_HOST: MetricDef = lower('boot/host-to-ready', 'ms');
export const BOOT_GUEST: MetricDef = lower('boot/guest-to-init', 'ms');
/** Host-side, timed with tinybench. */
export const AGENT_ROUND_TRIP: MetricDef = lower('agent/round-trip', 'ms');
/** Host-side over the `docker` channel, timed with tinybench: a `docker run` costs seconds under TCG. */
export const CONTAINER_COLD_START: MetricDef = lower('container/cold-start', 'ms');
export const CONTAINER_EXEC: MetricDef = lower('container/exec', 'ms');
/** CRI RunPodSandbox until the pod is ready, and CreateContainer + StartContainer of busybox `true` until it exited. */
export const CRI_POD_START: MetricDef = lower('cri/pod-start', 'ms');
export const CRI_CONTAINER_START: MetricDef = lower('cri/container-start', 'ms');
/** Runs per boot (after one warm-up): few for a cold start, which takes seconds in a TCG guest. */
export const CONTAINER_RUN_SAMPLES = 5;
export const CONTAINER_EXEC_SAMPLES = 10;
