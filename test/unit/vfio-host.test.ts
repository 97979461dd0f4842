import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { applyMachineFlags } from '../../src/cli/machine-flags.js';
import { InfraError, UsageError } from '../../src/core/errors.js';
import { describeMachine, isPlainMachine, machineProblems, resolveMachine } from '../../src/core/machine.js';
import { normalizePciAddress } from '../../src/core/pci-address.js';
import { hostDeviceArgs } from '../../runners/qemu/machine-args.js';
import { qemuArgs } from '../../runners/qemu/qemu-args.js';
import x86_64 from '../../runners/qemu/profiles/x86_64.js';
import { checkHostDevices, vfioProblems } from '../../runners/qemu/vfio-host.js';
import { BOOT_REPORT_READY } from '../../src/parsers/boot-report.js';
import { LINUX_EVENT_PATTERNS } from '../../src/parsers/kernel-events.js';
import { fakeHostsPerTest, type FakeHost } from '../support/fake-sysfs.js';

/** Host PCI passthrough: the machine field and flag, QEMU's arguments, and the host check against fake sysfs trees. */

const GPU = '0000:01:00.0';
const AUDIO = '0000:01:00.1';
const host = fakeHostsPerTest(afterEach);

/** A GPU and its audio function in group 12, both on vfio-pci, the node present: ready. */
const ready: FakeHost = {
  vfio: true, vfioNodes: ['12'], cmdline: 'intel_iommu=on iommu=pt',
  functions: [{ address: GPU, driver: 'vfio-pci', group: '12' }, { address: AUDIO, class: '040300', device: '1aef', driver: 'vfio-pci', group: '12' }],
};

describe('hostDevices in the machine', () => {
  it('accepts full and lspci-style addresses, records the full form, and picks q35 on x86_64', () => {
    expect(normalizePciAddress('01:00.0')).toBe(GPU);
    expect(normalizePciAddress('0000:0A:1f.7')).toBe('0000:0a:1f.7');
    expect(normalizePciAddress('01:20.0')).toBeUndefined();
    const m = resolveMachine({ hostDevices: ['01:00.0'] }, 'x86_64', 'pc');
    expect(m.type).toBe('q35');
    expect(m.hostDevices).toEqual([GPU]);
    expect(isPlainMachine(m)).toBe(false);
    expect(describeMachine(m)).toBe(`q35; vfio: ${GPU}`);
  });

  it('refuses a bad address, a device given twice, pc or microvm, and vfio-pci as a verbatim device', () => {
    const problems = machineProblems({ type: 'pc', hostDevices: ['1:0.0', GPU, '01:00.0'], devices: [`vfio-pci,host=${AUDIO}`] }, 'x86_64', 'pc');
    expect(problems.map((p) => p.path)).toEqual(['devices[0]', 'hostDevices[0]', 'hostDevices[2]', 'hostDevices']);
    expect(problems.find((p) => p.path === 'hostDevices')!.fix).toMatch(/q35/);
    expect(problems[0]!.fix).toContain(`hostDevices: ['${AUDIO}']`);
    expect(machineProblems({ type: 'microvm', hostDevices: [GPU] }, 'x86_64')[0]!.message).toMatch(/microvm has no PCI/);
    expect(machineProblems({ hostDevices: [GPU] }, 'aarch64', 'virt')).toEqual([]);
    expect(() => resolveMachine({ type: 'pc', hostDevices: [GPU] }, 'x86_64', 'pc')).toThrow(UsageError);
  });

  it('--host-device adds to the config\'s host devices', () => {
    expect(applyMachineFlags({ hostDevices: [GPU] }, { hostDevice: [AUDIO] })).toEqual({ hostDevices: [GPU, AUDIO] });
  });

  it('becomes -device vfio-pci,host=<address> for QEMU', () => {
    expect(hostDeviceArgs({ hostDevices: [GPU, AUDIO] })).toEqual(['-device', `vfio-pci,host=${GPU},id=hostdev0`, '-device', `vfio-pci,host=${AUDIO},id=hostdev1`]);
    const machine = resolveMachine({ hostDevices: [GPU] }, 'x86_64', 'pc');
    const a = qemuArgs({
      sessionId: 's', dir: '/tmp/s', arch: 'x86_64', boot: { kernel: '/k', cmdline: 'console=ttyS0' }, cpus: 1, memoryMb: 256, accel: 'auto',
      landmark: BOOT_REPORT_READY, bootTimeoutMs: 1000, eventPatterns: LINUX_EVENT_PATTERNS, machine,
    }, x86_64, 'kvm', { qmpSocket: '/tmp/q.sock' });
    expect(a[a.indexOf('-M') + 1]).toMatch(/^q35/);
    expect(a).toContain(`vfio-pci,host=${GPU},id=hostdev0`);
  });
});

