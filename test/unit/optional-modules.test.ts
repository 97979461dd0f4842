import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { buildInitramfs } from '../../kernel/initramfs/build-initramfs.js';
import { createProgress } from '../../src/core/progress.js';
import { SETTLED_MS } from '../../src/core/stat-memo.js';
import { loadOptionalModulesCommand, resolveOptionalModules, VFIO_MODULES } from '../../kernel/initramfs/optional-modules.js';

const root = mkdtempSync(join(tmpdir(), 'tsuite-optional-modules-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A fake module: only its `.modinfo` depends= string matters here. */
const ko = (name: string, depends: string) => {
  const path = join(root, `${name}.ko`);
  writeFileSync(path, Buffer.from(`\x7fELF junk\0license=GPL\0depends=${depends}\0vermagic=6.1\0`, 'latin1'));
  return path;
};

describe('resolveOptionalModules', () => {
  // The dependency shape of Debian 6.1's x86_64 VFIO modules.
  const index = new Map([
    ['vfio', ko('vfio', '')],
    ['vfio_iommu_type1', ko('vfio_iommu_type1', 'vfio')],
    ['vfio_virqfd', ko('vfio_virqfd', '')],
    ['irqbypass', ko('irqbypass', '')],
    ['vfio_pci_core', ko('vfio_pci_core', 'vfio_virqfd,irqbypass,vfio')],
    ['vfio_pci', ko('vfio-pci', 'vfio-pci-core,vfio')],
    ['virtio_pci', ko('virtio_pci', '')],
  ]);

  it('orders dependencies first, each once', async () => {
    expect(await resolveOptionalModules(index, VFIO_MODULES, [])).toEqual(['vfio', 'vfio_iommu_type1', 'vfio_virqfd', 'irqbypass', 'vfio_pci_core', 'vfio_pci']);
  });

  it('leaves out what the boot modules already load', async () => {
    expect(await resolveOptionalModules(index, ['vfio_pci'], ['vfio', 'irqbypass'])).toEqual(['vfio_virqfd', 'vfio_pci_core', 'vfio_pci']);
  });

  it('drops a module the kernel lacks, and whatever needs it, without failing', async () => {
    const noIrqbypass = new Map([...index].filter(([name]) => name !== 'irqbypass'));
    expect(await resolveOptionalModules(noIrqbypass, VFIO_MODULES, [])).toEqual(['vfio', 'vfio_iommu_type1', 'vfio_virqfd']);
    expect(await resolveOptionalModules(new Map(), VFIO_MODULES, [])).toEqual([]);
  });
});

describe('loadOptionalModulesCommand', () => {
  /** Runs the command with a fake insmod that logs its argument and fails as told per module. */
  const run = (order: string[], failures: Record<string, string>) => {
    const dir = mkdtempSync(join(root, 'guest-'));
    const bin = join(dir, 'bin');
    mkdirSync(join(dir, 'optional'), { recursive: true });
    mkdirSync(bin);
    writeFileSync(join(dir, 'optional', 'load-order'), order.map((m) => `${m}\n`).join(''));
    const cases = Object.entries(failures).map(([m, msg]) => `*/${m}.ko) echo "${msg}" >&2; exit 1 ;;`).join(' ');
    writeFileSync(join(bin, 'insmod'), `#!/bin/sh\necho "$1" >> ${dir}/log\ncase "$1" in ${cases} esac\nexit 0\n`);
    chmodSync(join(bin, 'insmod'), 0o755);
    const r = spawnSync('/bin/sh', ['-c', loadOptionalModulesCommand(join(dir, 'optional'))], {
      encoding: 'utf8',
      env: { PATH: `${bin}:/usr/bin:/bin` },
    });
    const log = spawnSync('cat', [join(dir, 'log')], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean);
    return { code: r.status, stderr: r.stderr, loaded: log.map((l) => l.slice(l.lastIndexOf('/') + 1)) };
  };

  it('insmods each module in order', () => {
    expect(run(['vfio', 'vfio_iommu_type1', 'vfio_pci'], {})).toEqual({ code: 0, stderr: '', loaded: ['vfio.ko', 'vfio_iommu_type1.ko', 'vfio_pci.ko'] });
  });

  it('takes a module already loaded as loaded', () => {
    const r = run(['vfio', 'vfio_pci'], { vfio: "insmod: can't insert 'vfio.ko': File exists" });
    expect(r).toMatchObject({ code: 0, loaded: ['vfio.ko', 'vfio_pci.ko'] });
  });

  it('stops at the first real failure with status 1 and says which module', () => {
    const r = run(['vfio', 'vfio_iommu_type1', 'vfio_pci'], { vfio_iommu_type1: "insmod: can't insert 'vfio_iommu_type1.ko': Unknown symbol in module" });
    expect(r.code).toBe(1);
    expect(r.loaded).toEqual(['vfio.ko', 'vfio_iommu_type1.ko']);
    expect(r.stderr).toContain('insmod vfio_iommu_type1: insmod: can\'t insert');
  });

  it('fails when the image has no optional modules', () => {
    const r = spawnSync('/bin/sh', ['-c', loadOptionalModulesCommand(join(root, 'nowhere'))], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('nowhere/load-order');
  });
});

describe('buildInitramfs optional modules', () => {
  it('carries VFIO apart from the boot modules, with its own load order', async () => {
    const modules = join(root, 'lib-modules');
    mkdirSync(join(modules, 'kernel', 'drivers', 'vfio', 'pci'), { recursive: true });
    mkdirSync(join(modules, 'kernel', 'drivers', 'virtio'), { recursive: true });
    const put = (rel: string, depends: string) => writeFileSync(join(modules, 'kernel', rel), `x\0depends=${depends}\0`);
    put('drivers/virtio/virtio_pci.ko', '');
    put('drivers/vfio/vfio.ko', '');
    put('drivers/vfio/vfio_iommu_type1.ko', 'vfio');
    put('drivers/vfio/pci/vfio-pci.ko', 'vfio');
    writeFileSync(join(root, 'busybox'), 'not busybox');
    const image = await buildInitramfs(
      { modulesDir: modules, release: '6.1.0-test', busybox: join(root, 'busybox'), modules: ['virtio_pci'] },
      createProgress(process.stderr, true),
      join(root, 'cache'),
    );
    const out = join(root, 'unpacked');
    mkdirSync(out);
    execFileSync('cpio', ['-id', '--quiet'], { cwd: out, input: gunzipSync(readFileSync(image)) });
    expect(readFileSync(join(out, 'lib/modules/load-order'), 'utf8')).toBe('virtio_pci\n');
    expect(readFileSync(join(out, 'lib/modules/optional/load-order'), 'utf8')).toBe('vfio\nvfio_iommu_type1\nvfio_pci\n');
    expect(readFileSync(join(out, 'lib/modules/optional/vfio_pci.ko'), 'utf8')).toContain('depends=vfio');
  });

  it('is found again without reading its inputs while none changes, and built anew when one does or the image is gone', async () => {
    const modules = join(root, 'lib-modules-memo');
    mkdirSync(join(modules, 'kernel', 'drivers', 'virtio'), { recursive: true });
    const virtio = join(modules, 'kernel', 'drivers', 'virtio', 'virtio_pci.ko');
    writeFileSync(virtio, 'one\0depends=\0');
    writeFileSync(join(root, 'busybox-memo'), 'not busybox');
    const cache = join(root, 'cache-memo');
    const build = () => buildInitramfs({ modulesDir: modules, release: '6.1.0-memo', busybox: join(root, 'busybox-memo'), modules: ['virtio_pci'] },
      createProgress(process.stderr, true), cache);
    const first = await build();
    // Inputs (and the image) left alone past SETTLED_MS: the next build records them, the one after is a lookup.
    await new Promise((r) => setTimeout(r, SETTLED_MS + 50));
    expect(await build()).toBe(first);
    expect(readdirSync(join(cache, 'initramfs', 'memo'))).toHaveLength(1);
    expect(await build()).toBe(first);
    // busybox rewritten with its size unchanged: a new image, not the remembered one.
    writeFileSync(join(root, 'busybox-memo'), 'not busyBOX');
    const second = await build();
    expect(second).not.toBe(first);
    expect(gunzipSync(readFileSync(second)).toString('latin1')).toContain('not busyBOX');
    // The remembered image removed: built again, at the same content-addressed path.
    rmSync(second);
    expect(await build()).toBe(second);
    expect(existsSync(second)).toBe(true);
  });
});
