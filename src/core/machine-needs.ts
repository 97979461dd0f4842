import { deviceDriver, type MachineDef, type ResolvedMachine } from './machine.js';

/**
 * What a suite needs of the machine beyond the target's own (SuiteDef.machine): the `gpu` suite
 * needs an IOMMU and QEMU's `edu` test device (a PCI function with a DMA engine) to drive over VFIO.
 */
export interface MachineNeeds {
  /** An emulated IOMMU: the target's own if it has one, else intel-iommu on x86_64 (q35 where the type is left to tsuite), virtio-iommu elsewhere. */
  iommu?: true;
  /** `-device` values the machine must have (added unless the target already has them). */
  devices?: readonly string[];
}

/** The target's machine with a suite's needs added; the target's own choices win. */
export function withMachineNeeds(machine: MachineDef | undefined, arch: string, needs: MachineNeeds | undefined): MachineDef | undefined {
  if (!needs) return machine;
  const m: MachineDef = { ...(machine ?? {}) };
  if (needs.iommu && !m.iommu) {
    const q35 = arch === 'x86_64' && (m.type === undefined || m.type === 'q35');
    m.iommu = q35 ? 'intel-iommu' : 'virtio-iommu';
  }
  const devices = [...(m.devices ?? [])];
  for (const d of needs.devices ?? []) if (!devices.some((have) => deviceDriver(have) === deviceDriver(d))) devices.push(d);
  if (devices.length > 0) m.devices = devices;
  return m;
}

/**
 * What a Linux kernel's command line needs for the machine's IOMMU: intel-iommu is off unless
 * asked (`intel_iommu=on`); `iommu=pt` keeps the host's own devices on identity maps (VFIO still
 * gets translated domains); `no_timer_check`, because under TCG on a busy host about one boot in 16
 * panicked "timer doesn't work through Interrupt-remapped IO-APIC" without it (HOST-FACTS).
 */
export function linuxIommuCmdline(machine: Pick<ResolvedMachine, 'iommu'>, cmdline: string): string {
  if (machine.iommu !== 'intel-iommu' || /(^|\s)intel_iommu=/.test(cmdline)) return cmdline;
  return `${cmdline} intel_iommu=on iommu=pt no_timer_check`.trim();
}
