/**
 * How many sessions `tsuite run` boots at once when `--workers` is not given, and the flag's parser.
 *
 * The rule (README, "Parallel sessions"):
 * - memory: every guest's RAM plus QEMU's own (~128 MiB) must fit in what the host has available
 *   (MemAvailable), keeping a quarter of it for everything else;
 * - CPU under TCG (no usable KVM, or KVM not yet proved on this host): each vCPU is a host thread
 *   that emulates without pause while the guest runs, so sessions get whole host CPUs:
 *   floor(host CPUs / guest vCPUs). More would make boots slow enough to hit their timeouts;
 * - CPU under KVM: vCPUs run natively and sit idle between a test's commands, so two vCPUs per host
 *   CPU: floor(2 × host CPUs / guest vCPUs);
 * - a runner that boots nothing here (docker, cri, local, cloud) shares one engine or one host
 *   between its sessions: 1, unless asked;
 * - never below 1, and the pool never starts more than the plan has sessions.
 */

import { readFile } from 'node:fs/promises';
import { freemem } from 'node:os';
import { UsageError } from './errors.js';

/** What QEMU itself takes beyond the guest's RAM (its code, device models, TCG's translation cache). */
const QEMU_OVERHEAD_MB = 128;
/** The share of available memory left to the host and the other processes. */
const MEMORY_HEADROOM = 0.25;

export interface WorkerBudget {
  /** Host CPUs this process may use (its affinity). */
  hostCpus: number;
  /** Memory the host can give without swapping (MemAvailable), MiB. */
  availableMemoryMb: number;
  /** The target's vCPUs and RAM per session. */
  guestCpus: number;
  guestMemoryMb: number;
  /** How the sessions run: `tcg` where KVM is unusable or unproved, `none` for a runner that boots no QEMU here. */
  accel: 'kvm' | 'tcg' | 'none';
}

/** The default number of workers, and why, for the run's opening line. */
export function defaultWorkers(b: WorkerBudget): { workers: number; why: string } {
  if (b.accel === 'none') return { workers: 1, why: 'the target boots no machine on this host' };
  const byMemory = Math.floor((b.availableMemoryMb * (1 - MEMORY_HEADROOM)) / (b.guestMemoryMb + QEMU_OVERHEAD_MB));
  const perCpu = b.accel === 'kvm' ? 2 : 1;
  const byCpu = Math.floor((perCpu * b.hostCpus) / Math.max(1, b.guestCpus));
  const workers = Math.max(1, Math.min(byMemory, byCpu));
  const cpuWhy = `${b.hostCpus} host CPU(s) ${b.accel === 'kvm' ? '× 2 (KVM)' : '(TCG)'} / ${b.guestCpus} vCPU(s) = ${byCpu}`;
  const memWhy = `${Math.round(b.availableMemoryMb)} MiB available × 0.75 / (${b.guestMemoryMb} + ${QEMU_OVERHEAD_MB}) MiB = ${byMemory}`;
  return { workers, why: `${cpuWhy}; ${memWhy}` };
}

/** MemAvailable from /proc/meminfo, in MiB; free memory where that cannot be read. */
export async function availableMemoryMb(): Promise<number> {
  const text = await readFile('/proc/meminfo', 'utf8').catch(() => '');
  const m = /^MemAvailable:\s+(\d+) kB$/m.exec(text);
  return m ? Number(m[1]) / 1024 : freemem() / 2 ** 20;
}

/** `--workers N`: a whole number from 1 to 64. */
export function parseWorkers(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isInteger(n) || n < 1 || n > 64) {
    throw new UsageError(`--workers takes a whole number of sessions from 1 to 64, not '${value}'`, 'use --workers 1 to boot one session at a time, or leave it out for the host\'s default');
  }
  return n;
}
