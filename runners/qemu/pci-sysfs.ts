import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { basename, join } from 'node:path';

/**
 * What Linux says about the host's PCI functions, IOMMU groups and VFIO, read from sysfs, /dev and
 * /proc. The roots are injectable so the passthrough checks run against a fake tree in tests (this
 * host has no IOMMU and no device to pass through). Reads only; never writes sysfs.
 */
export interface HostPaths {
  /** Default `/sys`. */
  sysfs: string;
  /** Default `/dev`. */
  dev: string;
  /** Default `/proc`. */
  proc: string;
}

export const REAL_HOST: HostPaths = Object.freeze({ sysfs: '/sys', dev: '/dev', proc: '/proc' });

export interface PciFunction {
  /** `0000:01:00.0`. */
  address: string;
  /** Hex without 0x, e.g. `10de` (NVIDIA). */
  vendor: string;
  device: string;
  /** Six hex digits, e.g. `030000` (VGA), `030200` (3D controller), `060400` (PCI bridge). */
  class: string;
  /** The bound driver's name (the `driver` link), undefined when unbound. */
  driver?: string;
  /** `driver_override` when set: the driver the next probe binds. */
  driverOverride?: string;
  /** The IOMMU group's number, undefined when the host has no IOMMU (no `iommu_group` link). */
  iommuGroup?: string;
}

export const NVIDIA_VENDOR = '10de';

const devicesDir = (p: HostPaths) => join(p.sysfs, 'bus/pci/devices');
const read = (file: string) => {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
};
const link = (path: string) => {
  try {
    return basename(readlinkSync(path));
  } catch {
    return undefined;
  }
};
const hex = (value: string | undefined) => (value ?? '').replace(/^0x/i, '').toLowerCase();

/** One PCI function as sysfs shows it, or undefined when there is no such function. */
export function readPciFunction(address: string, paths: HostPaths = REAL_HOST): PciFunction | undefined {
  const dir = join(devicesDir(paths), address);
  if (!existsSync(dir)) return undefined;
  const driver = link(join(dir, 'driver'));
  const override = read(join(dir, 'driver_override'));
  const group = link(join(dir, 'iommu_group'));
  return {
    address,
    vendor: hex(read(join(dir, 'vendor'))),
    device: hex(read(join(dir, 'device'))),
    class: hex(read(join(dir, 'class'))),
    ...(driver && { driver }),
    ...(override && override !== '(null)' && { driverOverride: override }),
    ...(group && { iommuGroup: group }),
  };
}

/** Every PCI function on the host, sorted by address. */
export function listPciFunctions(paths: HostPaths = REAL_HOST): PciFunction[] {
  let names: string[];
  try {
    names = readdirSync(devicesDir(paths));
  } catch {
    return [];
  }
  return names.sort().flatMap((a) => readPciFunction(a, paths) ?? []);
}

/** The addresses of an IOMMU group's members. */
export function iommuGroupMembers(group: string, paths: HostPaths = REAL_HOST): string[] {
  try {
    return readdirSync(join(paths.sysfs, 'kernel/iommu_groups', group, 'devices')).sort();
  } catch {
    return [];
  }
}

/**
 * Whether a group member lets VFIO use the group: unbound, bound to a VFIO driver (vfio-pci or a
 * vendor variant), or to a driver that does no DMA of its own (pci-stub; pcieport on bridges and
 * ports). A bridge's own driver never blocks the group.
 */
export function harmlessInGroup(fn: Pick<PciFunction, 'driver' | 'class'>): boolean {
  return fn.driver === undefined || /vfio/.test(fn.driver) || fn.driver === 'pci-stub' || fn.driver === 'pcieport' || fn.class.startsWith('0604');
}

/** The members of a group that keep VFIO from using it. */
export function blockingMembers(group: string, paths: HostPaths = REAL_HOST): PciFunction[] {
  return iommuGroupMembers(group, paths).flatMap((a) => readPciFunction(a, paths) ?? []).filter((fn) => !harmlessInGroup(fn));
}

export interface HostIommu {
  /** How many IOMMU groups the kernel made: 0 means no IOMMU is on. */
  groups: number;
  /** `intel_iommu=` / `amd_iommu=` / `iommu=` on the host's command line, as given. */
  cmdline: string[];
  /** From /proc/cpuinfo: `intel`, `amd` or undefined. */
  cpuVendor?: 'intel' | 'amd';
  /** /dev/vfio/vfio exists: the vfio modules are loaded. */
  vfioLoaded: boolean;
  /** /sys/bus/pci/drivers/vfio-pci exists: the vfio-pci module is loaded. */
  vfioPciLoaded: boolean;
}

export function readHostIommu(paths: HostPaths = REAL_HOST): HostIommu {
  let groups = 0;
  try {
    groups = readdirSync(join(paths.sysfs, 'kernel/iommu_groups')).length;
  } catch {
    groups = 0;
  }
  const cmdline = (read(join(paths.proc, 'cmdline')) ?? '').split(/\s+/).filter((w) => /^(intel_iommu|amd_iommu|iommu)=/.test(w));
  const cpuinfo = read(join(paths.proc, 'cpuinfo')) ?? '';
  const cpuVendor = /GenuineIntel/.test(cpuinfo) ? 'intel' : /AuthenticAMD/.test(cpuinfo) ? 'amd' : undefined;
  return {
    groups, cmdline, ...(cpuVendor && { cpuVendor }),
    vfioLoaded: existsSync(join(paths.dev, 'vfio/vfio')),
    vfioPciLoaded: existsSync(join(paths.sysfs, 'bus/pci/drivers/vfio-pci')),
  };
}

/** The kernel parameters that turn the IOMMU on for this CPU. */
export function iommuBootFix(iommu: Pick<HostIommu, 'cpuVendor'>): string {
  const param = iommu.cpuVendor === 'amd' ? 'amd_iommu=on iommu=pt' : iommu.cpuVendor === 'intel' ? 'intel_iommu=on iommu=pt' : 'intel_iommu=on iommu=pt (Intel) or amd_iommu=on iommu=pt (AMD)';
  return `enable VT-d / AMD-Vi in the firmware, add ${param} to the host kernel's command line (GRUB_CMDLINE_LINUX in /etc/default/grub, then update-grub) and reboot`;
}

/** The shell lines that bind one function to vfio-pci (as root). */
export function bindCommands(fn: Pick<PciFunction, 'address' | 'driver'>, paths: Pick<HostPaths, 'sysfs'> = REAL_HOST): string {
  const dev = join(paths.sysfs, 'bus/pci/devices', fn.address);
  return [
    ...(fn.driver ? [`echo ${fn.address} > ${dev}/driver/unbind`] : []),
    `echo vfio-pci > ${dev}/driver_override`,
    `echo ${fn.address} > ${join(paths.sysfs, 'bus/pci/drivers_probe')}`,
  ].join('; ');
}

/** `[10de:2204] class 030000`. */
export const describeIds = (fn: Pick<PciFunction, 'vendor' | 'device' | 'class'>) => `[${fn.vendor}:${fn.device}] class ${fn.class}`;
