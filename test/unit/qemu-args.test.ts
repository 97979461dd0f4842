import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { forwardedGuestPorts, qemuArgs, sessionUefiVars, type QemuPaths } from '../../runners/qemu/qemu-args.js';
import x86_64 from '../../runners/qemu/profiles/x86_64.js';
import type { ProvisionRequest } from '../../src/core/runner.js';
import { BOOT_REPORT_READY } from '../../src/parsers/boot-report.js';
import { LINUX_EVENT_PATTERNS } from '../../src/parsers/kernel-events.js';

const CMDLINE = 'console=ttyS0 panic=-1 loglevel=7 quiet';
const paths: QemuPaths = { qmpSocket: '/tmp/tsuite-qemu-abc/qmp.sock' };

function request(extra: Partial<ProvisionRequest> = {}): ProvisionRequest {
  return {
    sessionId: 'qemu-x86-1',
    dir: '/tmp/run-1/qemu-x86-1',
    arch: 'x86_64',
    boot: { kernel: '/cache/vmlinuz-6.1.0-56-cloud-amd64', initrd: '/cache/tsuite-initramfs.cpio.gz', cmdline: CMDLINE },
    cpus: 3,
    memoryMb: 768,
    accel: 'auto',
    landmark: BOOT_REPORT_READY,
    bootTimeoutMs: 60_000,
    eventPatterns: LINUX_EVENT_PATTERNS,
    ...extra,
  };
}

/** The value following `flag`, failing if the flag is absent. */
function after(args: string[], flag: string): string {
  const i = args.indexOf(flag);
  expect(i, `${flag} in ${args.join(' ')}`).toBeGreaterThanOrEqual(0);
  return args[i + 1]!;
}
/** Every value following each occurrence of `flag`. */
const allAfter = (args: string[], flag: string) => args.flatMap((a, i) => (a === flag ? [args[i + 1]!] : []));

