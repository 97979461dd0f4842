import { describe, expect, it } from 'vitest';
import { concreteMachine, forwardedGuestPorts } from '../../runners/qemu/machine-args.js';
import { qemuArgs, type QemuPaths } from '../../runners/qemu/qemu-args.js';
import aarch64 from '../../runners/qemu/profiles/aarch64.js';
import x86_64 from '../../runners/qemu/profiles/x86_64.js';
import { resolveMachine, type MachineDef } from '../../src/core/machine.js';
import type { DockerRequest, ProvisionRequest } from '../../src/core/runner.js';
import { BOOT_REPORT_READY } from '../../src/parsers/boot-report.js';
import { LINUX_EVENT_PATTERNS } from '../../src/parsers/kernel-events.js';

const paths: QemuPaths = { qmpSocket: '/tmp/q/qmp.sock' };

function request(machine?: MachineDef, extra: Partial<ProvisionRequest> = {}, arch = 'x86_64'): ProvisionRequest {
  const profile = arch === 'x86_64' ? x86_64 : aarch64;
  return {
    sessionId: 's', dir: '/tmp/run/s', arch, boot: { kernel: '/k', cmdline: 'console=ttyS0' }, cpus: 1, memoryMb: 256, accel: 'auto',
    landmark: BOOT_REPORT_READY, bootTimeoutMs: 1000, eventPatterns: LINUX_EVENT_PATTERNS,
    ...(machine && { machine: resolveMachine(machine, arch, profile.machine) }),
    ...extra,
  };
}
const args = (machine?: MachineDef, extra: Partial<ProvisionRequest> = {}, ports = new Map<number, number>()) =>
  qemuArgs(request(machine, extra), x86_64, 'tcg', paths, ports);
const after = (a: string[], flag: string) => a[a.indexOf(flag) + 1];
const allAfter = (a: string[], flag: string) => a.flatMap((x, i) => (x === flag ? [a[i + 1]!] : []));
const disk = (file: string, iface: string, extra: object = {}) => ({ file, interface: iface, ...extra }) as NonNullable<MachineDef['drives']>[number];

describe('machine type', () => {
  it("is the profile's without a machine, and machine.type when given", () => {
    expect(after(args(), '-M')).toBe('pc');
    expect(after(args({ type: 'q35' }), '-M')).toBe('q35');
    expect(after(qemuArgs(request(undefined, {}, 'aarch64'), aarch64, 'tcg', paths), '-M')).toBe('virt');
  });

  it('gives intel-iommu interrupt remapping, first of all devices, and a split irqchip under KVM', () => {
    const a = args({ type: 'q35', iommu: 'intel-iommu', drives: [disk('/d', 'virtio')] });
    const devices = allAfter(a, '-device');
    expect(devices[0]).toBe('intel-iommu,intremap=on');
    expect(after(qemuArgs(request({ type: 'q35', iommu: 'intel-iommu' }), x86_64, 'kvm', paths), '-M')).toBe('q35,kernel-irqchip=split');
    expect(allAfter(args({ iommu: 'virtio-iommu' }), '-device')[0]).toBe('virtio-iommu-pci');
  });
});

