import {
  bindCommands, blockingMembers, describeIds, iommuBootFix, listPciFunctions, NVIDIA_VENDOR, readHostIommu, REAL_HOST, type HostPaths,
} from '../../runners/qemu/pci-sysfs.js';
import { vfioProblems } from '../../runners/qemu/vfio-host.js';

/**
 * `tsuite doctor`'s GPU / VFIO section: whether the host can pass PCI functions through (IOMMU on,
 * vfio loaded), which functions are bound to vfio-pci and whether their groups are viable, the
 * NVIDIA devices and their drivers, and the target's own host devices. Pure but for reading the
 * (injectable) host tree, so it is tested against fake sysfs trees.
 */
export interface DoctorLine {
  /** `✓` fine; `!` worth knowing, not a problem for this target; `✗` a problem for this target. */
  mark: '✓' | '!' | '✗';
  what: string;
  fix?: string;
}

/** `hostDevices`: the target's passthrough devices; without them nothing here is a problem, only advice. */
export function gpuDoctorLines(hostDevices: readonly string[] = [], paths: HostPaths = REAL_HOST, memoryMb?: number): DoctorLine[] {
  const lines: DoctorLine[] = [];
  const needed = hostDevices.length > 0;
  const bad: DoctorLine['mark'] = needed ? '✗' : '!';
  const iommu = readHostIommu(paths);
  const params = iommu.cmdline.length ? iommu.cmdline.join(' ') : 'no intel_iommu= or amd_iommu= on the host command line';
  lines.push(iommu.groups > 0
    ? { mark: '✓', what: `host IOMMU on: ${iommu.groups} IOMMU groups (${params})` }
    : { mark: bad, what: `host IOMMU off: /sys/kernel/iommu_groups is empty (${params}); PCI passthrough is impossible`, fix: iommuBootFix(iommu) });
  lines.push(iommu.vfioLoaded && iommu.vfioPciLoaded
    ? { mark: '✓', what: 'vfio and vfio-pci loaded (/dev/vfio/vfio)' }
    : { mark: bad, what: `${iommu.vfioLoaded ? 'vfio-pci is not loaded' : 'vfio is not loaded (no /dev/vfio/vfio)'}`, fix: 'as root: modprobe vfio-pci (add vfio-pci to /etc/modules to load it at boot)' });

  const functions = listPciFunctions(paths);
  const onVfio = functions.filter((fn) => fn.driver !== undefined && /vfio/.test(fn.driver));
  for (const fn of onVfio) {
    const group = fn.iommuGroup;
    const blocking = group ? blockingMembers(group, paths).filter((m) => m.address !== fn.address) : [];
    lines.push(blocking.length === 0
      ? { mark: '✓', what: `${fn.address} ${describeIds(fn)} on ${fn.driver}, IOMMU group ${group ?? '?'} viable: ready to pass through` }
      : {
        mark: '!',
        what: `${fn.address} ${describeIds(fn)} on ${fn.driver}, IOMMU group ${group} not viable: ${blocking.map((m) => `${m.address} on ${m.driver}`).join(', ')}`,
        fix: `as root: ${blocking.map((m) => bindCommands(m, paths)).join('; ')}`,
      });
  }
  if (onVfio.length === 0) lines.push({ mark: '!', what: 'no PCI function is bound to vfio-pci', fix: 'bind the one to pass through (tsuite run --host-device <address> then names the commands)' });

  const nvidia = functions.filter((fn) => fn.vendor === NVIDIA_VENDOR && !fn.class.startsWith('0604'));
  for (const fn of nvidia.filter((f) => !onVfio.includes(f))) {
    lines.push({
      mark: '!',
      what: `NVIDIA ${fn.address} ${describeIds(fn)}: driver ${fn.driver ?? 'none'}${fn.iommuGroup ? `, IOMMU group ${fn.iommuGroup}` : ''}`,
      fix: fn.iommuGroup ? `to pass it through, as root: modprobe vfio-pci; ${bindCommands(fn, paths)}` : 'to pass it through, turn the IOMMU on first (see above)',
    });
  }
  if (nvidia.length === 0) lines.push({ mark: '!', what: 'no NVIDIA PCI device on this host' });

  for (const p of vfioProblems(hostDevices, { paths, ...(memoryMb !== undefined && { memoryMb }) })) lines.push({ mark: '✗', what: `target's host device ${p.message}`, fix: p.fix });
  if (needed && lines.every((l) => l.mark !== '✗')) lines.push({ mark: '✓', what: `target's host devices ready: ${hostDevices.join(', ')}` });
  return lines;
}