describe('qemuArgs for x86_64', () => {
  const tcg = qemuArgs(request(), x86_64, 'tcg', paths);

  it('never reboots and starts from no default devices', () => {
    expect(tcg).toContain('-no-reboot');
    expect(tcg).toContain('-nodefaults');
    expect(after(tcg, '-display')).toBe('none');
  });

  it('names the accelerator and the CPU model for it', () => {
    expect(after(tcg, '-accel')).toBe('tcg');
    expect(after(tcg, '-cpu')).toBe(x86_64.cpu.tcg);
    expect(after(tcg, '-cpu')).not.toBe('host');
    expect(after(tcg, '-M')).toBe('pc');
    const kvm = qemuArgs(request(), x86_64, 'kvm', paths);
    expect(after(kvm, '-accel')).toBe('kvm');
    expect(after(kvm, '-cpu')).toBe('host');
  });

  it('sizes the machine from the request', () => {
    expect(after(tcg, '-smp')).toBe('3');
    expect(after(tcg, '-m')).toBe('768');
  });

  it('counts instructions for an instruction-mode benchmark session: icount, one vCPU', () => {
    const counted = qemuArgs(request({ clock: 'instructions' }), x86_64, 'tcg', paths);
    expect(after(counted, '-icount')).toBe('shift=0,sleep=off,align=off');
    expect(after(counted, '-smp')).toBe('1');
    // auto: instructions under TCG, real time under KVM; an ordinary session never counts.
    expect(after(qemuArgs(request({ clock: 'auto' }), x86_64, 'tcg', paths), '-icount')).toBe('shift=0,sleep=off,align=off');
    const kvm = qemuArgs(request({ clock: 'auto' }), x86_64, 'kvm', paths);
    expect(kvm).not.toContain('-icount');
    expect(after(kvm, '-smp')).toBe('3');
    expect(qemuArgs(request({ clock: 'time' }), x86_64, 'tcg', paths)).not.toContain('-icount');
    expect(tcg).not.toContain('-icount');
  });

  it('runs a time-mode benchmark session under TCG in one host thread, and nothing else', () => {
    expect(after(qemuArgs(request({ clock: 'time' }), x86_64, 'tcg', paths), '-accel')).toBe('tcg,thread=single');
    expect(after(qemuArgs(request({ clock: 'time' }), x86_64, 'kvm', paths), '-accel')).toBe('kvm');
    expect(after(qemuArgs(request({ clock: 'instructions' }), x86_64, 'tcg', paths), '-accel')).toBe('tcg');
    expect(after(tcg, '-accel')).toBe('tcg');
  });

  it('puts the serial console on stdio, unlogged by QEMU (tsuite writes the log), and keeps Ctrl-C away from QEMU', () => {
    expect(after(tcg, '-chardev')).toBe('stdio,id=console0,signal=off');
    expect(after(tcg, '-name')).toBe(`guest=${request().dir}`);
    expect(after(tcg, '-serial')).toBe('chardev:console0');
  });

  it('opens QMP on a unix socket without waiting for a client', () => {
    expect(after(tcg, '-qmp')).toBe(`unix:${paths.qmpSocket},server=on,wait=off`);
  });

  it('adds the isa-debug-exit device', () => {
    expect(allAfter(tcg, '-device')).toContain('isa-debug-exit,iobase=0xf4,iosize=0x04');
  });

  it('boots the kernel and initrd with exactly the cmdline as one argument', () => {
    expect(after(tcg, '-kernel')).toBe('/cache/vmlinuz-6.1.0-56-cloud-amd64');
    expect(after(tcg, '-initrd')).toBe('/cache/tsuite-initramfs.cpio.gz');
    expect(after(tcg, '-append')).toBe(CMDLINE);
    expect(allAfter(tcg, '-append')).toHaveLength(1);
    expect(tcg.filter((a) => a.includes('loglevel=7'))).toEqual([CMDLINE]);
  });

  it('passes no -initrd when the boot has none', () => {
    const args = qemuArgs(request({ boot: { kernel: '/k.elf', cmdline: 'console=ttyS0' } }), x86_64, 'tcg', paths);
    expect(args).not.toContain('-initrd');
    expect(after(args, '-kernel')).toBe('/k.elf');
    expect(after(args, '-append')).toBe('console=ttyS0');
  });

  it('has no network without forwarded ports', () => {
    expect(tcg).not.toContain('-netdev');
    expect(allAfter(tcg, '-device').some((d) => d.startsWith('virtio-net'))).toBe(false);
    expect(qemuArgs(request(), x86_64, 'tcg', paths, new Map())).not.toContain('-netdev');
  });

  it('forwards each guest port from its host port on loopback', () => {
    const args = qemuArgs(request(), x86_64, 'tcg', paths, new Map([[2375, 40001], [22, 40002]]));
    const netdev = after(args, '-netdev');
    expect(netdev.startsWith('user,id=net0')).toBe(true);
    expect(netdev).toContain(',hostfwd=tcp:127.0.0.1:40001-:2375');
    expect(netdev).toContain(',hostfwd=tcp:127.0.0.1:40002-:22');
    expect(allAfter(args, '-netdev')).toHaveLength(1);
    expect(allAfter(args, '-device')).toContain('virtio-net-pci,netdev=net0');
  });
});

describe('qemuArgs with a root filesystem', () => {
  const rootfs = '/cache/node-rootfs/6.1.0-56-cloud-amd64-0123/rootfs.ext4';
  const cmdline = `${CMDLINE} root=/dev/nvme0n1 rw rootwait init=/sbin/tsuite-node-init`;
  const args = qemuArgs(request({ boot: { kernel: '/cache/vmlinuz', cmdline, rootfs } }), x86_64, 'tcg', paths);

  it('attaches the image as an NVMe disk under snapshot=on, so the cached image is never written', () => {
    expect(allAfter(args, '-drive')).toEqual([`file=${rootfs},format=raw,if=none,id=root0,snapshot=on`]);
    expect(allAfter(args, '-device')).toContain('nvme,serial=tsuite-root,drive=root0');
  });

  it('boots the kernel directly with no initrd, the root named on the command line', () => {
    expect(after(args, '-kernel')).toBe('/cache/vmlinuz');
    expect(args).not.toContain('-initrd');
    expect(after(args, '-append')).toBe(cmdline);
  });

  it('adds no disk when the boot has no rootfs', () => {
    const plain = qemuArgs(request(), x86_64, 'tcg', paths);
    expect(plain).not.toContain('-drive');
    expect(allAfter(plain, '-device').some((d) => d.startsWith('nvme'))).toBe(false);
  });

  it('doubles commas in the rootfs path', () => {
    const a = qemuArgs(request({ boot: { kernel: '/k', cmdline: '', rootfs: '/my,dir/root.ext4' } }), x86_64, 'tcg', paths);
    expect(after(a, '-drive')).toBe('file=/my,,dir/root.ext4,format=raw,if=none,id=root0,snapshot=on');
  });
});