describe('drives', () => {
  it('puts IDE drives on the pc board: primary master, primary slave, secondary master', () => {
    const a = args({ drives: [disk('/boot.img', 'ide'), disk('/fs.img', 'ide'), disk('/cd.iso', 'ide', { media: 'cdrom' })] });
    expect(allAfter(a, '-drive')).toEqual([
      'file=/boot.img,format=raw,if=none,id=drive0,snapshot=on',
      'file=/fs.img,format=raw,if=none,id=drive1,snapshot=on',
      'file=/cd.iso,format=raw,if=none,id=drive2,media=cdrom,readonly=on',
    ]);
    expect(allAfter(a, '-device').filter((d) => d.startsWith('ide-'))).toEqual([
      'ide-hd,drive=drive0,bus=ide.0,unit=0', 'ide-hd,drive=drive1,bus=ide.0,unit=1', 'ide-cd,drive=drive2,bus=ide.1,unit=0',
    ]);
  });

  it("uses q35's own AHCI ports, and adds an ich9-ahci controller on pc", () => {
    expect(allAfter(args({ type: 'q35', drives: [disk('/a', 'ahci'), disk('/b', 'ahci')] }), '-device').filter((d) => d.startsWith('ide-')))
      .toEqual(['ide-hd,drive=drive0,bus=ide.0', 'ide-hd,drive=drive1,bus=ide.1']);
    const pc = allAfter(args({ drives: [disk('/a', 'ahci')] }), '-device');
    expect(pc).toContain('ich9-ahci,id=ahci0');
    expect(pc).toContain('ide-hd,drive=drive0,bus=ahci0.0');
  });

  it('one controller for all virtio-scsi drives and one xHCI for all USB drives; virtio-blk, NVMe, floppy, SD', () => {
    const d = allAfter(args({ drives: [disk('/a', 'scsi'), disk('/b', 'scsi', { media: 'cdrom' }), disk('/c', 'usb'), disk('/e', 'usb'),
      disk('/f', 'virtio', { readOnly: true }), disk('/g', 'nvme'), disk('/h', 'floppy'), disk('/i', 'sd')] }), '-device');
    expect(d.filter((x) => x.startsWith('virtio-scsi-pci'))).toEqual(['virtio-scsi-pci,id=scsi0']);
    expect(d.filter((x) => x.startsWith('qemu-xhci'))).toEqual(['qemu-xhci,id=xhci0']);
    expect(d).toEqual(expect.arrayContaining(['scsi-hd,drive=drive0,bus=scsi0.0', 'scsi-cd,drive=drive1,bus=scsi0.0', 'usb-storage,drive=drive2,bus=xhci0.0',
      'usb-storage,drive=drive3,bus=xhci0.0', 'virtio-blk-pci,drive=drive4', 'nvme,serial=tsuite-drive5,drive=drive5', 'floppy,drive=drive6,unit=0',
      'sdhci-pci,id=sdhci7', 'sd-card,drive=drive7']));
  });

  it('snapshot=on unless writable, readonly=on when read-only, the format, the boot order, commas doubled', () => {
    const d = allAfter(args({ drives: [disk('/w.qcow2', 'virtio', { writable: true, format: 'qcow2', bootIndex: 1 }), disk('/my,disk.img', 'virtio', { readOnly: true, bootIndex: 0 })] }), '-drive');
    expect(d).toEqual(['file=/w.qcow2,format=qcow2,if=none,id=drive0', 'file=/my,,disk.img,format=raw,if=none,id=drive1,readonly=on']);
    expect(allAfter(args({ drives: [disk('/a', 'virtio', { bootIndex: 3 })] }), '-device')).toContain('virtio-blk-pci,drive=drive0,bootindex=3');
  });

  it('keeps the image and rootfs drives, recorded with their role beside the machine drives', () => {
    const req = request({ drives: [disk('/data.img', 'ide')] }, { boot: { kernel: '/k', cmdline: '', rootfs: '/root.ext4' } });
    const a = qemuArgs(req, x86_64, 'tcg', paths);
    expect(allAfter(a, '-device')).toEqual(expect.arrayContaining(['nvme,serial=tsuite-root,drive=root0', 'ide-hd,drive=drive1,bus=ide.0,unit=0']));
    expect(concreteMachine(req, x86_64).drives.map((d) => [d.file, d.interface, d.role])).toEqual([['/root.ext4', 'nvme', 'rootfs'], ['/data.img', 'ide', undefined]]);
  });
});

describe('boot from the drives', () => {
  it('has no -kernel, -append or qboot: SeaBIOS boots the first disk', () => {
    const a = args({ drives: [disk('/boot.img', 'ide'), disk('/fs.img', 'ide')] }, { boot: { kernel: '', cmdline: '', driveBoot: true } });
    for (const f of ['-kernel', '-initrd', '-append', '-bios']) expect(a).not.toContain(f);
    expect(allAfter(a, '-drive').some((d) => d.startsWith('if=pflash'))).toBe(false);
  });

  it("under UEFI: OVMF's code read-only and the session's own variable store", () => {
    const a = qemuArgs(request({ drives: [disk('/esp.img', 'ahci')] }, { boot: { kernel: '', cmdline: '', driveBoot: true, firmware: 'uefi' } }), x86_64, 'tcg',
      { ...paths, uefiVars: '/tmp/run/s/uefi-vars.fd' });
    expect(allAfter(a, '-drive').slice(0, 2)).toEqual([`if=pflash,format=raw,readonly=on,file=${x86_64.uefi!.code}`, 'if=pflash,format=raw,file=/tmp/run/s/uefi-vars.fd']);
  });
});

