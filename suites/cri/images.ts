import { randomBytes } from 'node:crypto';
import type { Cri, CriChannel, TestDef } from '../../src/index.js';
import { criTest } from './cri-test.js';
import { imagePullTests } from './images-pull.js';
import { imageRemoveTests } from './images-remove.js';
import { pushVariant } from './image-variant.js';
import { imageStatus, readyRegistry, withPulls, type ListImagesResponse } from './pulled-images.js';

const randomId = () => `sha256:${randomBytes(32).toString('hex')}`;

/** The image `ref` names, which must exist. */
async function mustFind(cri: CriChannel, ref: string): Promise<Cri.Image> {
  const { image } = await imageStatus(cri, ref);
  if (!image) throw new Error(`ImageStatus ${ref} found no image`);
  return image;
}

/** How an image's user (from its config's User) shows in ImageStatus and ListImages: uid when numeric, username when a name. */
async function userOf(cri: CriChannel, ref: string): Promise<{ status: string; list: string }> {
  const show = (i: Cri.Image) => `uid ${i.uid ? i.uid.value : 'unset'}, username '${i.username}'`;
  const image = await mustFind(cri, ref);
  const { images } = await cri.image<ListImagesResponse>('ListImages', {});
  const listed = images.find((i) => i.id === image.id);
  if (!listed) throw new Error(`ListImages does not list image ${image.id} (${ref})`);
  return { status: show(image), list: show(listed) };
}

async function expectUser(cri: CriChannel, ref: string, user: string, want: string): Promise<void> {
  const got = await userOf(cri, ref);
  for (const [rpc, seen] of [['ImageStatus', got.status], ['ListImages', got.list]] as const) {
    if (seen !== want) throw new Error(`for an image whose config User is '${user}', ${rpc} reports ${seen}; expected ${want}`);
  }
}

