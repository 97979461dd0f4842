import type { CriScope } from './scope.js';

/**
 * A container's own cgroup, read from inside it (`/sys/fs/cgroup`, where runc mounts the
 * container's cgroup: its cgroup namespace root on v2, a bind of each controller's folder on v1).
 * A setting lives in different files on the two versions, so each read names both: the v2 file,
 * and the v1 file under its controller's folder.
 */
export interface CgroupFile {
  v2: string;
  v1: string;
}

const ROOT = '/sys/fs/cgroup';

/** The memory limit's file. */
export const MEMORY_LIMIT: CgroupFile = { v2: 'memory.max', v1: 'memory/memory.limit_in_bytes' };

/** v1 writes "no limit" as the largest page-aligned int64 (about 2^63); anything from 2^62 up is unlimited. */
const V1_UNLIMITED = 2 ** 62;

/** Cumulative CPU counters: time used, and the bandwidth periods that passed and were throttled (cpu.stat). */
export interface CpuCounters {
  usageNs: number;
  periods: number;
  throttled: number;
}

export class ContainerCgroup {
  private constructor(
    private readonly scope: CriScope,
    private readonly id: string,
    /** 2 when the container's /sys/fs/cgroup is cgroup2 (it has cgroup.controllers), else 1. */
    readonly version: 1 | 2,
  ) {}

  /** Which cgroup version the container sees, found once. */
  static async open(scope: CriScope, id: string): Promise<ContainerCgroup> {
    const v = await scope.sh(id, `if [ -e ${ROOT}/cgroup.controllers ]; then echo 2; else echo 1; fi`);
    return new ContainerCgroup(scope, id, v === '2' ? 2 : 1);
  }

  /** The path of a file for this container's version, for messages. */
  path(file: CgroupFile): string {
    return `${ROOT}/${this.version === 2 ? file.v2 : file.v1}`;
  }

  /** Several files in one exec (a consistent moment for counters): contents by key. A missing file fails, naming it. */
  async read<K extends string>(files: Record<K, CgroupFile>): Promise<Record<K, string>> {
    const keys = Object.keys(files) as K[];
    const script = keys.map((k) => `echo '@@${k}'; cat '${this.path(files[k])}' || exit 3`).join('; ');
    const r = await this.scope.exec(this.id, ['sh', '-c', script]);
    if (r.exitCode !== 0) throw new Error(`reading the container's cgroup v${this.version} files (${keys.map((k) => this.path(files[k])).join(', ')}) failed: ${(r.stderr || r.stdout).trim().slice(0, 400)}`);
    const out = {} as Record<K, string>;
    for (const part of r.stdout.split('@@').slice(1)) {
      const nl = part.indexOf('\n');
      out[part.slice(0, nl) as K] = part.slice(nl + 1).trim();
    }
    return out;
  }

  /** The memory limit in bytes, or null for none (v2 `max`, v1's near-2^63 sentinel). */
  async memoryLimit(): Promise<number | null> {
    const { limit } = await this.read({ limit: MEMORY_LIMIT });
    return parseLimit(limit, this.path(MEMORY_LIMIT));
  }

  /** CFS bandwidth: quota (null for none) and period, in microseconds. v2 `cpu.max` holds both; v1 has a file each. */
  async cpuMax(): Promise<{ quota: number | null; period: number; raw: string }> {
    if (this.version === 2) {
      const { max } = await this.read({ max: { v2: 'cpu.max', v1: '' } });
      const [quota = '', period = ''] = max.split(/\s+/);
      return { quota: quota === 'max' ? null : num(quota, 'cpu.max quota'), period: num(period, 'cpu.max period'), raw: max };
    }
    const f = await this.read({ quota: { v2: '', v1: 'cpu/cpu.cfs_quota_us' }, period: { v2: '', v1: 'cpu/cpu.cfs_period_us' } });
    const quota = num(f.quota, 'cpu.cfs_quota_us');
    return { quota: quota < 0 ? null : quota, period: num(f.period, 'cpu.cfs_period_us'), raw: `cfs_quota_us ${f.quota}, cfs_period_us ${f.period}` };
  }

  /** The CPU share: v2 `cpu.weight` (1–10000), v1 `cpu.shares` (2–262144). */
  async cpuShare(): Promise<{ file: string; value: number }> {
    const file = { v2: 'cpu.weight', v1: 'cpu/cpu.shares' };
    const { share } = await this.read({ share: file });
    return { file: this.path(file), value: num(share, this.path(file)) };
  }

  /** CPU used (v2 cpu.stat usage_usec; v1 cpuacct.usage) and the throttling counters of cpu.stat, read together. */
  async cpuCounters(): Promise<CpuCounters> {
    const files: Record<string, CgroupFile> = this.version === 2 ? { stat: { v2: 'cpu.stat', v1: '' } } : { stat: { v2: '', v1: 'cpu/cpu.stat' }, usage: { v2: '', v1: 'cpuacct/cpuacct.usage' } };
    const f: Record<string, string> = await this.read(files);
    const stat = new Map(f.stat!.split('\n').map((l) => l.trim().split(/\s+/) as [string, string]));
    const field = (name: string) => num(stat.get(name) ?? '', `cpu.stat ${name}`);
    const usageNs = this.version === 2 ? field('usage_usec') * 1000 : num(f.usage ?? '', 'cpuacct.usage');
    return { usageNs, periods: field('nr_periods'), throttled: field('nr_throttled') };
  }

  /** The CPUs the container may run on, as the cgroup says (v2: the effective set, which the parent's limit narrows). */
  async cpuset(): Promise<number[]> {
    const file = { v2: 'cpuset.cpus.effective', v1: 'cpuset/cpuset.cpus' };
    const { cpus } = await this.read({ cpus: file });
    return parseCpuList(cpus);
  }
}

/** cpu_shares as runc writes cpu.weight on v2: 1 + (shares-2)·9999/262142 (the kubelet's map; runc before 1.3.2), or the curve of runc ≥ 1.3.2 and crun ≥ 1.23 that puts 1024 at 100 (Kubernetes' e2e accepts both). */
export function weightsForShares(shares: number): number[] {
  const linear = 1 + Math.floor(((shares - 2) * 9999) / 262142);
  const l = Math.log2(shares);
  const curve = Math.ceil(10 ** ((l * l + 125 * l) / 612 - 7 / 34));
  return [...new Set([linear, curve])];
}

/** A limit file's value: a number, or null for none. */
export function parseLimit(text: string, what: string): number | null {
  if (text === 'max') return null;
  const n = num(text, what);
  return n >= V1_UNLIMITED ? null : n;
}

/** A kernel CPU list (`0-3,6`) as numbers. */
export function parseCpuList(text: string): number[] {
  const out: number[] = [];
  for (const part of text.trim().split(',').filter(Boolean)) {
    const [a, b = a] = part.split('-').map(Number);
    if (!Number.isInteger(a) || !Number.isInteger(b)) throw new Error(`not a CPU list: ${JSON.stringify(text)}`);
    for (let c = a!; c <= b!; c++) out.push(c);
  }
  return out;
}

function num(text: string, what: string): number {
  const n = Number(text);
  if (text === '' || !Number.isFinite(n)) throw new Error(`${what} reads ${JSON.stringify(text)}, not a number`);
  return n;
}
