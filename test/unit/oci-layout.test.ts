import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extract, type Headers } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assembleImage, blobPath, MEDIA_TYPES, writeImageArchive, writeImageLayout } from '../../oci-images/builder/image-archive.js';
import { layerTar, type LayerEntry } from '../../oci-images/builder/layer-tar.js';
import { imageArch } from '../../oci-images/builder/arch.js';

/** Every entry of a tar: header and bytes, in archive order. */
async function readTar(src: Buffer | string): Promise<{ header: Headers; data: Buffer }[]> {
  const ex = extract();
  const out: { header: Headers; data: Buffer }[] = [];
  const feed = typeof src === 'string' ? createReadStream(src) : null;
  if (feed) feed.pipe(ex);
  else ex.end(src);
  for await (const entry of ex) {
    const chunks: Buffer[] = [];
    for await (const c of entry) chunks.push(c as Buffer);
    out.push({ header: entry.header, data: Buffer.concat(chunks) });
  }
  return out;
}

const hex = (b: Buffer) => createHash('sha256').update(b).digest('hex');

const ENTRIES: LayerEntry[] = [
  { type: 'file', path: '/usr/local/bin/tool', content: Buffer.from('#!/bin/sh\necho hi\n'), mode: 0o755 },
  { type: 'symlink', path: '/bin/sh', target: '/bin/busybox' },
  { type: 'file', path: '/etc/passwd', content: Buffer.from('root:x:0:0::/root:/bin/sh\n'), mode: 0o644 },
  { type: 'dir', path: '/tmp', mode: 0o1777 },
  { type: 'dir', path: '/home/tsuite', mode: 0o755, uid: 1000, gid: 1000 },
];

describe('layerTar', () => {
  it('gives the same bytes whatever order the entries come in', async () => {
    const a = await layerTar(ENTRIES);
    const b = await layerTar([...ENTRIES].reverse());
    expect(hex(a)).toBe(hex(b));
  });

  it('sorts entries, adds every parent folder, fixes mtime and owners, keeps modes and links', async () => {
    const entries = await readTar(await layerTar(ENTRIES));
    const names = entries.map((e) => e.header.name);
    expect(names).toEqual(['bin/', 'bin/sh', 'etc/', 'etc/passwd', 'home/', 'home/tsuite/', 'tmp/', 'usr/', 'usr/local/', 'usr/local/bin/', 'usr/local/bin/tool']);
    for (const { header } of entries) {
      expect(header.mtime?.getTime(), header.name).toBe(0);
      expect(header.uname ?? '', header.name).toBe('');
      expect(header.gname ?? '', header.name).toBe('');
    }
    const by = (n: string) => entries.find((e) => e.header.name === n)!;
    expect(by('usr/local/').header).toMatchObject({ type: 'directory', mode: 0o755, uid: 0, gid: 0 });
    expect(by('tmp/').header.mode).toBe(0o1777);
    expect(by('home/tsuite/').header).toMatchObject({ uid: 1000, gid: 1000 });
    expect(by('bin/sh').header).toMatchObject({ type: 'symlink', linkname: '/bin/busybox' });
    expect(by('usr/local/bin/tool').header.mode).toBe(0o755);
    expect(by('usr/local/bin/tool').data.toString()).toBe('#!/bin/sh\necho hi\n');
  });

  it('lets a later entry replace an earlier one at the same path, and refuses paths outside the root', async () => {
    const replaced = await readTar(await layerTar([...ENTRIES, { type: 'file', path: '/etc/passwd', content: Buffer.from('new\n'), mode: 0o600 }]));
    const passwd = replaced.filter((e) => e.header.name === 'etc/passwd');
    expect(passwd).toHaveLength(1);
    expect(passwd[0]!.data.toString()).toBe('new\n');
    await expect(layerTar([{ type: 'dir', path: '/../escape', mode: 0o755 }])).rejects.toThrow(/bad image path/);
  });
});

