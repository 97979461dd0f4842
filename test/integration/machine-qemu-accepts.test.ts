import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { qemuArgs } from '../../runners/qemu/qemu-args.js';
import aarch64 from '../../runners/qemu/profiles/aarch64.js';
import x86_64 from '../../runners/qemu/profiles/x86_64.js';
import type { ArchProfile } from '../../runners/qemu/arch-profile.js';
import { resolveMachine, type MachineDef, type ResolvedMachine } from '../../src/core/machine.js';
import { BOOT_REPORT_READY } from '../../src/parsers/boot-report.js';
import { LINUX_EVENT_PATTERNS } from '../../src/parsers/kernel-events.js';
import { tempDir } from './cli.js';

/**
 * Every controller, NIC model, share and IOMMU the machine can have, as qemu-args.ts writes them,
 * handed to the real QEMU (started paused, -S, no guest runs): QEMU builds the machine or says
 * exactly which argument it refuses. Quick (well under a second each), so every combination is here.
 */

const dir = tempDir('machine-accepts');
const img = join(dir, 'disk.img');
writeFileSync(img, Buffer.alloc(1024 * 1024));
const share = join(dir, 'share');
mkdirSync(share);

/** Starts QEMU paused with the generated arguments; resolves with QEMU's complaint, or '' when it built the machine. */
function qemuComplaint(profile: ArchProfile, machine: ResolvedMachine, name: string): Promise<string> {
  const sessionDir = join(dir, name);
  mkdirSync(sessionDir, { recursive: true });
  const req = {
    sessionId: name, dir: sessionDir, arch: profile.arch, boot: { kernel: '', cmdline: '', driveBoot: true }, cpus: 1, memoryMb: 256, accel: 'tcg' as const,
    landmark: BOOT_REPORT_READY, bootTimeoutMs: 1000, eventPatterns: LINUX_EVENT_PATTERNS, machine,
  };
  const args = [...qemuArgs(req, profile, 'tcg', { consoleLog: join(sessionDir, 'console.log'), qmpSocket: join(sessionDir, 'qmp.sock') }, new Map([[22, 45_022]])), '-S'];
  return new Promise((resolve) => {
    const child = spawn(profile.qemuBinary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    // Built and paused after a second: QEMU checks every device at startup, before that.
    const timer = setTimeout(() => child.kill('SIGKILL'), 1500);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code === null ? '' : stderr.trim() || `exited ${code}`);
    });
  });
}

const drives = (ifaces: string[], extra: object = {}) => ifaces.map((i) => ({ file: img, interface: i, ...extra })) as NonNullable<MachineDef['drives']>;

const cases: [string, ArchProfile, MachineDef][] = [
  ['pc, every interface', x86_64, { drives: drives(['ide', 'ide', 'ide', 'ide', 'ahci', 'virtio', 'nvme', 'scsi', 'usb', 'floppy', 'floppy', 'sd', 'sd']) }],
  ['pc, CD-ROMs and read-only disks', x86_64, { drives: [...drives(['ide', 'ahci', 'scsi', 'usb'], { media: 'cdrom' }), ...drives(['virtio', 'scsi', 'nvme', 'usb', 'floppy'], { readOnly: true })] }],
  ['pc, every NIC model with a forward, 9p, virtio-iommu, extra device', x86_64, {
    nics: [{ model: 'virtio-net', forwards: [{ guest: 22 }] }, { model: 'e1000' }, { model: 'e1000e' }, { model: 'rtl8139' }, { model: 'ne2k_pci' }, { model: 'pcnet' }, { model: 'i82559er' }, { model: 'vmxnet3' }],
    shares: [{ path: share, tag: 'host0', readOnly: true }], iommu: 'virtio-iommu', devices: ['pci-testdev'], qemuArgs: ['-rtc', 'base=utc'],
  }],
  ['q35, eight AHCI disks (six built-in ports, then a controller), intel-iommu', x86_64, { type: 'q35', iommu: 'intel-iommu', drives: drives(['ahci', 'ahci', 'ahci', 'ahci', 'ahci', 'ahci', 'ahci', 'ahci', 'nvme', 'scsi', 'usb', 'sd']), nics: [{ model: 'e1000e' }] }],
  ['microvm, virtio-mmio', x86_64, { type: 'microvm', drives: drives(['virtio']), nics: [{ model: 'virtio-net', forwards: [{ guest: 22 }] }], shares: [{ path: share, tag: 't' }] }],
  ['aarch64 virt', aarch64, { drives: drives(['ahci', 'virtio', 'nvme', 'scsi', 'usb', 'sd']), nics: [{ model: 'e1000' }], iommu: 'virtio-iommu', shares: [{ path: share, tag: 't' }] }],
];

describe('QEMU builds every machine tsuite generates', () => {
  cases.forEach(([name, profile, machine], i) => {
    it(name, async () => {
      // A short folder: a unix socket path has a 108-byte limit.
      expect(await qemuComplaint(profile, resolveMachine(machine, profile.arch, profile.machine), `m${i}`)).toBe('');
    });
  });

  it('and would say so: a read-only IDE hard disk, which machineProblems therefore refuses', async () => {
    // Bypasses the validation to show the check above can fail: QEMU's own words come back.
    const m = resolveMachine({ drives: drives(['ide']) }, 'x86_64', 'pc');
    m.drives[0] = { ...m.drives[0]!, readOnly: true, snapshot: false };
    const stderr = await qemuComplaint(x86_64, m, 'ro');
    expect(stderr).toContain('Block node is read-only');
  });
});
