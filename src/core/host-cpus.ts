/**
 * The host CPUs this process may run on, and how a duet A/B run splits them: A and B booted at
 * the same time, each QEMU pinned to its own half, so whatever else loads the host hits both
 * alike and cancels in the paired ratio.
 */

import { readFile } from 'node:fs/promises';
import { cpus } from 'node:os';

/** A Linux CPU list (`0-3,8,10-11`, as in /proc/self/status and taskset -c) as CPU numbers, ascending. */
export function parseCpuList(text: string): number[] {
  const out = new Set<number>();
  for (const part of text.trim().split(',')) {
    if (part === '') continue;
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new RangeError(`not a CPU list: '${text.trim()}'`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) throw new RangeError(`not a CPU list: '${text.trim()}' (${part} runs backwards)`);
    for (let c = lo; c <= hi; c++) out.add(c);
  }
  return [...out].sort((a, b) => a - b);
}

/**
 * The CPUs this process may use: its affinity (Cpus_allowed_list), which a container's cpuset or
 * a taskset around tsuite narrows; every online CPU where that cannot be read.
 */
export async function allowedHostCpus(): Promise<number[]> {
  const status = await readFile('/proc/self/status', 'utf8').catch(() => '');
  const line = /^Cpus_allowed_list:\s*(.+)$/m.exec(status);
  if (line) {
    try {
      const list = parseCpuList(line[1]!);
      if (list.length > 0) return list;
    } catch {
      // fall through to every CPU
    }
  }
  return cpus().map((_, i) => i);
}

export interface DuetHalves {
  /** Host CPUs A's and B's QEMU are pinned to: disjoint, the same size. */
  a: number[];
  b: number[];
  /** vCPUs each guest gets: one per host CPU of its half. */
  guestCpus: number;
}

/**
 * The halves for round `round` (1-based): the first half to A on odd rounds, to B on even ones, so
 * a half that is slower (the CPU taking the host's interrupts, a sibling hyperthread) slows A and B
 * equally often. An odd CPU out is left to tsuite itself.
 */
export function duetHalves(available: readonly number[], round: number): DuetHalves {
  const half = Math.floor(available.length / 2);
  if (half < 1) throw new RangeError(`a duet needs at least 2 host CPUs, and this process may use ${available.length}`);
  const first = available.slice(0, half);
  const second = available.slice(half, 2 * half);
  return round % 2 === 1 ? { a: first, b: second, guestCpus: half } : { a: second, b: first, guestCpus: half };
}
