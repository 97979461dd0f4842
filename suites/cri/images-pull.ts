import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Cri, CriChannel, TestDef } from '../../src/index.js';
import { CriRpcError, isUnimplemented } from '../../src/index.js';
import { criTest } from './cri-test.js';
import { pushVariant } from './image-variant.js';
import { imageStatus, PULL_MS, readyRegistry, withPulls, type ListImagesResponse, type PulledImages, type PullAuth } from './pulled-images.js';

/** Text with every secret replaced: a failure message must never carry the registry's password. */
const hide = (text: string, secrets: readonly string[]) => secrets.filter(Boolean).reduce((t, s) => t.split(s).join('***'), text);

/** ImageStatus of `ref` must name the image `id`; returns it. */
async function statusIs(cri: CriChannel, ref: string, id: string): Promise<Cri.Image> {
  const { image } = await imageStatus(cri, ref);
  if (!image) throw new Error(`ImageStatus ${ref} found no image right after PullImage answered ${id}`);
  if (image.id !== id) throw new Error(`ImageStatus ${ref} reports id ${image.id}, but PullImage answered ${id}`);
  return image;
}

function mustList(list: readonly string[], want: string, field: string, ref: string): void {
  if (!list.includes(want)) throw new Error(`${field} of ${ref} is [${list.join(', ')}]: it lacks ${want}`);
}

/**
 * A pull that must fail: within the deadline (a runtime that retries a 401 or 404 forever would
 * hang the kubelet's pull), with an error matching `says`, and never echoing a secret. If it
 * succeeds anyway, the tracker removes what it pulled.
 */
async function pullMustFail(pulled: PulledImages, ref: string, auth: PullAuth | undefined, says: RegExp, what: string, secrets: readonly string[]): Promise<void> {
  let err: unknown;
  try {
    await pulled.pull(ref, auth, PULL_MS);
  } catch (e) {
    err = e;
  }
  if (err === undefined) throw new Error(`PullImage ${ref} ${what} succeeded; it must fail`);
  if (isUnimplemented(err)) throw err;
  const message = err instanceof Error ? err.message : String(err);
  const shown = hide(message, secrets);
  if (secrets.some((s) => s && message.includes(s))) throw new Error(`PullImage ${ref} ${what} failed with an error that carries the password: ${shown}`);
  if (err instanceof CriRpcError && err.codeName === 'DEADLINE_EXCEEDED') {
    throw new Error(`PullImage ${ref} ${what} did not answer within ${PULL_MS / 1000} s: the runtime must fail with the registry's answer, not keep retrying`);
  }
  if (!says.test(message)) throw new Error(`PullImage ${ref} ${what} failed, but its error does not match ${says}: ${shown}`);
  const { image } = await imageStatus(pulled.cri, ref);
  if (image) throw new Error(`after the failed PullImage ${ref} ${what}, ImageStatus still finds image ${image.id}`);
}

const UNAUTHORIZED = /401|unauthori[sz]ed/i;
const NOT_FOUND = /not.?found|manifest unknown|name unknown|404/i;

