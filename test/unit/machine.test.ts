import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkMachineFiles, describeMachine, isPlainMachine, MACHINE_TYPES, machineProblems, qemuArgProblems, resolveMachine, type MachineDef } from '../../src/core/machine.js';
import { UsageError } from '../../src/core/errors.js';
import { profiles } from '../../runners/qemu/profiles/index.js';

/** The problems' paths, for compact assertions. */
const paths = (m: MachineDef, arch = 'x86_64') => machineProblems(m, arch, MACHINE_TYPES[arch]?.[0]).map((p) => p.path);
const disk = (iface: string, extra: object = {}) => ({ file: '/d.img', interface: iface, ...extra }) as NonNullable<MachineDef['drives']>[number];

describe('machine types per arch', () => {
  it("lists each arch profile's own machine first, so the profile's default is kept", () => {
    for (const [arch, profile] of Object.entries(profiles)) expect(MACHINE_TYPES[arch]?.[0]).toBe(profile.machine);
  });

  it('keeps the profile default when no type is given', () => {
    expect(resolveMachine(undefined, 'x86_64', 'pc').type).toBe('pc');
    expect(resolveMachine({}, 'aarch64', 'virt').type).toBe('virt');
    expect(resolveMachine({ type: 'q35' }, 'x86_64', 'pc').type).toBe('q35');
  });

  it('refuses a type the arch does not have, naming the valid ones', () => {
    const [p] = machineProblems({ type: 'virt' }, 'x86_64', 'pc');
    expect(p).toMatchObject({ path: 'type' });
    expect(p!.fix).toContain("'pc', 'q35', 'microvm'");
    expect(paths({ type: 'q35' }, 'aarch64')).toContain('type');
    expect(paths({ type: 'microvm' })).toEqual([]);
  });
});

describe('what a machine type can have', () => {
  it('refuses legacy IDE on q35 (its controller is AHCI) and on aarch64 virt, with the fix', () => {
    const [q35] = machineProblems({ type: 'q35', drives: [disk('ide')] }, 'x86_64', 'pc');
    expect(q35).toMatchObject({ path: 'drives[0].interface' });
    expect(q35!.message).toContain('AHCI');
    expect(q35!.fix).toContain("'ahci'");
    expect(q35!.fix).toContain("machine type 'pc'");
    expect(paths({ drives: [disk('ide')] }, 'aarch64')).toEqual(['drives[0].interface']);
    expect(paths({ drives: [disk('floppy')], type: 'q35' })).toEqual(['drives[0].interface']);
  });

  it('accepts AHCI everywhere it is a PCI device, and every interface on pc', () => {
    expect(paths({ type: 'pc', drives: ['ide', 'ahci', 'virtio', 'nvme', 'scsi', 'usb', 'floppy', 'sd'].map((i) => disk(i)) })).toEqual([]);
    expect(paths({ type: 'q35', drives: [disk('ahci')] })).toEqual([]);
    expect(paths({ drives: [disk('ahci'), disk('nvme')] }, 'aarch64')).toEqual([]);
  });

  it('gives microvm only virtio drives and virtio-net', () => {
    expect(paths({ type: 'microvm', drives: [disk('virtio'), disk('nvme')], nics: [{ model: 'e1000' }] })).toEqual(['drives[1].interface', 'nics[0].model']);
  });

  it('refuses intel-iommu off q35, and accepts it on q35 (the type it gets when left out)', () => {
    const [p] = machineProblems({ type: 'pc', iommu: 'intel-iommu' }, 'x86_64', 'pc');
    expect(p).toMatchObject({ path: 'iommu' });
    expect(p!.message).toContain('q35');
    expect(paths({ type: 'q35', iommu: 'intel-iommu' })).toEqual([]);
    expect(paths({ iommu: 'intel-iommu' })).toEqual([]);
    expect(paths({ iommu: 'virtio-iommu' })).toEqual([]);
  });

  it('counts the slots the pc board has', () => {
    expect(paths({ drives: [1, 2, 3, 4].map(() => disk('ide')) })).toEqual([]);
    expect(paths({ drives: [1, 2, 3, 4, 5].map(() => disk('ide')) })).toEqual(['drives']);
  });

  it('refuses contradictions in a drive', () => {
    expect(paths({ drives: [disk('virtio', { readOnly: true, writable: true })] })).toEqual(['drives[0].writable']);
    expect(paths({ drives: [disk('virtio', { media: 'cdrom' })] })).toEqual(['drives[0].media']);
    // QEMU refuses a read-only ide-hd ("Block node is read-only"): say so before booting.
    expect(paths({ drives: [disk('ide', { readOnly: true })] })).toEqual(['drives[0].readOnly']);
    expect(paths({ drives: [disk('ide', { media: 'cdrom' }), disk('virtio', { readOnly: true })] })).toEqual([]);
    expect(paths({ drives: [disk('virtio', { bootIndex: 1 }), disk('ide', { bootIndex: 1 })] })).toEqual(['drives']);
  });

  it("refuses 'none' beside other NICs, forwards on 'none', a guest port forwarded twice", () => {
    expect(paths({ nics: [{ model: 'none' }, { model: 'e1000' }] })).toEqual(['nics[0].model']);
    expect(paths({ nics: [{ model: 'none', forwards: [{ guest: 22 }] }] })).toEqual(['nics[0].forwards']);
    expect(paths({ nics: [{ model: 'e1000', forwards: [{ guest: 22 }, { guest: 22, host: 2222 }] }] })).toEqual(['nics[0].forwards[1]']);
    expect(paths({ nics: [{ model: 'e1000', forwards: [{ guest: 22, protocol: 'tcp' }, { guest: 22, protocol: 'udp' }] }] })).toEqual([]);
  });
});

