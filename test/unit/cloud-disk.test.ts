import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cloudDisk } from '../../kernel/images/cloud-disk.js';
import { SGDISK } from '../../kernel/images/requirements.js';
import type { ResolvedBoot } from '../../kernel/resolve-boot.js';
import { UsageError } from '../../src/core/errors.js';
import { createProgress } from '../../src/core/progress.js';
import { findTarget, type TargetDef } from '../../src/core/target.js';

/** Which raw disk a cloud target packages: the user's own GPT disk as it is, and what is refused. */

const quiet = createProgress(process.stderr, true);
const MiB = 1024 * 1024;
let dir: string;

/** How resolveBoot describes an image boot. */
const imageBoot = (path: string): ResolvedBoot => ({
  kernel: { path, source: 'image', cmdline: '' },
  boot: { kernel: '', cmdline: '', image: path, imageKind: 'raw', firmware: 'uefi' },
});
const withImage = (image: string, extra: Partial<TargetDef> = {}): TargetDef => ({ ...findTarget('qemu-x86'), initrd: undefined, image, ...extra });

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsuite-cloud-disk-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('cloudDisk with the target image', () => {
  it('takes a raw GPT disk as it is, with the command line the target states, and never writes it', async () => {
    const gpt = join(dir, 'gpt.raw');
    execFileSync('truncate', ['-s', '8M', gpt]);
    execFileSync(SGDISK, ['--new=1:2048:0', '--typecode=1:ef00', gpt]);
    const before = createHash('sha256').update(readFileSync(gpt)).digest('hex');
    const disk = await cloudDisk(withImage(gpt, { imageCmdline: 'root=/dev/sda2 console=ttyS0' }), imageBoot(gpt), quiet);
    expect(disk).toEqual({ path: gpt, cmdline: 'root=/dev/sda2 console=ttyS0', source: 'user' });
    expect(createHash('sha256').update(readFileSync(gpt)).digest('hex')).toBe(before);
    expect(statSync(gpt).size).toBe(8 * MiB);
  });

  it('refuses an MBR disk and an ISO, naming the fix', async () => {
    const mbr = join(dir, 'mbr.raw');
    const sector = Buffer.alloc(MiB);
    sector[510] = 0x55;
    sector[511] = 0xaa;
    writeFileSync(mbr, sector);
    const mbrErr = await cloudDisk(withImage(mbr), imageBoot(mbr), quiet).catch((e: unknown) => e);
    expect(mbrErr).toBeInstanceOf(UsageError);
    expect((mbrErr as UsageError).message).toMatch(/has no GPT.*cloud instances boot UEFI/);
    expect((mbrErr as UsageError).fix).toContain('sgdisk --mbrtogpt');

    const iso = join(dir, 'x.iso');
    const bytes = Buffer.alloc(0x8800);
    bytes.write('\x01CD001', 0x8000, 'latin1');
    writeFileSync(iso, bytes);
    const isoErr = await cloudDisk(withImage(iso), imageBoot(iso), quiet).catch((e: unknown) => e);
    expect(isoErr).toBeInstanceOf(UsageError);
    expect((isoErr as UsageError).message).toMatch(/is an ISO; cloud providers import disks/);
    expect((isoErr as UsageError).fix).toMatch(/raw GPT disk with an EFI system partition/);
  });

  it('refuses a qcow2 image with the conversion to run', async () => {
    const qcow2 = join(dir, 'disk.qcow2');
    writeFileSync(qcow2, Buffer.concat([Buffer.from('QFI\xfb', 'latin1'), Buffer.alloc(4096)]));
    await expect(cloudDisk(withImage(qcow2), imageBoot(qcow2), quiet)).rejects.toThrow(/qcow2 image/);
  });
});

describe('cloudDisk around the target kernel', () => {
  const kernelBoot = (boot: Partial<ResolvedBoot['boot']>): ResolvedBoot => ({
    kernel: { path: '/k', source: 'file', cmdline: '' },
    boot: { kernel: '/k', cmdline: '', ...boot },
  });

  it('refuses what one disk with a kernel and an initramfs cannot hold', async () => {
    const def = findTarget('qemu-x86');
    await expect(cloudDisk(def, kernelBoot({ rootfs: '/root.ext4' }), quiet)).rejects.toThrow(/holds a kernel and an initramfs only/);
    await expect(cloudDisk(def, kernelBoot({ kernel: '', driveBoot: true }), quiet)).rejects.toThrow(/boots from its machine drives/);
    await expect(cloudDisk(findTarget('qemu-arm64'), kernelBoot({}), quiet)).rejects.toThrow(/x86_64 only.*aarch64/);
  });
});