/** Pulls from the session's local registries: plain, TLS, TLS with basic auth; refs that do not exist. */
export const imagePullTests: TestDef[] = [
  criTest({
    name: 'images-pull-plain-by-tag',
    title: 'PullImage by tag from a plain-HTTP registry; ImageStatus then knows the tag and the repo digest',
    rpcs: ['PullImage', 'ImageStatus'],
    async run({ ctx, cri, fx }) {
      const reg = readyRegistry(ctx, fx);
      await withPulls(cri, fx, async (pulled) => {
        const v = await pushVariant(reg, { name: 'plain-tag', kinds: ['plain'] });
        const refs = v.refs.plain!;
        const id = await pulled.pull(refs.byTag);
        const image = await statusIs(cri, refs.byTag, id);
        mustList(image.repo_tags, refs.byTag, 'repo_tags', refs.byTag);
        mustList(image.repo_digests, refs.byDigest, 'repo_digests', refs.byTag);
      });
    },
  }),
  criTest({
    name: 'images-pull-plain-by-digest',
    title: 'PullImage by digest; ImageStatus by that digest ref finds it, and no tag was invented for it',
    rpcs: ['PullImage', 'ImageStatus'],
    async run({ ctx, cri, fx }) {
      const reg = readyRegistry(ctx, fx);
      await withPulls(cri, fx, async (pulled) => {
        const v = await pushVariant(reg, { name: 'plain-digest', kinds: ['plain'] });
        const refs = v.refs.plain!;
        const id = await pulled.pull(refs.byDigest);
        const image = await statusIs(cri, refs.byDigest, id);
        mustList(image.repo_digests, refs.byDigest, 'repo_digests', refs.byDigest);
        // The tag exists in the registry, but a pull by digest never asked for it.
        if (image.repo_tags.includes(refs.byTag)) throw new Error(`after a pull by digest only, repo_tags lists the tag ${refs.byTag}`);
        const byTag = await imageStatus(cri, refs.byTag);
        if (byTag.image) throw new Error(`after a pull by digest only, ImageStatus ${refs.byTag} (never pulled) finds image ${byTag.image.id}`);
      });
    },
  }),
  criTest({
    name: 'images-pull-tls-by-tag',
    title: "PullImage by tag from a TLS registry whose CA the runtime trusts through its registry settings",
    rpcs: ['PullImage', 'ImageStatus'],
    async run({ ctx, cri, fx }) {
      const reg = readyRegistry(ctx, fx);
      await withPulls(cri, fx, async (pulled) => {
        const v = await pushVariant(reg, { name: 'tls-tag', kinds: ['tls'] });
        const refs = v.refs.tls!;
        const id = await pulled.pull(refs.byTag);
        const image = await statusIs(cri, refs.byTag, id);
        mustList(image.repo_tags, refs.byTag, 'repo_tags', refs.byTag);
      });
    },
  }),
  criTest({
    name: 'images-pull-auth-credentials',
    title: "PullImage from a basic-auth registry with PullImage's auth; the password appears in no answer and no registry log",
    rpcs: ['PullImage', 'ImageStatus', 'ListImages'],
    async run({ ctx, cri, fx }) {
      const reg = readyRegistry(ctx, fx);
      const creds = reg.registries.auth.credentials;
      const secrets = [creds.password];
      await withPulls(cri, fx, async (pulled) => {
        const v = await pushVariant(reg, { name: 'auth-ok', kinds: ['auth'] });
        const refs = v.refs.auth!;
        let id: string;
        try {
          id = await pulled.pull(refs.byTag, { username: creds.username, password: creds.password });
        } catch (err) {
          throw new Error(`PullImage ${refs.byTag} with the registry's credentials failed: ${hide((err as Error).message, secrets)}`);
        }
        await statusIs(cri, refs.byTag, id);
        const answers = {
          ImageStatus: JSON.stringify(await imageStatus(cri, refs.byTag, true)),
          ListImages: JSON.stringify(await cri.image<ListImagesResponse>('ListImages', {})),
          'the auth registry log': await readFile(reg.registries.auth.logFile, 'utf8'),
        };
        for (const [where, text] of Object.entries(answers)) {
          if (text.includes(creds.password)) throw new Error(`${where} carries the registry password after an authenticated pull`);
        }
      });
    },
  }),
  criTest({
    name: 'images-pull-auth-wrong-credentials',
    title: "PullImage with a wrong password fails promptly with the registry's 401, and the error carries no password",
    rpcs: ['PullImage'],
    async run({ ctx, cri, fx }) {
      const reg = readyRegistry(ctx, fx);
      const creds = reg.registries.auth.credentials;
      const wrong = randomBytes(24).toString('base64url');
      await withPulls(cri, fx, async (pulled) => {
        const v = await pushVariant(reg, { name: 'auth-wrong', kinds: ['auth'] });
        await pullMustFail(pulled, v.refs.auth!.byTag, { username: creds.username, password: wrong }, UNAUTHORIZED, 'with a wrong password', [creds.password, wrong]);
      });
    },
  }),
  criTest({
    name: 'images-pull-auth-no-credentials',
    title: "PullImage from a basic-auth registry without credentials fails with the registry's 401",
    rpcs: ['PullImage'],
    async run({ ctx, cri, fx }) {
      const reg = readyRegistry(ctx, fx);
      await withPulls(cri, fx, async (pulled) => {
        const v = await pushVariant(reg, { name: 'auth-none', kinds: ['auth'] });
        await pullMustFail(pulled, v.refs.auth!.byTag, undefined, UNAUTHORIZED, 'without credentials', [reg.registries.auth.credentials.password]);
      });
    },
  }),
  criTest({
    name: 'images-pull-missing-tag',
    title: "PullImage of a tag the registry does not have fails with the registry's not-found",
    rpcs: ['PullImage'],
    async run({ ctx, cri, fx }) {
      const reg = readyRegistry(ctx, fx);
      const busybox = reg.images.plain.busybox!;
      const ref = `${reg.hosts.plain}/${busybox.repo}:no-such-tag-${randomBytes(4).toString('hex')}`;
      await withPulls(cri, fx, (pulled) => pullMustFail(pulled, ref, undefined, NOT_FOUND, '(a tag the registry lacks)', []));
    },
  }),
  criTest({
    name: 'images-pull-missing-repo',
    title: "PullImage from a repository the registry does not have fails with the registry's not-found",
    rpcs: ['PullImage'],
    async run({ ctx, cri, fx }) {
      const reg = readyRegistry(ctx, fx);
      const ref = `${reg.hosts.plain}/tsuite/no-such-repo-${randomBytes(4).toString('hex')}:latest`;
      await withPulls(cri, fx, (pulled) => pullMustFail(pulled, ref, undefined, NOT_FOUND, '(a repository the registry lacks)', []));
    },
  }),
  criTest({
    name: 'images-pull-same-id-every-rpc',
    title: 'The image id is the same from PullImage (by tag and by digest), ImageStatus (by tag, digest and id) and ListImages',
    rpcs: ['PullImage', 'ImageStatus', 'ListImages'],
    async run({ ctx, cri, fx }) {
      const reg = readyRegistry(ctx, fx);
      await withPulls(cri, fx, async (pulled) => {
        const v = await pushVariant(reg, { name: 'same-id', kinds: ['plain'] });
        const refs = v.refs.plain!;
        const id = await pulled.pull(refs.byTag);
        const again = await pulled.pull(refs.byDigest);
        if (again !== id) throw new Error(`PullImage by tag answered ${id}, by digest ${again}: one image, two ids`);
        for (const ref of [refs.byTag, refs.byDigest, id]) await statusIs(cri, ref, id);
        const { images } = await cri.image<ListImagesResponse>('ListImages', {});
        const listed = images.filter((i) => i.repo_tags.includes(refs.byTag) || i.repo_digests.includes(refs.byDigest));
        if (listed.length !== 1) throw new Error(`ListImages lists ${listed.length} images for ${refs.byTag} (ids: ${listed.map((i) => i.id).join(', ') || 'none'}); expected one`);
        if (listed[0]!.id !== id) throw new Error(`ListImages reports id ${listed[0]!.id} for ${refs.byTag}; PullImage answered ${id}`);
      });
    },
  }),
  criTest({
    name: 'images-pull-twice',
    title: 'Pulling the same ref twice answers the same id and leaves one image with the tag listed once',
    rpcs: ['PullImage', 'ListImages'],
    async run({ ctx, cri, fx }) {
      const reg = readyRegistry(ctx, fx);
      await withPulls(cri, fx, async (pulled) => {
        const v = await pushVariant(reg, { name: 'twice', kinds: ['plain'] });
        const ref = v.refs.plain!.byTag;
        const first = await pulled.pull(ref);
        const second = await pulled.pull(ref);
        if (first !== second) throw new Error(`PullImage ${ref} answered ${first}, then ${second}`);
        const { images } = await cri.image<ListImagesResponse>('ListImages', {});
        const withId = images.filter((i) => i.id === first);
        if (withId.length !== 1) throw new Error(`ListImages lists image ${first} ${withId.length} times after two pulls`);
        const tags = withId[0]!.repo_tags.filter((t) => t === ref).length;
        if (tags !== 1) throw new Error(`repo_tags of ${first} lists ${ref} ${tags} times: [${withId[0]!.repo_tags.join(', ')}]`);
      });
    },
  }),
];