describe('qemuArgs that collide with what tsuite owns', () => {
  it('refuses -serial, naming the argument, why, and the fix', () => {
    const [p] = qemuArgProblems(['-serial', 'stdio']);
    expect(p).toMatchObject({ path: 'qemuArgs[0]' });
    expect(p!.message).toContain('-serial');
    expect(p!.message).toContain('console');
    expect(p!.fix).toBe('remove -serial from qemuArgs');
  });

  it('refuses the monitor, QMP, the console chardev, the exit device and the rest, in any spelling', () => {
    for (const args of [['-monitor', 'stdio'], ['-qmp', 'tcp:1'], ['-mon', 'chardev=x'], ['-no-reboot'], ['--serial', 'null'], ['-display', 'gtk'], ['-daemonize'],
      ['-pidfile', '/p'], ['-nographic'], ['-M', 'q35'], ['-machine=q35'], ['-kernel', '/k'], ['-chardev', 'socket,id=console0,path=/x'],
      ['-device', 'isa-debug-exit,iobase=0x501'], ['-nodefaults'], ['-readconfig', 'x.cfg']]) {
      expect(qemuArgProblems(args), args.join(' ')).toHaveLength(1);
    }
  });

  it('lets through what tsuite does not own', () => {
    expect(qemuArgProblems(['-rtc', 'base=utc', '-chardev', 'socket,id=extra,path=/tmp/s', '-device', 'isa-serial,chardev=extra', '-global', 'kvm-pit.lost_tick_policy=discard'])).toEqual([]);
    expect(paths({ devices: ['isa-debug-exit,iobase=0xf4'] })).toEqual(['devices[0]']);
  });

  it('is a UsageError listing every problem before anything boots', () => {
    const bad = () => resolveMachine({ type: 'pc', iommu: 'intel-iommu', qemuArgs: ['-serial', 'stdio'] }, 'x86_64', 'pc', 'my-kernel');
    expect(bad).toThrow(UsageError);
    expect(bad).toThrow(/^target 'my-kernel': the machine has 2 problems/);
    expect(bad).toThrow(/machine\.iommu: intel-iommu needs the q35 machine[\s\S]*machine\.qemuArgs\[0\]: -serial collides/);
  });
});

describe('resolveMachine', () => {
  it('fills in the defaults: raw, disk, snapshot=on unless writable, read-only CD-ROMs, tcp forwards', () => {
    const m = resolveMachine({
      drives: [disk('ahci'), disk('virtio', { writable: true, format: 'qcow2', bootIndex: 2 }), disk('ide', { media: 'cdrom' }), disk('virtio', { readOnly: true })],
      nics: [{ model: 'e1000', forwards: [{ guest: 22 }, { guest: 53, host: 5353, protocol: 'udp' }] }],
      shares: [{ path: '/srv', tag: 'host0' }],
    }, 'x86_64', 'pc');
    expect(m.drives.map((d) => [d.format, d.media, d.readOnly, d.writable, d.snapshot, d.bootIndex])).toEqual([
      ['raw', 'disk', false, false, true, undefined],
      ['qcow2', 'disk', false, true, false, 2],
      ['raw', 'cdrom', true, false, false, undefined],
      ['raw', 'disk', true, false, false, undefined],
    ]);
    expect(m.nics).toEqual([{ model: 'e1000', forwards: [{ guest: 22, protocol: 'tcp' }, { guest: 53, host: 5353, protocol: 'udp' }] }]);
    expect(m.shares).toEqual([{ path: '/srv', tag: 'host0', readOnly: false }]);
    expect(resolveMachine({ nics: [{ model: 'none' }] }, 'x86_64', 'pc')).toMatchObject({ nics: [], noNetwork: true });
  });
});

describe('checkMachineFiles', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsuite-machine-'));
  writeFileSync(join(dir, 'there.img'), '');

  it('names every drive file and share folder that is not there, with the fix', () => {
    let err: unknown;
    try {
      checkMachineFiles({ drives: [disk('ide', { file: 'there.img' }), disk('ide', { file: 'missing.img' })], shares: [{ path: 'nodir', tag: 't' }] }, dir);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    const e = err as UsageError;
    expect(e.message).toContain(`machine.drives[1].file: ${join(dir, 'missing.img')} does not exist`);
    expect(e.message).toContain(`machine.shares[0].path: ${join(dir, 'nodir')} is not a folder`);
    expect(e.message).not.toContain('there.img');
    expect(e.fix).toContain('--drive file=');
  });

  it('accepts files that exist', () => {
    expect(() => checkMachineFiles({ drives: [disk('ide', { file: 'there.img' })], shares: [{ path: '.', tag: 't' }] }, dir)).not.toThrow();
  });
});

describe('the console line', () => {
  it('says nothing for the plain profile machine, and everything the target added otherwise', () => {
    expect(isPlainMachine(resolveMachine(undefined, 'x86_64', 'pc'))).toBe(true);
    const m = resolveMachine({ type: 'q35', drives: [disk('ahci', { file: '/x/disk.img' })], nics: [{ model: 'e1000', forwards: [{ guest: 7000, host: 41234 }] }], iommu: 'intel-iommu' }, 'x86_64', 'pc');
    expect(isPlainMachine(m)).toBe(false);
    expect(describeMachine(m)).toBe('q35; drives: ahci disk.img; nics: e1000 (127.0.0.1:41234→7000/tcp); iommu: intel-iommu');
  });
});
