import { createHash } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildDisk } from '../../kernel/images/build-disk.js';
import { buildIso } from '../../kernel/images/build-iso.js';
import { grubArgs } from '../../kernel/images/grub-config.js';
import type { BuiltImage } from '../../kernel/images/image-cache.js';
import { detectImageKind } from '../../kernel/images/image-kind.js';
import { resolveBoot } from '../../kernel/resolve-boot.js';
import { profileFor } from '../../runners/qemu/profiles/index.js';
import { createProgress } from '../../src/core/progress.js';
import type { RunResult } from '../../src/core/result.js';
import { UsageError } from '../../src/core/errors.js';
import { findTarget } from '../../src/core/target.js';
import { tempDir, tsuite } from './cli.js';

/**
 * The reference kernel and the tsuite initramfs packed into the images kernel/images/ builds, then
 * booted through the real CLI by their own bootloader: an ISO under OVMF and under SeaBIOS, a raw
 * GPT disk under OVMF. Each image states the command line GRUB passes, so boot/cmdline checks it.
 */

const quiet = createProgress(process.stderr, true);
const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const results = (dir: string) => JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as RunResult;

let iso: BuiltImage;
let disk: BuiltImage;

beforeAll(async () => {
  const { boot } = await resolveBoot(findTarget('qemu-x86'), profileFor('x86_64'), quiet);
  const input = { kernel: boot.kernel, initrd: boot.initrd, append: 'tsuite.image=1' };
  iso = await buildIso(input, quiet);
  disk = await buildDisk(input, quiet);
}, 120_000);

/** Boots `image` under `firmware` through the CLI and checks the whole boot suite's outcome. */
async function bootImage(image: BuiltImage, firmware: 'bios' | 'uefi') {
  const out = tempDir(`image-${image.kind}-${firmware}`);
  const before = sha256(image.path);
  const run = await tsuite('run', '--target', 'qemu-x86', '--suite', 'boot', '--image', image.path, '--firmware', firmware,
    '--image-cmdline', image.cmdline, '--boot-timeout', '120000', '--output-dir', out);
  const r = results(out);
  const notPassed = r.tests.filter((t) => t.status !== 'passed').map((t) => t.id);
  // boot/memory knows the firmware (OVMF keeps 6.5 MiB of RAM): every boot test passes under each.
  expect(notPassed, run.stdout + run.stderr).toEqual([]);
  expect(run.code, run.stdout + run.stderr).toBe(0);
  expect(r.tests.length).toBeGreaterThanOrEqual(8);
  expect(r.run.kernel).toMatchObject({ path: image.path, source: 'image', cmdline: image.cmdline });
  expect(r.sessions[0]?.exit?.kind).toBe('clean');

  const log = readFileSync(join(out, 'qemu-x86-1', 'console.log'), 'utf8');
  expect(log).toContain(`tsuite-boot: cmdline=${image.cmdline}`);
  // OVMF's boot manager names the device it boots; SeaBIOS prints nothing to the serial port.
  if (firmware === 'uefi') expect(log).toMatch(/BdsDxe: starting Boot\d+/);
  else expect(log).not.toContain('BdsDxe');
  // The guest never writes the user's image.
  expect(sha256(image.path)).toBe(before);
}

describe('image builders', () => {
  it('state the command line GRUB passes, BOOT_IMAGE first, then the console settings and the extra', () => {
    expect(iso.cmdline).toBe('BOOT_IMAGE=/boot/vmlinuz console=ttyS0 panic=-1 tsuite.image=1');
    expect(disk.cmdline).toBe('BOOT_IMAGE=/EFI/tsuite/vmlinuz console=ttyS0 panic=-1 tsuite.image=1');
  });

  it('reuse a cached image for the same inputs and build a new one for a different command line', async () => {
    const { boot } = await resolveBoot(findTarget('qemu-x86'), profileFor('x86_64'), quiet);
    const again = await buildDisk({ kernel: boot.kernel, initrd: boot.initrd, append: 'tsuite.image=1' }, quiet);
    expect(again.path).toBe(disk.path);
    expect(statSync(again.path).mtimeMs).toBe(statSync(disk.path).mtimeMs);
    const other = await buildIso({ kernel: boot.kernel, initrd: boot.initrd, append: 'tsuite.image=2' }, quiet);
    expect(other.path).not.toBe(iso.path);
  });

  it('make images whose kind is told by content: the hybrid ISO is an ISO, the GPT disk raw', async () => {
    expect(await detectImageKind(iso.path)).toBe('iso');
    expect(await detectImageKind(disk.path)).toBe('raw');
    const qcow2 = join(tempDir('qcow2'), 'disk.img');
    writeFileSync(qcow2, Buffer.concat([Buffer.from('QFI\xfb', 'latin1'), Buffer.alloc(65_536)]));
    await expect(detectImageKind(qcow2)).rejects.toThrow(/qcow2 image/);
  });

  it('refuse kernel arguments that GRUB would rewrite', () => {
    expect(grubArgs(' console=ttyS0  a=$x;y ')).toEqual(['console=ttyS0', 'a=$x;y']);
    expect(() => grubArgs('foo="a b"')).toThrow(UsageError);
    expect(() => grubArgs('path=C:\\x')).toThrow(/quote or backslash/);
  });
});

describe('tsuite run --image', () => {
  it('boots the ISO under UEFI (OVMF)', () => bootImage(iso, 'uefi'), 180_000);
  it('boots the ISO under BIOS (SeaBIOS)', () => bootImage(iso, 'bios'), 180_000);
  it('boots the raw GPT disk under UEFI (OVMF)', () => bootImage(disk, 'uefi'), 180_000);

  it('refuses --image with --append, naming the conflict', async () => {
    const run = await tsuite('run', '--target', 'qemu-x86', '--image', iso.path, '--append', 'quiet');
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--image cannot be combined with --append');
  });
});
