import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { qemuArgs, type QemuPaths } from '../../runners/qemu/qemu-args.js';
import x86_64 from '../../runners/qemu/profiles/x86_64.js';
import type { ProvisionRequest } from '../../src/core/runner.js';
import { BOOT_REPORT_READY } from '../../src/parsers/boot-report.js';
import { LINUX_EVENT_PATTERNS } from '../../src/parsers/kernel-events.js';

const CMDLINE = 'console=ttyS0 panic=-1 loglevel=7 quiet';
const paths: QemuPaths = { consoleLog: '/tmp/run-1/qemu-x86-1/console.log', qmpSocket: '/tmp/tsuite-qemu-abc/qmp.sock' };

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

  it('logs the serial console to the session folder and keeps Ctrl-C away from QEMU', () => {
    const chardev = after(tcg, '-chardev');
    expect(chardev.split(',')).toEqual(expect.arrayContaining(['id=console0', 'signal=off', `logfile=${paths.consoleLog}`]));
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

describe('qemuArgs option escaping', () => {
  // QEMU splits option values on ',' and reads ',,' as a literal comma.
  it('doubles commas in the console log and QMP socket paths', () => {
    const args = qemuArgs(request(), x86_64, 'tcg', { consoleLog: '/tmp/a,b/console.log', qmpSocket: '/tmp/c,d/qmp.sock' });
    expect(after(args, '-chardev')).toContain('logfile=/tmp/a,,b/console.log');
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
