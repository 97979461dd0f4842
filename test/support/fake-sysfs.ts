import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HostPaths } from '../../runners/qemu/pci-sysfs.js';

/**
 * A fake host tree (sys, dev, proc) laid out as Linux lays out sysfs for PCI, IOMMU groups and
 * VFIO: device folders with vendor/device/class files, `driver` and `iommu_group` links, group
 * folders with their member links, /dev/vfio nodes as plain files. Test code only.
 */
export interface FakeFunction {
  address: string;
  vendor?: string;
  device?: string;
  class?: string;
  driver?: string;
  group?: string;
}

export interface FakeHost {
  functions?: FakeFunction[];
  /** Group numbers that get a /dev/vfio/<n> node. */
  vfioNodes?: string[];
  /** /dev/vfio/vfio exists and the vfio-pci driver is registered. */
  vfio?: boolean;
  cmdline?: string;
  cpu?: 'GenuineIntel' | 'AuthenticAMD';
  /** Soft and hard RLIMIT_MEMLOCK in bytes, or 'unlimited'. */
  memlock?: number | 'unlimited';
}

export function makeFakeHost(spec: FakeHost): HostPaths & { remove(): void } {
  const root = mkdtempSync(join(tmpdir(), 'tsuite-fake-sysfs-'));
  const paths = { sysfs: join(root, 'sys'), dev: join(root, 'dev'), proc: join(root, 'proc') };
  const dir = (...p: string[]) => {
    const d = join(...p);
    mkdirSync(d, { recursive: true });
    return d;
  };
  dir(paths.sysfs, 'bus/pci/devices');
  dir(paths.sysfs, 'kernel/iommu_groups');
  dir(paths.dev);
  dir(paths.proc, 'self');
  for (const fn of spec.functions ?? []) {
    const d = dir(paths.sysfs, 'devices/pci0000:00', fn.address);
    symlinkSync(d, join(paths.sysfs, 'bus/pci/devices', fn.address));
    writeFileSync(join(d, 'vendor'), `0x${fn.vendor ?? '10de'}\n`);
    writeFileSync(join(d, 'device'), `0x${fn.device ?? '2204'}\n`);
    writeFileSync(join(d, 'class'), `0x${fn.class ?? '030000'}\n`);
    writeFileSync(join(d, 'driver_override'), '(null)\n');
    if (fn.driver) symlinkSync(dir(paths.sysfs, 'bus/pci/drivers', fn.driver), join(d, 'driver'));
    if (fn.group) {
      const g = dir(paths.sysfs, 'kernel/iommu_groups', fn.group, 'devices');
      symlinkSync(join(paths.sysfs, 'kernel/iommu_groups', fn.group), join(d, 'iommu_group'));
      symlinkSync(d, join(g, fn.address));
    }
  }
  if (spec.vfio) {
    writeFileSync(join(dir(paths.dev, 'vfio'), 'vfio'), '');
    dir(paths.sysfs, 'bus/pci/drivers/vfio-pci');
  }
  for (const n of spec.vfioNodes ?? []) writeFileSync(join(dir(paths.dev, 'vfio'), n), '');
  writeFileSync(join(paths.proc, 'cmdline'), `${spec.cmdline ?? 'console=ttyS0 quiet'}\n`);
  writeFileSync(join(paths.proc, 'cpuinfo'), `processor\t: 0\nvendor_id\t: ${spec.cpu ?? 'GenuineIntel'}\n`);
  const lock = String(spec.memlock ?? 'unlimited');
  writeFileSync(join(paths.proc, 'self/limits'), `Limit                     Soft Limit           Hard Limit           Units\nMax locked memory         ${lock.padEnd(20)} ${lock.padEnd(20)} bytes\n`);
  return { ...paths, remove: () => rmSync(root, { recursive: true, force: true }) };
}

/**
 * For a vitest file: `host(spec)` makes a fake host that is removed after each test. Call once at
 * the top of the file (it registers the afterEach).
 */
export function fakeHostsPerTest(afterEach: (fn: () => void) => void): (spec: FakeHost) => ReturnType<typeof makeFakeHost> {
  let hosts: ReturnType<typeof makeFakeHost>[] = [];
  afterEach(() => {
    hosts.forEach((h) => h.remove());
    hosts = [];
  });
  return (spec) => {
    const h = makeFakeHost(spec);
    hosts.push(h);
    return h;
  };
}