describe('NICs and forwards', () => {
  it('gives each NIC its own user network with its forwards on loopback', () => {
    const m: MachineDef = { nics: [{ model: 'e1000', forwards: [{ guest: 22 }, { guest: 53, host: 5353, protocol: 'udp' }] }, { model: 'rtl8139' }] };
    const ports = new Map(forwardedGuestPorts(request(m)).map((g) => [g, 40_022] as const));
    expect([...ports.keys()]).toEqual([22]);
    const a = args(m, {}, ports);
    expect(allAfter(a, '-netdev')).toEqual(['user,id=net0,hostfwd=tcp:127.0.0.1:40022-:22,hostfwd=udp:127.0.0.1:5353-:53', 'user,id=net1']);
    expect(allAfter(a, '-device')).toEqual(expect.arrayContaining(['e1000,netdev=net0', 'rtl8139,netdev=net1']));
  });

  const docker: DockerRequest = { guestPort: 2375, readyTimeoutMs: 1000, publishPorts: [18080] };

  it("puts the docker channel's forwards on the machine's first NIC", () => {
    const req = request({ nics: [{ model: 'e1000e', forwards: [{ guest: 22 }] }] }, { docker });
    const ports = new Map(forwardedGuestPorts(req).map((g, i) => [g, 41_000 + i] as const));
    expect(concreteMachine(req, x86_64, ports).nics).toEqual([{ model: 'e1000e', forwards: [
      { guest: 22, host: 41_002, protocol: 'tcp' }, { guest: 2375, host: 41_000, protocol: 'tcp' }, { guest: 18080, host: 41_001, protocol: 'tcp' },
    ] }]);
  });

  it('without NICs, gives docker one virtio-net NIC, as before machines were data', () => {
    const req = request(undefined, { docker });
    const ports = new Map(forwardedGuestPorts(req).map((g, i) => [g, 41_000 + i] as const));
    expect(concreteMachine(req, x86_64, ports).nics).toEqual([{ model: 'virtio-net', forwards: [{ guest: 2375, host: 41_000, protocol: 'tcp' }, { guest: 18080, host: 41_001, protocol: 'tcp' }] }]);
    expect(allAfter(qemuArgs(req, x86_64, 'tcg', paths, ports), '-device')).toContain('virtio-net-pci,netdev=net0');
  });

  it("refuses docker forwards on a machine with nics: none", () => {
    const req = request({ nics: [{ model: 'none' }] }, { docker });
    expect(() => qemuArgs(req, x86_64, 'tcg', paths, new Map([[2375, 1], [18080, 2]]))).toThrow(/no network \(nics: none\)/);
    expect(allAfter(args({ nics: [{ model: 'none' }] }), '-netdev')).toEqual([]);
  });
});

describe('shares, extra devices, raw arguments', () => {
  it('9p over virtio with the local fsdev, read-only when asked', () => {
    const a = args({ shares: [{ path: '/srv/share', tag: 'host0', readOnly: true }] });
    expect(after(a, '-fsdev')).toBe('local,id=fs0,path=/srv/share,security_model=none,readonly=on');
    expect(allAfter(a, '-device')).toContain('virtio-9p-pci,fsdev=fs0,mount_tag=host0');
  });

  it('appends the extra devices and then the raw arguments, last', () => {
    const a = args({ devices: ['pci-testdev'], qemuArgs: ['-rtc', 'base=utc'] });
    expect(allAfter(a, '-device')).toContain('pci-testdev');
    expect(a.slice(-2)).toEqual(['-rtc', 'base=utc']);
  });

  it('on microvm, virtio-mmio devices', () => {
    const a = args({ type: 'microvm', drives: [disk('/a', 'virtio')], nics: [{ model: 'virtio-net' }], shares: [{ path: '/s', tag: 't' }] });
    expect(allAfter(a, '-device')).toEqual(expect.arrayContaining(['virtio-blk-device,drive=drive0', 'virtio-net-device,netdev=net0', 'virtio-9p-device,fsdev=fs0,mount_tag=t']));
  });
});
