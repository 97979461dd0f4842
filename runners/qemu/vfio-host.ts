import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InfraError, UsageError } from '../../src/core/errors.js';
import { normalizePciAddress } from '../../src/core/pci-address.js';
import {
  bindCommands, blockingMembers, describeIds, iommuBootFix, readHostIommu, readPciFunction, REAL_HOST, type HostPaths,
} from './pci-sysfs.js';

/**
 * Before a machine with host devices boots: each must exist, be bound to vfio-pci, sit in an IOMMU
 * group VFIO can use (every other member unbound or on a harmless driver), and its group's
 * /dev/vfio/<group> must open. QEMU reports each of these as one terse line after it has started;
 * here each names the device, its driver, the group and the commands that fix it.
 */
export interface VfioProblem {
  address: string;
  /** `missing`: no such device (the config is wrong); `host`: the host is not set up for it. */
  kind: 'missing' | 'host';
  message: string;
  fix: string;
}

export interface VfioCheckOptions {
  paths?: HostPaths;
  /** Guest memory: VFIO pins all of it, so the memlock limit must cover it (root with CAP_IPC_LOCK aside). */
  memoryMb?: number;
  /** Default: whether this process runs as root (which has CAP_IPC_LOCK). */
  root?: boolean;
}

/** Every problem with passing these host functions through; empty = ready. */
export function vfioProblems(addresses: readonly string[], options: VfioCheckOptions = {}): VfioProblem[] {
  const paths = options.paths ?? REAL_HOST;
  const iommu = readHostIommu(paths);
  const problems: VfioProblem[] = [];
  const modprobe = iommu.vfioPciLoaded ? '' : 'modprobe vfio-pci; ';
  for (const given of addresses) {
    // lspci's short form names domain 0000, as sysfs spells it.
    const address = normalizePciAddress(given) ?? given;
    const fn = readPciFunction(address, paths);
    if (!fn) {
      problems.push({ address, kind: 'missing', message: `no PCI function ${address} on this host (${join(paths.sysfs, 'bus/pci/devices', address)} does not exist)`, fix: 'give an address lspci -D lists on this host' });
      continue;
    }
    const what = `${address} ${describeIds(fn)}`;
    if (!fn.iommuGroup) {
      problems.push({ address, kind: 'host', message: `${what} has no IOMMU group: the host's IOMMU is off${iommu.groups === 0 ? ' (/sys/kernel/iommu_groups is empty)' : ''}`, fix: iommuBootFix(iommu) });
      continue;
    }
    if (!fn.driver || !/vfio/.test(fn.driver)) {
      const now = fn.driver ? `is bound to ${fn.driver}` : 'is bound to no driver';
      const busy = fn.driver === 'nvidia' ? ' (stop what uses the GPU first: nvidia-persistenced, a display server, CUDA programs)' : '';
      problems.push({ address, kind: 'host', message: `${what} ${now}, not vfio-pci (IOMMU group ${fn.iommuGroup})`, fix: `as root${busy}: ${modprobe}${bindCommands(fn, paths)}` });
      continue;
    }
    const blocking = blockingMembers(fn.iommuGroup, paths).filter((m) => m.address !== address);
    if (blocking.length > 0) {
      problems.push({
        address, kind: 'host',
        message: `${what}: IOMMU group ${fn.iommuGroup} is not viable: ${blocking.map((m) => `${m.address} is bound to ${m.driver}`).join(', ')} (VFIO takes a whole group)`,
        fix: `bind every function of the group to vfio-pci (or pass them through too), as root: ${blocking.map((m) => bindCommands(m, paths)).join('; ')}`,
      });
      continue;
    }
    const node = join(paths.dev, 'vfio', fn.iommuGroup);
    const opened = openable(node);
    if (opened !== true) {
      const fix = opened === 'EACCES' || opened === 'EPERM' ? `run as root, or give your user the group node: chown $USER ${node} (a udev rule keeps it)` :
        opened === 'EBUSY' ? `another process holds IOMMU group ${fn.iommuGroup} (another QEMU?): stop it` :
          opened === 'ENOENT' ? `${modprobe}the vfio-pci driver makes ${node} when it binds ${address}: rebind it (${bindCommands(fn, paths)})` : `check ${node}`;
      problems.push({ address, kind: 'host', message: `${what}: ${node} cannot be opened (${opened})`, fix });
    }
  }
  if (addresses.length > 0 && options.memoryMb !== undefined && !(options.root ?? process.getuid?.() === 0)) {
    const limit = memlockLimit(paths);
    const needed = options.memoryMb * 1024 * 1024;
    if (limit !== undefined && limit < needed) {
      problems.push({ address: addresses.join(', '), kind: 'host', message: `VFIO pins all ${options.memoryMb} MiB of guest memory, but this process may lock ${Math.floor(limit / 1024 / 1024)} MiB (RLIMIT_MEMLOCK)`, fix: 'raise it: ulimit -l unlimited in the shell that runs tsuite (or memlock in /etc/security/limits.conf), or run as root' });
    }
  }
  return problems;
}

/** Throws one error naming every problem: UsageError when a device does not exist, else InfraError. */
export function checkHostDevices(addresses: readonly string[], options: VfioCheckOptions = {}): void {
  const problems = vfioProblems(addresses, options);
  if (problems.length === 0) return;
  const lines = problems.map((p) => `  - ${p.message}\n    fix: ${p.fix}`).join('\n');
  const text = `host device passthrough is not ready:\n${lines}`;
  const fix = 'fix each device above (`tsuite doctor` shows the host\'s IOMMU groups and vfio-pci bindings)';
  throw problems.some((p) => p.kind === 'missing') ? new UsageError(text, fix) : new InfraError(text, fix);
}

/** true, or the errno code of the failed open. */
function openable(path: string): true | string {
  try {
    closeSync(openSync(path, 'r+'));
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? 'error';
  }
}

/** This process's soft RLIMIT_MEMLOCK in bytes; undefined when unlimited or unreadable. */
function memlockLimit(paths: HostPaths): number | undefined {
  try {
    const line = readFileSync(join(paths.proc, 'self/limits'), 'utf8').split('\n').find((l) => l.startsWith('Max locked memory'));
    const soft = line?.slice('Max locked memory'.length).trim().split(/\s+/)[0];
    return soft === undefined || soft === 'unlimited' ? undefined : Number(soft);
  } catch {
    return undefined;
  }
}