describe('an image as an OCI layout and a docker-archive', () => {
  let dir: string;
  let img: ReturnType<typeof assembleImage>;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tsuite-oci-layout-'));
    const base = await layerTar(ENTRIES);
    const top = await layerTar([{ type: 'file', path: '/app/data', content: Buffer.from('payload'), mode: 0o644 }]);
    img = assembleImage({
      name: 'demo',
      arch: 'amd64',
      repository: 'tsuite/demo',
      layers: [{ name: 'base', tar: base }, { name: 'app', tar: top }],
      config: { Entrypoint: ['/usr/local/bin/tool'], Cmd: ['x'], ExposedPorts: ['80/tcp'], WorkingDir: '/app', User: '1000' },
    });
    await writeImageLayout(img, join(dir, 'layout'));
    await writeImageArchive(img, join(dir, 'image.tar'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('names the image by its config digest: id, and a ref tagged with its first 12 hex', () => {
    expect(img.id).toBe(`sha256:${hex(img.config.data)}`);
    expect(img.ref).toBe(`tsuite/demo:${img.id.slice(7, 19)}`);
  });

  it('writes an OCI image config: platform, runtime config, uncompressed diff_ids, fixed created', () => {
    const config = JSON.parse(img.config.data.toString());
    expect(config).toMatchObject({ architecture: 'amd64', os: 'linux', created: '1970-01-01T00:00:00Z' });
    expect(config.rootfs).toEqual({ type: 'layers', diff_ids: img.layers.map((l) => l.digest) });
    expect(config.config).toMatchObject({ Entrypoint: ['/usr/local/bin/tool'], Cmd: ['x'], ExposedPorts: { '80/tcp': {} }, WorkingDir: '/app', User: '1000' });
    expect(config.history).toHaveLength(2);
  });

  it('lays the folder out as the image-layout spec says: oci-layout, index.json, and every blob at blobs/sha256/<its digest>', async () => {
    const layout = join(dir, 'layout');
    expect(JSON.parse(await readFile(join(layout, 'oci-layout'), 'utf8'))).toEqual({ imageLayoutVersion: '1.0.0' });
    const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8'));
    expect(index).toMatchObject({ schemaVersion: 2, mediaType: MEDIA_TYPES.index });
    expect(index.manifests).toHaveLength(1);
    const desc = index.manifests[0];
    expect(desc).toMatchObject({ mediaType: MEDIA_TYPES.manifest, platform: { architecture: 'amd64', os: 'linux' } });
    expect(desc.annotations['org.opencontainers.image.ref.name']).toBe(img.ref.split(':')[1]);

    // Follow the descriptors from index.json down; each must name a blob whose bytes have that digest and size.
    const referenced = new Set<string>();
    const readBlob = async (d: { digest: string; size: number; mediaType: string }) => {
      expect(d.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
      const data = await readFile(join(layout, blobPath(d.digest)));
      expect(`sha256:${hex(data)}`).toBe(d.digest);
      expect(data.length).toBe(d.size);
      referenced.add(d.digest.slice(7));
      return data;
    };
    const manifest = JSON.parse((await readBlob(desc)).toString());
    expect(manifest).toMatchObject({ schemaVersion: 2, mediaType: MEDIA_TYPES.manifest, config: { mediaType: MEDIA_TYPES.config, digest: img.id } });
    await readBlob(manifest.config);
    expect(manifest.layers.map((l: { mediaType: string }) => l.mediaType)).toEqual([MEDIA_TYPES.layer, MEDIA_TYPES.layer]);
    for (const l of manifest.layers) await readBlob(l);
    // Nothing else in blobs/: no dangling, unreferenced content.
    expect((await readdir(join(layout, 'blobs', 'sha256'))).sort()).toEqual([...referenced].sort());
  });

  it('writes one tar holding the same layout plus a docker-archive manifest.json whose paths resolve inside it', async () => {
    const entries = await readTar(join(dir, 'image.tar'));
    const files = new Map(entries.filter((e) => e.header.type === 'file').map((e) => [e.header.name, e.data]));
    expect([...files.keys()].filter((n) => !n.startsWith('blobs/')).sort()).toEqual(['index.json', 'manifest.json', 'oci-layout']);
    for (const name of files.keys()) {
      if (name.startsWith('blobs/')) expect(await readFile(join(dir, 'layout', name))).toEqual(files.get(name));
    }
    const docker = JSON.parse(files.get('manifest.json')!.toString());
    expect(docker).toEqual([{ Config: blobPath(img.id), RepoTags: [img.ref], Layers: img.layers.map((l) => blobPath(l.digest)) }]);
    expect(`sha256:${hex(files.get(docker[0].Config)!)}`).toBe(img.id);
    for (const l of docker[0].Layers) expect(files.has(l), l).toBe(true);
    for (const { header } of entries) expect(header.mtime?.getTime()).toBe(0);
  });

  it('writes the same archive bytes again from the same inputs', async () => {
    const again = assembleImage({
      name: 'demo',
      arch: 'amd64',
      repository: 'tsuite/demo',
      layers: [{ name: 'base', tar: await layerTar([...ENTRIES].reverse()) }, { name: 'app', tar: await layerTar([{ type: 'file', path: '/app/data', content: Buffer.from('payload'), mode: 0o644 }]) }],
      config: { Entrypoint: ['/usr/local/bin/tool'], Cmd: ['x'], ExposedPorts: ['80/tcp'], WorkingDir: '/app', User: '1000' },
    });
    expect(again.id).toBe(img.id);
    expect(again.manifest.digest).toBe(img.manifest.digest);
    await writeImageArchive(again, join(dir, 'again.tar'));
    expect(hex(await readFile(join(dir, 'again.tar')))).toBe(hex(await readFile(join(dir, 'image.tar'))));
  });

  it('changes the id when anything in the image changes', () => {
    const other = assembleImage({ name: 'demo', arch: 'arm64', repository: 'tsuite/demo', layers: [], config: {} });
    const otherCmd = assembleImage({ name: 'demo', arch: 'amd64', repository: 'tsuite/demo', layers: [], config: { Cmd: ['y'] } });
    expect(new Set([img.id, other.id, otherCmd.id]).size).toBe(3);
    expect(JSON.parse(other.config.data.toString())).toMatchObject({ architecture: 'arm64', variant: 'v8' });
  });
});

describe('imageArch', () => {
  it("takes tsuite's and OCI's arch names, and refuses others with the list", () => {
    expect(imageArch('x86_64')).toEqual({ arch: 'x86_64', oci: 'amd64' });
    expect(imageArch('arm64')).toEqual({ arch: 'aarch64', oci: 'arm64' });
    expect(() => imageArch('riscv64')).toThrow(/no test images for arch 'riscv64'/);
  });
});
