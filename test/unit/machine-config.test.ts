import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Command } from 'commander';
import { parseDriveSpec, parseNicSpec, parseShareSpec } from '../../src/cli/machine-flags.js';
import { addTargetOptions, resolveTarget, type TargetFlags } from '../../src/cli/target-options.js';
import type { ResolvedConfig } from '../../src/config/define-config.js';
import { loadConfig, validateConfig } from '../../src/config/load-config.js';
import { UsageError } from '../../src/core/errors.js';
import type { TargetDef } from '../../src/core/target.js';

/** The machine in config files and flags: validation with paths and fixes, paths resolved, flags merged. */

const known = { knownSuites: ['boot'], knownReporters: ['console'] };
const problems = (targets: Record<string, unknown>) => validateConfig({ targets }, known);

const config = (targets: Record<string, Partial<TargetDef>> = {}): ResolvedConfig => ({
  targets, suites: ['boot'], reporters: ['console'], outputDir: '/tmp/x', defaultTarget: 'qemu-x86', testTimeoutMs: 60000,
} as ResolvedConfig);

const usageError = (fn: () => unknown): UsageError => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return err as UsageError;
  }
  throw new Error('expected a UsageError');
};

describe('machine in the config', () => {
  it('reports every problem at once, each with its field path and a fix', () => {
    const found = problems({
      'qemu-x86': { machine: { type: 'q35', drives: [{ file: 'a.img', interface: 'ide' }, { file: 'b.img', interface: 'sata' }], nics: [{ model: 'e1000', forwards: [{ guest: 0 }] }], iommu: 'amd-iommu', qemuArgs: ['-monitor', 'stdio'] } },
      'qemu-arm64': { machine: { type: 'q35' } },
      mine: { runner: 'qemu', arch: 'x86_64', machine: { drives: [{ file: 'x.img', interface: 'virtio', bogus: 1 }] } },
      other: { runner: 'qemu', arch: 'x86_64', kernel: 'k', machine: { type: 'pc', iommu: 'intel-iommu' } },
    });
    const byPath = Object.fromEntries(found.map((p) => [p.path, p]));
    expect(byPath['targets.qemu-x86.machine.drives[1].interface']?.fix).toContain("'ahci'");
    expect(byPath['targets.qemu-x86.machine.nics[0].forwards[0].guest']?.message).toContain('port number');
    expect(byPath['targets.qemu-x86.machine.iommu']?.message).toContain("'intel-iommu', 'virtio-iommu'");
    expect(byPath['targets.mine.machine.drives[0].bogus']?.fix).toContain('valid keys here: file, interface, format, media, readOnly, writable, bootIndex');
    // The arch checks run on machines the schema accepts: the built-in target's arch is used.
    expect(byPath['targets.qemu-arm64.machine.type']?.fix).toContain("'virt'");
    expect(byPath['targets.other.machine.iommu']?.message).toContain('needs the q35 machine');
    // qemu-x86's machine has schema errors, so its arch checks (ide on q35, -monitor) wait until those are fixed.
    expect(found).toHaveLength(6);
    expect(found.every((p) => p.fix)).toBe(true);
  });

  it('refuses legacy IDE on q35 and a colliding qemuArgs entry, with the fix', () => {
    const found = problems({ 'qemu-x86': { machine: { type: 'q35', drives: [{ file: 'a.img', interface: 'ide' }], qemuArgs: ['-serial', 'stdio'] } } });
    expect(found.map((p) => p.path)).toEqual(['targets.qemu-x86.machine.drives[0].interface', 'targets.qemu-x86.machine.qemuArgs[0]']);
    expect(found[1]!.message).toContain('-serial collides with what tsuite owns');
  });

  it('lets a target boot from its drives without a kernel', () => {
    expect(problems({ disks: { runner: 'qemu', arch: 'x86_64', machine: { drives: [{ file: 'boot.img', interface: 'ide' }] } } })).toEqual([]);
    expect(problems({ nothing: { runner: 'qemu', arch: 'x86_64', machine: { nics: [{ model: 'e1000' }] } } }).map((p) => p.message).join())
      .toContain('missing: kernel (or image, or kernelSrc, or machine.drives to boot from)');
  });

  const dirs: string[] = [];
  afterEach(async () => {
    await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  });

  it("resolves drive files and share folders against the config file's folder", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tsuite-machine-config-'));
    dirs.push(dir);
    await writeFile(join(dir, 'tsuite.config.ts'), `export default { targets: { disks: { runner: 'qemu', arch: 'x86_64', machine: {
      drives: [{ file: 'images/boot.img', interface: 'ide' }, { file: '/abs/fs.img', interface: 'ide' }], shares: [{ path: 'share', tag: 'host0' }] } } } };\n`);
    const loaded = await loadConfig({ cwd: '/', file: join(dir, 'tsuite.config.ts'), ...known });
    expect(loaded.targets.disks?.machine?.drives?.map((d) => d.file)).toEqual([join(dir, 'images/boot.img'), '/abs/fs.img']);
    expect(loaded.targets.disks?.machine?.shares?.[0]?.path).toBe(join(dir, 'share'));
  });
});

