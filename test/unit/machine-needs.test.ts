import { describe, expect, it } from 'vitest';
import { machineProblems, resolveMachine } from '../../src/core/machine.js';
import { linuxIommuCmdline, withMachineNeeds } from '../../src/core/machine-needs.js';

describe("a suite's machine needs added to the target's machine", () => {
  it('gives an x86_64 machine left to tsuite intel-iommu on q35 and the test device', () => {
    const m = withMachineNeeds(undefined, 'x86_64', { iommu: true, devices: ['edu'] });
    expect(m).toEqual({ iommu: 'intel-iommu', devices: ['edu'] });
    const resolved = resolveMachine(m, 'x86_64', 'pc');
    expect(resolved.type).toBe('q35');
    expect(resolved.iommu).toBe('intel-iommu');
    expect(resolved.devices).toEqual(['edu']);
  });

  it("keeps the target's own choices: its machine type, its IOMMU, a device it already has", () => {
    expect(withMachineNeeds({ type: 'pc' }, 'x86_64', { iommu: true })).toEqual({ type: 'pc', iommu: 'virtio-iommu' });
    expect(withMachineNeeds({ iommu: 'virtio-iommu', devices: ['edu,addr=0x8'] }, 'x86_64', { iommu: true, devices: ['edu'] })).toEqual({ iommu: 'virtio-iommu', devices: ['edu,addr=0x8'] });
    expect(withMachineNeeds(undefined, 'aarch64', { iommu: true })).toEqual({ iommu: 'virtio-iommu' });
    expect(withMachineNeeds({ type: 'q35' }, 'x86_64', undefined)).toEqual({ type: 'q35' });
  });

  it('takes intel-iommu on a type left out as q35, but still refuses it on an explicit pc', () => {
    expect(machineProblems({ iommu: 'intel-iommu' }, 'x86_64', 'pc')).toEqual([]);
    expect(machineProblems({ type: 'pc', iommu: 'intel-iommu' }, 'x86_64', 'pc').map((p) => p.path)).toEqual(['iommu']);
  });
});

describe("the reference Linux's command line for the IOMMU", () => {
  it('turns intel-iommu on, with passthrough for the host devices and no timer check', () => {
    expect(linuxIommuCmdline({ iommu: 'intel-iommu' }, 'console=ttyS0')).toBe('console=ttyS0 intel_iommu=on iommu=pt no_timer_check');
  });
  it('leaves a line alone that already says, or a machine without intel-iommu', () => {
    expect(linuxIommuCmdline({ iommu: 'intel-iommu' }, 'console=ttyS0 intel_iommu=off')).toBe('console=ttyS0 intel_iommu=off');
    expect(linuxIommuCmdline({ iommu: 'virtio-iommu' }, 'console=ttyS0')).toBe('console=ttyS0');
    expect(linuxIommuCmdline({}, 'console=ttyS0')).toBe('console=ttyS0');
  });
});
