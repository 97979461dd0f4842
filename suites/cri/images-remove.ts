import { randomBytes } from 'node:crypto';
import type { Cri, CriChannel, TestDef } from '../../src/index.js';
import { isUnimplemented } from '../../src/index.js';
import { criTest } from './cri-test.js';
import { pushVariant } from './image-variant.js';
import { imageStatus, PULL_MS, readyRegistry, withPulls, type ListImagesResponse } from './pulled-images.js';

const remove = (cri: CriChannel, ref: string) => cri.image('RemoveImage', { image: { image: ref } }, { timeoutMs: PULL_MS });

async function listed(cri: CriChannel, id: string): Promise<Cri.Image | undefined> {
  return (await cri.image<ListImagesResponse>('ListImages', {})).images.find((i) => i.id === id);
}

/** After RemoveImage: no ref of the image resolves, and ListImages no longer lists it. */
async function expectGone(cri: CriChannel, id: string, refs: readonly string[], after: string): Promise<void> {
  for (const ref of refs) {
    const { image } = await imageStatus(cri, ref);
    if (image) throw new Error(`after ${after}, ImageStatus ${ref} still finds image ${image.id}`);
  }
  const still = await listed(cri, id);
  if (still) throw new Error(`after ${after}, ListImages still lists ${id} (tags: ${still.repo_tags.join(', ') || 'none'})`);
}

/** RemoveImage: by id, by one of two tags, of an image that is absent or in use. */
export const imageRemoveTests: TestDef[] = [
  criTest({
    name: 'images-remove-by-id',
    title: 'RemoveImage by id removes the image: ImageStatus by tag, digest or id finds nothing and ListImages omits it',
    rpcs: ['RemoveImage', 'ImageStatus', 'ListImages'],
    async run({ ctx, cri, fx }) {
      const reg = readyRegistry(ctx, fx);
      await withPulls(cri, fx, async (pulled) => {
        const refs = (await pushVariant(reg, { name: 'rm-id', kinds: ['plain'] })).refs.plain!;
        const id = await pulled.pull(refs.byTag);
        if (!(await listed(cri, id))) throw new Error(`ListImages does not list ${id} right after pulling it`);
        await remove(cri, id);
        await expectGone(cri, id, [refs.byTag, refs.byDigest, id], `RemoveImage ${id}`);
      });
    },
  }),
  criTest({
    name: 'images-remove-one-of-two-tags',
    title: 'RemoveImage by one of two tags of one image: that tag is gone; the other is either gone too (the image removed) or left without it',
    rpcs: ['RemoveImage', 'PullImage', 'ImageStatus', 'ListImages'],
    async run({ ctx, cri, fx }) {
      const reg = readyRegistry(ctx, fx);
      await withPulls(cri, fx, async (pulled) => {
        const v = await pushVariant(reg, { name: 'rm-tag', kinds: ['plain', 'tls'] });
        const [plain, tls] = [v.refs.plain!.byTag, v.refs.tls!.byTag];
        const id = await pulled.pull(plain);
        const id2 = await pulled.pull(tls);
        if (id2 !== id) throw new Error(`the same manifest pulled from two registries got two ids: ${id} (${plain}) and ${id2} (${tls})`);
        const both = (await imageStatus(cri, id)).image;
        for (const ref of [plain, tls]) if (!both?.repo_tags.includes(ref)) throw new Error(`after pulling ${plain} and ${tls}, repo_tags of ${id} are [${both?.repo_tags.join(', ') ?? 'no image'}]: they lack ${ref}`);
        await remove(cri, tls);
        const removed = (await imageStatus(cri, tls)).image;
        if (removed) throw new Error(`after RemoveImage ${tls}, ImageStatus ${tls} still finds ${removed.id}`);
        // CRI says RemoveImage removes "the image"; containerd removes it with every ref, a runtime
        // with untag semantics keeps the other tag. Either way the answers must agree.
        const other = (await imageStatus(cri, plain)).image;
        if (!other) {
          await expectGone(cri, id, [plain, id], `RemoveImage ${tls} (which removed the image, ${plain} included)`);
          return;
        }
        if (other.id !== id) throw new Error(`after RemoveImage ${tls}, ${plain} names another image: ${other.id}, not ${id}`);
        if (other.repo_tags.includes(tls)) throw new Error(`after RemoveImage ${tls}, ImageStatus ${plain} still lists ${tls} in repo_tags`);
        const inList = await listed(cri, id);
        if (!inList?.repo_tags.includes(plain) || inList.repo_tags.includes(tls)) throw new Error(`after RemoveImage ${tls}, ListImages shows [${inList?.repo_tags.join(', ') ?? 'no image'}] for ${id}; ImageStatus shows [${other.repo_tags.join(', ')}]`);
      });
    },
  }),
  criTest({
    name: 'images-remove-absent',
    title: 'RemoveImage of an image that is absent (never pulled, or already removed) is not an error',
    rpcs: ['RemoveImage'],
    async run({ ctx, cri, fx }) {
      const reg = readyRegistry(ctx, fx);
      await withPulls(cri, fx, async (pulled) => {
        const refs = (await pushVariant(reg, { name: 'rm-absent', kinds: ['plain'] })).refs.plain!;
        const id = await pulled.pull(refs.byTag);
        await remove(cri, id);
        const absent = [id, refs.byTag, `${reg.hosts.plain}/tsuite/busybox:never-${randomBytes(4).toString('hex')}`, `sha256:${randomBytes(32).toString('hex')}`];
        for (const ref of absent) {
          try {
            await remove(cri, ref);
          } catch (err) {
            if (isUnimplemented(err)) throw err;
            throw new Error(`RemoveImage of an absent image (${ref}) failed; CRI makes it idempotent: ${(err as Error).message}`);
          }
        }
      });
    },
  }),
  criTest({
    name: 'images-remove-in-use',
    title: "RemoveImage of an image a running container uses either fails and keeps it, or removes it; the container keeps running either way",
    rpcs: ['RemoveImage', 'ImageStatus', 'ExecSync', 'ContainerStatus'],
    async run({ ctx, cri, fx, scope }) {
      const reg = readyRegistry(ctx, fx);
      await withPulls(cri, fx, async (pulled) => {
        const ref = (await pushVariant(reg, { name: 'rm-in-use', kinds: ['plain'] })).refs.plain!.byTag;
        const id = await pulled.pull(ref);
        try {
          const { id: container } = await scope.podWithContainer('c', { image: { image: ref } });
          let refused: Error | undefined;
          await remove(cri, id).catch((err: Error) => {
            if (isUnimplemented(err)) throw err;
            refused = err;
          });
          const { image } = await imageStatus(cri, id);
          if (refused && !image) throw new Error(`RemoveImage of an image in use failed (${refused.message}), yet the image is gone`);
          if (!refused && image) throw new Error(`RemoveImage of an image in use answered OK, yet ImageStatus ${id} still finds it`);
          const status = await scope.status(container);
          if (status.state !== 'CONTAINER_RUNNING') throw new Error(`after RemoveImage of its image, the container is ${status.state} (exit ${status.exit_code}), not running`);
          const out = await scope.sh(container, 'echo alive');
          if (out !== 'alive') throw new Error(`after RemoveImage of its image, exec in the container printed '${out}'`);
        } finally {
          await scope.dispose();
        }
      });
    },
  }),
];
