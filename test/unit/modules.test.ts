import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { indexModules, parseDepends, resolveLoadOrder } from '../../kernel/modules.js';
import { InfraError } from '../../src/core/errors.js';

/** Bytes shaped like a `.ko`: some ELF noise, then `.modinfo` NUL-separated strings. */
const ko = (depends: string | undefined, name = 'x') =>
  Buffer.concat([
    Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]),
    Buffer.from(`\0license=GPL${depends === undefined ? '' : `\0depends=${depends}`}\0name=${name}\0vermagic=6.1.0 SMP mod_unload\0`),
  ]);

describe('parseDepends', () => {
  it('reads depends= and normalises - to _', () => {
    expect(parseDepends(Buffer.from('\0license=GPL\0depends=virtio_ring,virtio-pci-modern-dev\0name=x\0'))).toEqual([
      'virtio_ring',
      'virtio_pci_modern_dev',
    ]);
  });

  it('gives [] for an empty depends=', () => {
    expect(parseDepends(Buffer.from('\0license=GPL\0depends=\0name=x\0'))).toEqual([]);
  });

  it('gives [] when there is no depends=', () => {
    expect(parseDepends(Buffer.from('\0license=GPL\0name=x\0'))).toEqual([]);
    expect(parseDepends(Buffer.alloc(0))).toEqual([]);
  });

  it('reads a single dependency among binary bytes', () => {
    expect(parseDepends(ko('failover'))).toEqual(['failover']);
  });

  it('reads a depends= value that ends the buffer without a NUL', () => {
    expect(parseDepends(Buffer.from('\0depends=a,b'))).toEqual(['a', 'b']);
  });

  it('ignores depends= that is not the start of a modinfo string', () => {
    expect(parseDepends(Buffer.from('\0description=no depends=here\0name=x\0'))).toEqual([]);
  });
});

describe('resolveLoadOrder', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  });

  /** A `lib/modules/<release>` tree: relative path under kernel/ → its depends= (undefined: none). */
  async function tree(modules: Record<string, string | undefined>): Promise<Map<string, string>> {
    const dir = await mkdtemp(join(tmpdir(), 'tsuite-modules-'));
    dirs.push(dir);
    for (const [rel, depends] of Object.entries(modules)) {
      const file = join(dir, 'kernel', rel);
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, ko(depends));
    }
    await writeFile(join(dir, 'modules.order'), '');
    return indexModules(dir);
  }

  it('indexes every .ko under kernel/ by its normalised name', async () => {
    const index = await tree({ 'drivers/virtio/virtio-pci.ko': undefined, 'fs/ext4/ext4.ko': undefined, 'net/x/readme.txt': undefined });
    expect([...index.keys()].sort()).toEqual(['ext4', 'virtio_pci']);
    expect(index.get('virtio_pci')).toMatch(/kernel\/drivers\/virtio\/virtio-pci\.ko$/);
  });

  it('puts dependencies first, each once', async () => {
    const index = await tree({
      'drivers/net/virtio_net.ko': 'net_failover,virtio_ring',
      'drivers/net/net_failover.ko': 'failover',
      'net/core/failover.ko': '',
      'drivers/virtio/virtio_ring.ko': undefined,
      'drivers/virtio/virtio_pci.ko': 'virtio_ring',
    });
    const order = await resolveLoadOrder(index, ['virtio_pci', 'virtio_net', 'virtio-ring']);
    expect(order).toEqual(['virtio_ring', 'virtio_pci', 'failover', 'net_failover', 'virtio_net']);
    expect(new Set(order).size).toBe(order.length);
  });

  it('loads the shared dependency of a diamond once, before both users', async () => {
    const index = await tree({ 'a.ko': 'b,c', 'b.ko': 'd', 'c.ko': 'd', 'd.ko': undefined });
    const order = await resolveLoadOrder(index, ['a']);
    expect(order).toEqual(['d', 'b', 'c', 'a']);
  });

  it('matches names with - and _ alike', async () => {
    const index = await tree({ 'drivers/virtio/virtio_pci_modern_dev.ko': undefined, 'drivers/virtio/virtio-pci.ko': 'virtio-pci-modern-dev' });
    expect(await resolveLoadOrder(index, ['virtio-pci'])).toEqual(['virtio_pci_modern_dev', 'virtio_pci']);
  });

  it('ends on a dependency cycle, listing each module once', async () => {
    const index = await tree({ 'a.ko': 'b', 'b.ko': 'c', 'c.ko': 'a' });
    const order = await resolveLoadOrder(index, ['a', 'b', 'c']);
    expect([...order].sort()).toEqual(['a', 'b', 'c']);
    expect(order.at(-1)).toBe('a');
  });

  it('fails with an InfraError naming a missing dependency and who needs it', async () => {
    const index = await tree({ 'a.ko': 'b', 'b.ko': 'missing-mod' });
    const err = await resolveLoadOrder(index, ['a']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InfraError);
    expect((err as Error).message).toContain('missing_mod');
    expect((err as Error).message).toContain('needed by b');
  });

  it('fails with an InfraError for a wanted module that is not there', async () => {
    const index = await tree({ 'a.ko': undefined });
    const err = await resolveLoadOrder(index, ['nope']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InfraError);
    expect((err as Error).message).toMatch(/nope .*needed by the guest/);
  });

  it('gives [] when nothing is wanted', async () => {
    expect(await resolveLoadOrder(await tree({ 'a.ko': undefined }), [])).toEqual([]);
  });
});