describe('machine flags', () => {
  it('parses --drive, with relative files against the working directory', () => {
    expect(parseDriveSpec('file=disk.img,if=ide,format=qcow2,media=cdrom,readonly,writable=off,boot=1', '/w')).toEqual({
      file: '/w/disk.img', interface: 'ide', format: 'qcow2', media: 'cdrom', readOnly: true, writable: false, bootIndex: 1,
    });
    expect(parseDriveSpec('file=/d.img,if=ahci,writable', '/w')).toEqual({ file: '/d.img', interface: 'ahci', writable: true });
  });

  it('names the flag and the valid values on a wrong --drive', () => {
    const e = usageError(() => parseDriveSpec('file=d.img,if=sata', '/w'));
    expect(e.message).toBe("--drive: unknown interface (if=) 'sata'");
    expect(e.fix).toBe('use one of: ide, ahci, virtio, nvme, scsi, usb, floppy, sd');
    expect(usageError(() => parseDriveSpec('d.img', '/w')).message).toContain('needs file= and if=');
    expect(usageError(() => parseDriveSpec('file=d.img,if=ide,format=iso', '/w')).fix).toContain('raw, qcow2, vmdk, vdi, vpc, vhdx');
    expect(usageError(() => parseDriveSpec('file=d.img,if=ide,cache=none', '/w')).message).toContain('unknown field(s) cache');
  });

  it('parses --nic with forwards, and names the valid models on a wrong one', () => {
    expect(parseNicSpec('e1000,fwd=8080:80,fwd=22,fwd=udp:5353:53')).toEqual({ model: 'e1000', forwards: [{ guest: 80, host: 8080 }, { guest: 22 }, { guest: 53, host: 5353, protocol: 'udp' }] });
    expect(parseNicSpec('none')).toEqual({ model: 'none' });
    expect(usageError(() => parseNicSpec('e1001')).fix).toContain('virtio-net, e1000, e1000e, rtl8139');
    expect(usageError(() => parseNicSpec('e1000,fwd=99999')).message).toContain("'fwd=99999' is not a port forward");
  });

  it('parses --share folder=tag[,readonly]', () => {
    expect(parseShareSpec('./a=b=host0,readonly', '/w')).toEqual({ path: '/w/a=b', tag: 'host0', readOnly: true });
    expect(usageError(() => parseShareSpec('./share', '/w')).message).toContain('is not <folder>=<tag>');
  });

  it('merges flags over the config: --machine and --iommu override, drives and devices add, --nic replaces', () => {
    const cfg = config({ 'qemu-x86': { machine: { drives: [{ file: '/a.img', interface: 'ahci' }], nics: [{ model: 'rtl8139' }], devices: ['pci-testdev'] } } });
    const t = resolveTarget(cfg, { machine: 'q35', iommu: 'intel-iommu', drive: ['file=/b.img,if=nvme'], nic: ['e1000,fwd=22'], device: ['edu'], qemuArg: ['-rtc', 'base=utc'] });
    expect(t.def.machine).toEqual({
      type: 'q35', iommu: 'intel-iommu', drives: [{ file: '/a.img', interface: 'ahci' }, { file: '/b.img', interface: 'nvme' }],
      nics: [{ model: 'e1000', forwards: [{ guest: 22 }] }], devices: ['pci-testdev', 'edu'], qemuArgs: ['-rtc', 'base=utc'],
    });
    expect(resolveTarget(cfg, {}).def.machine?.nics).toEqual([{ model: 'rtl8139' }]);
  });

  it('validates the merged machine: an IDE disk from the config on --machine q35 is refused with the fix', () => {
    const cfg = config({ 'qemu-x86': { machine: { drives: [{ file: '/a.img', interface: 'ide' }] } } });
    const e = usageError(() => resolveTarget(cfg, { machine: 'q35' }));
    expect(e.message).toContain("target 'qemu-x86': machine.drives[0].interface: q35's disk controller is AHCI");
    expect(e.fix).toContain("'ahci'");
    expect(usageError(() => resolveTarget(config(), { machine: 'virt' })).fix).toContain("'pc', 'q35', 'microvm'");
    expect(usageError(() => resolveTarget(config(), { iommu: 'amd' })).message).toBe("--iommu: unknown IOMMU 'amd'");
    expect(usageError(() => resolveTarget(config(), { machine: 'pc', iommu: 'intel-iommu' })).message).toContain('intel-iommu needs the q35 machine');
    // Left to tsuite, the machine type follows the IOMMU: q35.
    expect(resolveTarget(config(), { iommu: 'intel-iommu' }).def.machine?.iommu).toBe('intel-iommu');
    expect(usageError(() => resolveTarget(config(), { qemuArg: ['-qmp', 'stdio'] })).message).toContain('machine.qemuArgs[0]: -qmp collides');
  });

  it('refuses machine flags on the docker target, which boots nothing', () => {
    expect(usageError(() => resolveTarget(config(), { target: 'docker', drive: ['file=/a,if=ide'], nic: ['e1000'] })).message).toContain('--drive, --nic cannot apply');
  });

  it('takes repeated flags, and a --qemu-arg value that starts with a dash', () => {
    const cmd = addTargetOptions(new Command().exitOverride());
    cmd.parse(['--drive', 'file=/a,if=ide', '--drive', 'file=/b,if=ide', '--qemu-arg', '-rtc', '--qemu-arg=base=utc', '--nic', 'e1000'], { from: 'user' });
    expect(cmd.opts()).toMatchObject({ drive: ['file=/a,if=ide', 'file=/b,if=ide'], qemuArg: ['-rtc', 'base=utc'], nic: ['e1000'] });
  });
});
