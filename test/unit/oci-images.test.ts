import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type Dockerode from 'dockerode';
import { afterAll, describe, expect, it } from 'vitest';
import { buildImage, IMAGE_DEFINITIONS, IMAGE_NAMES, loadImage, pullImage, type BuiltImage } from '../../oci-images/index.js';
import { appletsFromBinary } from '../../oci-images/builder/busybox-files.js';
import { InfraError } from '../../src/core/errors.js';
import { execOk } from '../../src/core/exec.js';
import { assetPath } from '../../src/core/paths.js';
import { hostArch } from '../../kernel/reference/foreign-apt.js';

const quiet = { step: <T>(_l: string, work: () => Promise<T>) => work() };
const BUSYBOX = '/bin/busybox';
const noBusybox = !existsSync(BUSYBOX) && "Debian's busybox-static is not installed (/bin/busybox)";

describe('image definitions', () => {
  it('names each image as its folder, and every program source it lists exists', () => {
    expect(IMAGE_NAMES.sort()).toEqual(['busybox', 'fsio', 'memstress', 'net', 'nginx', 'probes', 'procs']);
    for (const [key, def] of Object.entries(IMAGE_DEFINITIONS)) {
      expect(def.name).toBe(key);
      expect(existsSync(assetPath('oci-images', key, 'image.ts')), key).toBe(true);
      for (const source of def.layers.flatMap((l) => l.contents)) {
        if (source.kind === 'program') expect(existsSync(assetPath('oci-images', source.image, source.source)), `${key}: ${source.source}`).toBe(true);
      }
    }
  });

  it('builds every image on the same busybox layer object, so engines store it once', () => {
    const base = IMAGE_DEFINITIONS.busybox.layers[0];
    for (const def of Object.values(IMAGE_DEFINITIONS)) expect(def.layers[0], def.name).toBe(base);
  });
});

describe.skipIf(noBusybox)('the busybox image', () => {
  const roots: string[] = [];
  afterAll(() => Promise.all(roots.map((r) => rm(r, { recursive: true, force: true }))));

  it('is the same image, byte for byte, when built twice into two caches', async () => {
    const built: BuiltImage[] = [];
    for (let i = 0; i < 2; i++) {
      const root = await mkdtemp(join(tmpdir(), 'tsuite-oci-build-'));
      roots.push(root);
      built.push(await buildImage(IMAGE_DEFINITIONS.busybox, hostArch(), quiet, { root }));
    }
    const [a, b] = built as [BuiltImage, BuiltImage];
    expect(a.id).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(b.id).toBe(a.id);
    expect(b.manifestDigest).toBe(a.manifestDigest);
    expect(a.ref).toBe(`tsuite/busybox:${a.id.slice(7, 19)}`);
    expect((await readFile(b.archive)).equals(await readFile(a.archive))).toBe(true);
  });

  it('finds every applet busybox --list-full names in the binary itself (how a foreign arch gets its links)', async () => {
    const listed = (await execOk(BUSYBOX, ['--list-full'])).split('\n').filter(Boolean).map((p) => p.split('/').pop()!);
    const scanned = appletsFromBinary(await readFile(BUSYBOX));
    expect(scanned.sort()).toEqual([...new Set(listed)].sort());
  });
});

/** A stand-in engine: an image store keyed by id and ref, and a log of what was asked of it. */
function fakeEngine(store: Map<string, { Id: string; RepoTags: string[] }>, onLoad: () => void, loadMessages = '{"stream":"Loaded image"}\n') {
  const calls: string[] = [];
  const api = {
    getImage: (name: string) => ({
      inspect: async () => {
        calls.push(`inspect ${name}`);
        const img = store.get(name) ?? [...store.values()].find((i) => i.RepoTags.includes(name));
        if (!img) throw Object.assign(new Error('no such image'), { statusCode: 404 });
        return img;
      },
      tag: async ({ repo, tag }: { repo: string; tag: string }) => {
        calls.push(`tag ${name} ${repo}:${tag}`);
        store.get(name)!.RepoTags.push(`${repo}:${tag}`);
      },
    }),
    loadImage: async () => {
      calls.push('load');
      onLoad();
      return Readable.from([loadMessages]);
    },
    createImage: async (opts: { fromImage: string }) => {
      calls.push(`pull ${opts.fromImage}`);
      return Readable.from(['{"status":"Pulling"}\n{"errorDetail":{"message":"Get \\"https://registry-1.docker.io/v2/\\": dial tcp: lookup registry-1.docker.io: no such host"},"error":"Get \\"https://registry-1.docker.io/v2/\\": dial tcp: lookup registry-1.docker.io: no such host"}\n']);
    },
  };
  return { engine: { api: api as unknown as Dockerode, endpoint: { url: 'tcp://fake:2375' } }, calls };
}

const IMG: BuiltImage = { name: 'busybox', ref: 'tsuite/busybox:0123456789ab', id: `sha256:0123456789ab${'0'.repeat(52)}`, manifestDigest: 'sha256:m', archive: '/x/image.tar', layout: '/x/layout', arch: 'amd64' };

describe('loadImage', () => {
  it('loads an image the engine lacks, then checks the id it reports', async () => {
    const store = new Map<string, { Id: string; RepoTags: string[] }>();
    const { engine, calls } = fakeEngine(store, () => store.set(IMG.id, { Id: IMG.id, RepoTags: [IMG.ref] }));
    await loadImage(engine, IMG);
    expect(calls).toEqual([`inspect ${IMG.id}`, 'load', `inspect ${IMG.ref}`]);
  });

  it('only tags an image the engine has by id, and loads nothing', async () => {
    const store = new Map([[IMG.id, { Id: IMG.id, RepoTags: [] as string[] }]]);
    const { engine, calls } = fakeEngine(store, () => {});
    await loadImage(engine, IMG);
    expect(calls).toEqual([`inspect ${IMG.id}`, `tag ${IMG.id} tsuite/busybox:0123456789ab`, `inspect ${IMG.ref}`]);
  });

  it('fails, naming both ids, when the engine reports another id for the ref', async () => {
    const store = new Map<string, { Id: string; RepoTags: string[] }>();
    const { engine } = fakeEngine(store, () => store.set('sha256:other', { Id: 'sha256:other', RepoTags: [IMG.ref] }));
    const err = await loadImage(engine, IMG).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InfraError);
    expect((err as Error).message).toMatch(/reports tsuite\/busybox:0123456789ab as sha256:other .* built it as sha256:0123456789ab/);
  });

  it("passes on the engine's own words when a load fails", async () => {
    const { engine } = fakeEngine(new Map(), () => {}, '{"errorDetail":{"message":"no space left on device"},"error":"no space left on device"}\n');
    await expect(loadImage(engine, IMG)).rejects.toThrow(/engine at tcp:\/\/fake:2375 failed loading \/x\/image.tar: no space left on device/);
  });
});

describe('pullImage', () => {
  it('says which engine could not pull which ref, why, and what to do instead', async () => {
    const { engine, calls } = fakeEngine(new Map(), () => {});
    const err = (await pullImage(engine, 'busybox:1.36').catch((e: unknown) => e)) as InfraError;
    expect(err).toBeInstanceOf(InfraError);
    expect(err.message).toMatch(/engine at tcp:\/\/fake:2375 cannot pull busybox:1.36: .*no such host/);
    expect(err.fix).toMatch(/--container-images local/);
    expect(calls).toContain('pull busybox:1.36');
  });
});