/** What the runtime knows about images: status by every reference form, lists, users, the image filesystem. */
export const imageTests: TestDef[] = [
  ...imagePullTests,
  ...imageRemoveTests,
  criTest({
    name: 'images-status-every-reference',
    title: 'ImageStatus finds one image by tag, by digest ref and by full id (and by short id where the runtime resolves it)',
    rpcs: ['ImageStatus'],
    async run({ ctx, cri, fx, scope }) {
      const reg = readyRegistry(ctx, fx);
      const byTag = scope.images.busybox;
      const image = await mustFind(cri, byTag);
      const required = { 'digest ref': reg.images.plain.busybox!.byDigest, 'full id': image.id };
      for (const [form, ref] of Object.entries(required)) {
        const found = await mustFind(cri, ref);
        if (found.id !== image.id) throw new Error(`ImageStatus by ${form} ${ref} found ${found.id}; by tag ${byTag} it found ${image.id}`);
      }
      // CRI leaves short forms to the runtime: absent is fine, another image is not.
      const hex = image.id.replace(/^sha256:/, '');
      for (const ref of [hex, hex.slice(0, 12)]) {
        const { image: found } = await imageStatus(cri, ref);
        if (found && found.id !== image.id) throw new Error(`ImageStatus by id prefix ${ref} found another image, ${found.id}`);
      }
    },
  }),
  criTest({
    name: 'images-status-absent',
    title: 'ImageStatus of an image the runtime lacks answers with no image, not an error',
    rpcs: ['ImageStatus'],
    async run({ ctx, cri, fx }) {
      const reg = readyRegistry(ctx, fx);
      const refs = [`${reg.hosts.plain}/tsuite/busybox:absent-${randomBytes(4).toString('hex')}`, randomId()];
      for (const ref of refs) {
        const r = await imageStatus(cri, ref);
        if (r.image) throw new Error(`ImageStatus ${ref} (never pulled) answered image ${r.image.id}`);
      }
    },
  }),
  criTest({
    name: 'images-list-pulled',
    title: 'ListImages lists each pulled test image with its tag, its repo digest, its id and a size, as ImageStatus does',
    rpcs: ['ListImages', 'ImageStatus'],
    async run({ ctx, cri, fx, scope }) {
      const reg = readyRegistry(ctx, fx);
      const { images } = await cri.image<ListImagesResponse>('ListImages', {});
      for (const [name, ref] of Object.entries(scope.images)) {
        const listed = images.filter((i) => i.repo_tags.includes(ref));
        if (listed.length !== 1) throw new Error(`ListImages lists ${listed.length} images tagged ${ref}; expected one`);
        const image = listed[0]!;
        const digestRef = reg.images.plain[name]!.byDigest;
        if (!image.repo_digests.includes(digestRef)) throw new Error(`ListImages: repo_digests of ${ref} are [${image.repo_digests.join(', ')}]; they lack ${digestRef}`);
        if (!/^\S+$/.test(image.id)) throw new Error(`ListImages: ${ref} has id '${image.id}'`);
        if (!(image.size > 0)) throw new Error(`ListImages: ${ref} has size ${image.size}`);
        const status = await mustFind(cri, ref);
        if (status.id !== image.id || status.size !== image.size) throw new Error(`${ref}: ListImages says id ${image.id} size ${image.size}, ImageStatus says id ${status.id} size ${status.size}`);
      }
    },
  }),
  criTest({
    name: 'images-list-filter',
    title: 'ListImages with an image filter keeps the image it names; a runtime either applies the filter exactly or ignores it',
    rpcs: ['ListImages'],
    async run({ cri, scope }) {
      const ref = scope.images.net;
      const all = (await cri.image<ListImagesResponse>('ListImages', {})).images;
      const filtered = (await cri.image<ListImagesResponse>('ListImages', { filter: { image: { image: ref } } })).images;
      const ids = (l: Cri.Image[]) => l.map((i) => i.id).sort().join(',');
      if (!filtered.some((i) => i.repo_tags.includes(ref))) throw new Error(`ListImages filtered by ${ref} does not list it (listed: ${ids(filtered) || 'nothing'})`);
      // containerd ignores the filter (the kubelet never sends one); a runtime that applies it must list that image only.
      if (ids(filtered) === ids(all)) return;
      const others = filtered.filter((i) => !i.repo_tags.includes(ref));
      if (others.length > 0) throw new Error(`ListImages filtered by ${ref} dropped some images but kept others it does not name: ${others.map((i) => i.repo_tags[0] ?? i.id).join(', ')}`);
    },
  }),
  criTest({
    name: 'images-user-numeric',
    title: "An image whose config User is numeric reports it as uid (and no username) in ImageStatus and ListImages",
    rpcs: ['ImageStatus', 'ListImages', 'PullImage'],
    async run({ ctx, cri, fx }) {
      const reg = readyRegistry(ctx, fx);
      await withPulls(cri, fx, async (pulled) => {
        const v = await pushVariant(reg, { name: 'uid', kinds: ['plain'], user: '1000' });
        await pulled.pull(v.refs.plain!.byTag);
        await expectUser(cri, v.refs.plain!.byTag, '1000', "uid 1000, username ''");
      });
    },
  }),
  criTest({
    name: 'images-user-name',
    title: 'An image whose config User is a name reports it as username (no uid); an image without User reports neither',
    rpcs: ['ImageStatus', 'ListImages', 'PullImage'],
    async run({ ctx, cri, fx, scope }) {
      const reg = readyRegistry(ctx, fx);
      await expectUser(cri, scope.images.busybox, '', "uid unset, username ''");
      await withPulls(cri, fx, async (pulled) => {
        const v = await pushVariant(reg, { name: 'username', kinds: ['plain'], user: 'nobody' });
        await pulled.pull(v.refs.plain!.byTag);
        await expectUser(cri, v.refs.plain!.byTag, 'nobody', "uid unset, username 'nobody'");
      });
    },
  }),
  criTest({
    name: 'images-user-applied',
    title: "A container of an image whose config User is 1000 runs as uid 1000 when its config names no user",
    rpcs: ['PullImage', 'CreateContainer', 'ExecSync'],
    async run({ ctx, cri, fx, scope }) {
      const reg = readyRegistry(ctx, fx);
      await withPulls(cri, fx, async (pulled) => {
        const v = await pushVariant(reg, { name: 'runs-as', kinds: ['plain'], user: '1000' });
        await pulled.pull(v.refs.plain!.byTag);
        try {
          const { id } = await scope.podWithContainer('c', { image: { image: v.refs.plain!.byTag } });
          const uid = await scope.sh(id, 'id -u');
          if (uid !== '1000') throw new Error(`the container of an image with User 1000 runs as uid ${uid}`);
        } finally {
          // The pod goes before the image: a runtime may refuse to remove an image a container uses.
          await scope.dispose();
        }
      });
    },
  }),
  criTest({
    name: 'images-fs-info',
    title: 'ImageFsInfo names the filesystem holding images, with used bytes and inodes',
    rpcs: ['ImageFsInfo'],
    async run({ cri }) {
      const r = await cri.image<Cri.ImageFsInfoResponse>('ImageFsInfo', {});
      if (r.image_filesystems.length === 0) throw new Error('ImageFsInfo listed no image filesystem');
      for (const fs of r.image_filesystems) {
        if (!fs.fs_id?.mountpoint?.startsWith('/')) throw new Error(`an image filesystem has no absolute mountpoint: ${JSON.stringify(fs.fs_id)}`);
        // A fresh runtime may not have measured yet (containerd samples snapshot usage every few seconds): present, not positive.
        if (!fs.used_bytes || !fs.inodes_used) throw new Error(`image filesystem ${fs.fs_id.mountpoint} reports no used_bytes or inodes_used`);
        if (!(fs.timestamp > 0)) throw new Error('ImageFsInfo carries no timestamp');
      }
    },
  }),
];