describe('the host check before boot', () => {
  it('passes a device on vfio-pci whose whole group is on vfio-pci and whose group node opens', () => {
    const paths = host(ready);
    expect(vfioProblems([GPU, AUDIO], { paths })).toEqual([]);
    expect(vfioProblems(['01:00.0'], { paths })).toEqual([]);
    expect(() => checkHostDevices([GPU], { paths })).not.toThrow();
  });

  it('a device that does not exist is a UsageError naming the sysfs path', () => {
    const paths = host(ready);
    const err = (() => { try { checkHostDevices(['0000:02:00.0'], { paths }); } catch (e) { return e; } })();
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toContain(join(paths.sysfs, 'bus/pci/devices/0000:02:00.0'));
  });

  it('no IOMMU group: the IOMMU is off, and the fix is the boot parameter for this CPU', () => {
    const paths = host({ functions: [{ address: GPU, driver: 'nvidia' }], cpu: 'AuthenticAMD' });
    const [p] = vfioProblems([GPU], { paths });
    expect(p!.message).toMatch(/no IOMMU group.*iommu_groups is empty/);
    expect(p!.fix).toContain('amd_iommu=on');
    expect(() => checkHostDevices([GPU], { paths })).toThrow(InfraError);
  });

  it('bound to another driver: names it and the group, and gives modprobe, unbind, driver_override and drivers_probe', () => {
    const paths = host({ functions: [{ address: GPU, driver: 'nvidia', group: '12' }] });
    const [p] = vfioProblems([GPU], { paths });
    expect(p!.message).toBe(`${GPU} [10de:2204] class 030000 is bound to nvidia, not vfio-pci (IOMMU group 12)`);
    const dev = join(paths.sysfs, 'bus/pci/devices', GPU);
    expect(p!.fix).toContain(`modprobe vfio-pci; echo ${GPU} > ${dev}/driver/unbind; echo vfio-pci > ${dev}/driver_override; echo ${GPU} > ${join(paths.sysfs, 'bus/pci/drivers_probe')}`);
    expect(p!.fix).toMatch(/nvidia-persistenced/);
  });

  it('an unbound device needs no unbind', () => {
    const paths = host({ vfio: true, functions: [{ address: GPU, group: '3' }] });
    const [p] = vfioProblems([GPU], { paths });
    expect(p!.message).toMatch(/is bound to no driver/);
    expect(p!.fix).not.toContain('unbind');
    expect(p!.fix).not.toContain('modprobe');
  });

  it('a group member on a host driver makes the group not viable; a bridge on pcieport does not', () => {
    const paths = host({
      vfio: true, vfioNodes: ['12'],
      functions: [
        { address: '0000:00:01.0', class: '060400', vendor: '8086', driver: 'pcieport', group: '12' },
        { address: GPU, driver: 'vfio-pci', group: '12' },
        { address: AUDIO, class: '040300', driver: 'snd_hda_intel', group: '12' },
      ],
    });
    const [p] = vfioProblems([GPU], { paths });
    expect(p!.message).toBe(`${GPU} [10de:2204] class 030000: IOMMU group 12 is not viable: ${AUDIO} is bound to snd_hda_intel (VFIO takes a whole group)`);
    expect(p!.fix).toContain(`echo ${AUDIO} > ${join(paths.sysfs, 'bus/pci/devices', AUDIO)}/driver/unbind`);
  });

  it('a missing or unopenable /dev/vfio/<group>', () => {
    const missing = host({ ...ready, vfioNodes: [] });
    expect(vfioProblems([GPU], { paths: missing })[0]!.message).toMatch(/dev\/vfio\/12 cannot be opened \(ENOENT\)/);
    if (process.getuid?.() !== 0) {
      const locked = host(ready);
      chmodSync(join(locked.dev, 'vfio/12'), 0o000);
      expect(vfioProblems([GPU], { paths: locked })[0]!.fix).toMatch(/chown/);
    }
  });

  it('a memlock limit below the guest memory, for a user without CAP_IPC_LOCK', () => {
    const paths = host({ ...ready, memlock: 64 * 1024 * 1024 });
    const [p] = vfioProblems([GPU], { paths, memoryMb: 1024, root: false });
    expect(p!.message).toMatch(/pins all 1024 MiB.*lock 64 MiB/);
    expect(vfioProblems([GPU], { paths, memoryMb: 1024, root: true })).toEqual([]);
    expect(vfioProblems([GPU], { paths: host(ready), memoryMb: 1024, root: false })).toEqual([]);
  });

  it('lists every device\'s problem in one error', () => {
    const paths = host({ functions: [{ address: GPU, driver: 'nvidia', group: '1' }, { address: AUDIO, driver: 'snd_hda_intel', group: '2' }] });
    expect(() => checkHostDevices([GPU, AUDIO], { paths })).toThrow(new RegExp(`${GPU}.*nvidia[\\s\\S]*${AUDIO}.*snd_hda_intel`));
  });
});