describe('forwardedGuestPorts', () => {
  const docker = { guestPort: 2375, readyTimeoutMs: 1000, publishPorts: [18080, 18081] };

  it('forwards the engine API and the publish ports when the guest serves docker', () => {
    expect(forwardedGuestPorts({ docker })).toEqual([2375, 18080, 18081]);
  });

  it('keeps the ports asked for, each once', () => {
    expect(forwardedGuestPorts({ forwardPorts: [22, 2375], docker })).toEqual([22, 2375, 18080, 18081]);
    expect(forwardedGuestPorts({ forwardPorts: [22] })).toEqual([22]);
    expect(forwardedGuestPorts({})).toEqual([]);
  });

  it('gives each forwarded port its own hostfwd on loopback', () => {
    const ports = new Map(forwardedGuestPorts({ docker }).map((g, i) => [g, 41000 + i] as const));
    const netdev = after(qemuArgs(request({ docker }), x86_64, 'tcg', paths, ports), '-netdev');
    expect(netdev).toBe('user,id=net0,hostfwd=tcp:127.0.0.1:41000-:2375,hostfwd=tcp:127.0.0.1:41001-:18080,hostfwd=tcp:127.0.0.1:41002-:18081');
  });
});

describe('qemuArgs option escaping', () => {
  // QEMU splits option values on ',' and reads ',,' as a literal comma.
  it('doubles commas in the session folder and QMP socket paths', () => {
    const args = qemuArgs(request({ dir: '/tmp/a,b/s' }), x86_64, 'tcg', { qmpSocket: '/tmp/c,d/qmp.sock' });
    expect(after(args, '-name')).toBe('guest=/tmp/a,,b/s');
    expect(after(args, '-qmp')).toBe('unix:/tmp/c,,d/qmp.sock,server=on,wait=off');
  });
});

