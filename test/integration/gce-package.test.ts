import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE_LANDMARK, FIXTURE_TESTS } from '../../kernel/fixture/fixture-protocol.js';
import { cloudDisk, type CloudDisk } from '../../kernel/images/cloud-disk.js';
import { packageForGce, unpackGcePackage, type CloudPackage } from '../../kernel/images/gce-package.js';
import { SGDISK } from '../../kernel/images/requirements.js';
import { resolveBoot } from '../../kernel/resolve-boot.js';
import { profileFor } from '../../runners/qemu/profiles/index.js';
import { createProgress } from '../../src/core/progress.js';
import type { RunResult } from '../../src/core/result.js';
import { findTarget, type TargetDef } from '../../src/core/target.js';
import { tempDir, tsuite } from './cli.js';

/**
 * What a GCE cloud run uploads, proved locally first: the disk tsuite builds for a target, packaged
 * in GCE's import format, unpacked again from the very package bytes, and booted under OVMF through
 * the CLI as a cloud instance boots it (UEFI, one GPT disk). Once around the reference kernel and
 * the tsuite initramfs (the boot suite), once around the fixture kernel through GRUB's multiboot
 * (its KTAP tests).
 */

const GiB = 1024 ** 3;
const quiet = createProgress(process.stderr, true);
const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const results = (dir: string) => JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as RunResult;

interface Packaged {
  disk: CloudDisk;
  pkg: CloudPackage;
  /** disk.raw, unpacked from pkg into a fresh folder. */
  raw: string;
}

async function packaged(def: TargetDef): Promise<Packaged> {
  const disk = await cloudDisk(def, await resolveBoot(def, profileFor(def.arch), quiet), quiet);
  const pkg = await packageForGce(disk.path, quiet);
  expect(sha256(pkg.path)).toBe(pkg.sha256);
  const raw = await unpackGcePackage(pkg.path, tempDir('gce-unpacked'));
  return { disk, pkg, raw };
}

let reference: Packaged;
let fixture: Packaged;

afterAll(() => {
  for (const p of [reference, fixture]) if (p) rmSync(dirname(p.raw), { recursive: true, force: true });
});

beforeAll(async () => {
  reference = await packaged({ ...findTarget('qemu-x86'), append: 'tsuite.cloud=gce' });
  fixture = await packaged({ ...findTarget('qemu-x86'), kernel: 'fixture', initrd: undefined, append: 'ok' });
}, 300_000);

describe('GCE packages of the disks tsuite builds', () => {
  it('hold disks built around the target kernel, each stating the command line GRUB passes', () => {
    expect(reference.disk).toMatchObject({ source: 'built', cmdline: 'BOOT_IMAGE=/EFI/tsuite/vmlinuz console=ttyS0 panic=-1 tsuite.cloud=gce' });
    // GRUB's multiboot passes the arguments alone: the fixture kernel is not Linux.
    expect(fixture.disk).toMatchObject({ source: 'built', cmdline: 'ok' });
  });

  it('unpack to whole-GiB sparse disks with a clean GPT, the built disk grown and otherwise unchanged', () => {
    for (const { disk, pkg, raw } of [reference, fixture]) {
      const { size, blocks } = statSync(raw);
      expect(size).toBe(pkg.diskBytes);
      expect(size % GiB).toBe(0);
      expect(size).toBeGreaterThanOrEqual(statSync(disk.path).size);
      expect(blocks * 512).toBeLessThan(size / 2);
      expect(execFileSync(SGDISK, ['--verify', raw], { encoding: 'utf8' })).toContain('No problems found');
      expect(pkg.bytes).toBe(statSync(pkg.path).size);
    }
  });
});

describe('the unpacked disk.raw boots under OVMF through `tsuite run --image`', () => {
  it('the reference kernel with the tsuite initramfs passes the boot suite', async () => {
    const out = tempDir('gce-reference');
    const run = await tsuite('run', '--target', 'qemu-x86', '--suite', 'boot', '--image', reference.raw, '--firmware', 'uefi',
      '--image-cmdline', reference.disk.cmdline, '--boot-timeout', '120000', '--output-dir', out);
    const r = results(out);
    expect(r.tests.filter((t) => t.status !== 'passed').map((t) => t.id), run.stdout + run.stderr).toEqual([]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(r.tests.length).toBeGreaterThanOrEqual(8);
    const log = readFileSync(join(out, 'qemu-x86-1', 'console.log'), 'utf8');
    expect(log).toMatch(/BdsDxe: starting Boot\d+/);
    expect(log).toContain(`tsuite-boot: cmdline=${reference.disk.cmdline}`);
  }, 240_000);

  it('the fixture kernel, loaded by GRUB x86_64-efi multiboot, passes its KTAP tests and exits through the exit device', async () => {
    const out = tempDir('gce-fixture');
    const run = await tsuite('run', '--target', 'qemu-x86', '--suite', 'kernel', '--image', fixture.raw, '--firmware', 'uefi',
      '--landmark', FIXTURE_LANDMARK, '--ktap', '--exit-success', '0', '--boot-timeout', '120000', '--output-dir', out);
    const r = results(out);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const byId = new Map(r.tests.map((t) => [t.id, t.status]));
    expect(FIXTURE_TESTS.map((n) => byId.get(`kernel/fixture/${n}`))).toEqual(FIXTURE_TESTS.map(() => 'passed'));
    expect(byId.get('kernel/exit-status')).toBe('passed');
    const log = readFileSync(join(out, 'qemu-x86-1', 'console.log'), 'utf8');
    expect(log).toMatch(/BdsDxe: starting Boot\d+/);
    expect(log).toContain('tsuite-fixture: cmdline: ok');
  }, 240_000);
});
