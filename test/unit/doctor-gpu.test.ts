import { afterEach, describe, expect, it } from 'vitest';
import { gpuDoctorLines } from '../../src/cli/doctor-gpu.js';
import { fakeHostsPerTest, type FakeHost } from '../support/fake-sysfs.js';

/** doctor's GPU / VFIO section against fake sysfs trees: each state and its fix. */

const GPU = '0000:01:00.0';
const host = fakeHostsPerTest(afterEach);
const marks = (lines: ReturnType<typeof gpuDoctorLines>) => lines.map((l) => `${l.mark} ${l.what}`);

describe('doctor: GPU passthrough', () => {
  it('a host without IOMMU or vfio (like a cloud VM): advice only, unless the target passes devices through', () => {
    const paths = host({ functions: [{ address: '0000:00:04.0', vendor: '1af4', device: '1000', class: '020000', driver: 'virtio-pci' }] });
    const lines = gpuDoctorLines([], paths);
    expect(marks(lines)).toEqual([
      '! host IOMMU off: /sys/kernel/iommu_groups is empty (no intel_iommu= or amd_iommu= on the host command line); PCI passthrough is impossible',
      '! vfio is not loaded (no /dev/vfio/vfio)',
      '! no PCI function is bound to vfio-pci',
      '! no NVIDIA PCI device on this host',
    ]);
    expect(lines[0]!.fix).toContain('intel_iommu=on');
    expect(lines[1]!.fix).toContain('modprobe vfio-pci');
    const forTarget = gpuDoctorLines([GPU], paths);
    expect(forTarget.filter((l) => l.mark === '✗').map((l) => l.what)).toEqual([
      expect.stringMatching(/^host IOMMU off/), expect.stringMatching(/^vfio is not loaded/), expect.stringMatching(new RegExp(`host device no PCI function ${GPU}`)),
    ]);
  });

  it('a GPU ready to pass through, and an NVIDIA GPU still on its driver', () => {
    const paths = host({
      vfio: true, vfioNodes: ['12'], cmdline: 'intel_iommu=on iommu=pt',
      functions: [
        { address: GPU, driver: 'vfio-pci', group: '12' },
        { address: '0000:02:00.0', device: '2330', class: '030200', driver: 'nvidia', group: '13' },
      ],
    });
    const lines = gpuDoctorLines([GPU], paths);
    expect(marks(lines)).toEqual([
      '✓ host IOMMU on: 2 IOMMU groups (intel_iommu=on iommu=pt)',
      '✓ vfio and vfio-pci loaded (/dev/vfio/vfio)',
      `✓ ${GPU} [10de:2204] class 030000 on vfio-pci, IOMMU group 12 viable: ready to pass through`,
      '! NVIDIA 0000:02:00.0 [10de:2330] class 030200: driver nvidia, IOMMU group 13',
      `✓ target's host devices ready: ${GPU}`,
    ]);
    expect(lines[3]!.fix).toMatch(/modprobe vfio-pci; echo 0000:02:00.0 > .*\/driver\/unbind; echo vfio-pci > .*driver_override; echo 0000:02:00.0 > .*drivers_probe/);
  });

  it('a function on vfio-pci whose group is not viable', () => {
    const paths = host({
      vfio: true, vfioNodes: ['12'],
      functions: [{ address: GPU, driver: 'vfio-pci', group: '12' }, { address: '0000:01:00.1', class: '040300', driver: 'snd_hda_intel', group: '12' }],
    });
    const lines = gpuDoctorLines([GPU], paths);
    expect(marks(lines)).toContain(`! ${GPU} [10de:2204] class 030000 on vfio-pci, IOMMU group 12 not viable: 0000:01:00.1 on snd_hda_intel`);
    expect(lines.filter((l) => l.mark === '✗')).toHaveLength(1);
    expect(lines.some((l) => /target's host devices ready/.test(l.what))).toBe(false);
  });
});