describe('qemuArgs firmware', () => {
  it('passes -bios only when the profile firmware exists', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsuite-qemu-args-'));
    try {
      const rom = join(dir, 'qboot.rom');
      writeFileSync(rom, '');
      expect(after(qemuArgs(request(), { ...x86_64, firmware: rom }, 'tcg', paths), '-bios')).toBe(rom);
      expect(qemuArgs(request(), { ...x86_64, firmware: join(dir, 'missing.rom') }, 'tcg', paths)).not.toContain('-bios');
      expect(qemuArgs(request(), { ...x86_64, firmware: undefined }, 'tcg', paths)).not.toContain('-bios');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('adds no exit device for a profile without one', () => {
    const args = qemuArgs(request(), { ...x86_64, exitDevice: undefined }, 'tcg', paths);
    expect(allAfter(args, '-device').some((d) => d.startsWith('isa-debug-exit'))).toBe(false);
  });
});

describe('qemuArgs for an image', () => {
  const OVMF = x86_64.uefi!;
  const image = (boot: Partial<ProvisionRequest['boot']>) => request({ boot: { kernel: '', cmdline: '', ...boot } });
  const pflash = (args: string[]) => allAfter(args, '-drive').filter((d) => d.startsWith('if=pflash'));
  const iso = qemuArgs(image({ image: '/imgs/tsuite.iso', imageKind: 'iso', firmware: 'uefi' }), x86_64, 'tcg', paths);
  const isoBios = qemuArgs(image({ image: '/imgs/tsuite.iso', imageKind: 'iso', firmware: 'bios' }), x86_64, 'tcg', paths);
  const raw = qemuArgs(image({ image: '/imgs/disk.raw', imageKind: 'raw', firmware: 'uefi' }), x86_64, 'tcg', paths);

  it('boots no -kernel, -initrd or -append, and no qboot: the image brings its own bootloader', () => {
    for (const args of [iso, isoBios, raw]) {
      for (const flag of ['-kernel', '-initrd', '-append', '-bios']) expect(args).not.toContain(flag);
    }
  });

  it('attaches an ISO as a read-only CD-ROM on virtio-scsi', () => {
    for (const args of [iso, isoBios]) {
      expect(allAfter(args, '-drive')).toContain('file=/imgs/tsuite.iso,format=raw,if=none,id=cd0,media=cdrom,readonly=on');
      expect(allAfter(args, '-device')).toEqual(expect.arrayContaining(['virtio-scsi-pci,id=scsi0', 'scsi-cd,drive=cd0,bus=scsi0.0']));
    }
  });

  it('boots UEFI from read-only OVMF code plus a variable store that is never the system file', () => {
    expect(pflash(iso)).toEqual([
      `if=pflash,format=raw,readonly=on,file=${OVMF.code}`,
      `if=pflash,format=raw,file=${OVMF.vars},snapshot=on`,
    ]);
    expect(pflash(raw)).toEqual(pflash(iso));
  });

  it("uses the machine's own writable copy of the variable store when it has one", () => {
    const args = qemuArgs(image({ image: '/imgs/disk.raw', imageKind: 'raw', firmware: 'uefi' }), x86_64, 'tcg', { ...paths, uefiVars: '/run/s1/uefi-vars.fd' });
    expect(pflash(args)).toEqual([`if=pflash,format=raw,readonly=on,file=${OVMF.code}`, 'if=pflash,format=raw,file=/run/s1/uefi-vars.fd']);
  });

  it("boots BIOS with QEMU's own SeaBIOS: no pflash, no -bios", () => {
    expect(pflash(isoBios)).toEqual([]);
    expect(isoBios).not.toContain('-bios');
  });

  it("boots a raw disk on virtio-blk under snapshot=on, so the user's file is never written", () => {
    expect(allAfter(raw, '-drive')).toContain('file=/imgs/disk.raw,format=raw,if=none,id=disk0,snapshot=on');
    expect(allAfter(raw, '-device')).toContain('virtio-blk-pci,drive=disk0');
    expect(allAfter(raw, '-device')).not.toContain('virtio-scsi-pci,id=scsi0');
  });

  it('defaults from the file name when kind and firmware are not resolved: ISO under SeaBIOS, disk under UEFI', () => {
    const bareIso = qemuArgs(image({ image: '/imgs/X.ISO' }), x86_64, 'tcg', paths);
    expect(pflash(bareIso)).toEqual([]);
    expect(allAfter(bareIso, '-drive')[0]).toContain('media=cdrom');
    const bareDisk = qemuArgs(image({ image: '/imgs/disk.img' }), x86_64, 'tcg', paths);
    expect(pflash(bareDisk)).toHaveLength(2);
    expect(allAfter(bareDisk, '-drive')).toContain('file=/imgs/disk.img,format=raw,if=none,id=disk0,snapshot=on');
  });

  it('doubles commas in the image and firmware paths', () => {
    const args = qemuArgs(image({ image: '/my,imgs/a,b.raw', imageKind: 'raw', firmware: 'uefi' }),
      { ...x86_64, uefi: { code: '/fw,1/CODE.fd', vars: '/fw,1/VARS.fd' } }, 'tcg', { ...paths, uefiVars: '/s,1/vars.fd' });
    expect(allAfter(args, '-drive')).toEqual([
      'if=pflash,format=raw,readonly=on,file=/fw,,1/CODE.fd',
      'if=pflash,format=raw,file=/s,,1/vars.fd',
      'file=/my,,imgs/a,,b.raw,format=raw,if=none,id=disk0,snapshot=on',
    ]);
  });

  it('refuses UEFI on a profile that has no UEFI firmware', () => {
    expect(() => qemuArgs(image({ image: '/imgs/disk.raw', imageKind: 'raw', firmware: 'uefi' }), { ...x86_64, uefi: undefined }, 'tcg', paths))
      .toThrow(/no UEFI firmware/);
  });
});

describe('sessionUefiVars', () => {
  it('copies the template into the session folder as a writable file, leaving the template alone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsuite-uefi-vars-'));
    try {
      const template = join(dir, 'VARS.fd');
      writeFileSync(template, 'template-bytes');
      chmodSync(template, 0o444);
      const profile = { ...x86_64, uefi: { code: join(dir, 'CODE.fd'), vars: template } };
      const req = request({ dir, boot: { kernel: '', cmdline: '', image: '/imgs/disk.raw', imageKind: 'raw', firmware: 'uefi' } });
      const vars = await sessionUefiVars(req, profile);
      expect(vars).toBe(join(dir, 'uefi-vars.fd'));
      expect(readFileSync(vars!, 'utf8')).toBe('template-bytes');
      expect(statSync(vars!).mode & 0o200).toBe(0o200);
      writeFileSync(vars!, 'written by the guest');
      expect(readFileSync(template, 'utf8')).toBe('template-bytes');
      expect(await sessionUefiVars({ ...req, boot: { ...req.boot, firmware: 'bios' } }, profile)).toBeUndefined();
      expect(await sessionUefiVars(request({ dir }), profile)).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
