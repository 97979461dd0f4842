import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extract } from 'tar-stream';
import { imageArch } from '../../oci-images/builder/arch.js';
import { buildTestImages } from '../../oci-images/builder/build-images.js';
import type { RuntimeConfig } from '../../oci-images/builder/definition.js';
import { assembleImage, writeImageArchive } from '../../oci-images/builder/image-archive.js';
import { layerTar } from '../../oci-images/builder/layer-tar.js';
import { CUSTOM_IMAGES, IMAGE_NAMES } from '../../oci-images/images.js';
import type { TestDef } from '../../src/index.js';
import { containerFixture, RUN_LABEL, TEST_LABEL } from './fixture.js';
import { dockerTest, expectStatus, type Scope } from './scope.js';

/** An image made for one test, so what the engine reports can be compared with what we defined. */
interface MadeImage {
  repo: string;
  ref: string;
  /** sha256 of the config we wrote: the id the engine must give it. */
  id: string;
  diffIds: string[];
  config: RuntimeConfig;
  /** The one file of its one layer, and what it holds. */
  file: { path: string; content: string };
}

/**
 * Builds a one-layer image (data only: nothing in it runs) with the test's name and the run id in
 * its labels and its file, so its id is new to the engine, and loads it with POST /images/load.
 */
async function loadMadeImage(s: Scope, test: string): Promise<MadeImage & { loadOutput: string }> {
  const content = `made for ${test} in run ${s.ctx.runId}\n`;
  const file = { path: '/data/hello.txt', content };
  const config: RuntimeConfig = {
    Entrypoint: ['/bin/tsuite-entry', '--mode'],
    Cmd: ['serve', 'two words'],
    Env: ['PATH=/usr/bin:/bin', `TSUITE_IMAGE=${test}`],
    WorkingDir: '/data',
    User: '1000:1000',
    ExposedPorts: ['8080/tcp'],
    StopSignal: 'SIGUSR1',
    Labels: { ...s.labels, 'org.opencontainers.image.description': 'a containers-suite test image' },
  };
  const repo = `tsuite-test/${test}`;
  const tar = await layerTar([{ type: 'file', path: file.path, content: Buffer.from(content), mode: 0o644 }]);
  const img = assembleImage({ name: test, arch: imageArch(s.ctx.target.arch).oci, layers: [{ name: 'data', tar }], config, repository: repo });
  // Removed at the end: the tag, then (if it is still there) the image by id.
  s.adoptImage(img.id);
  s.adoptImage(img.ref);

  const dir = await mkdtemp(join(tmpdir(), 'tsuite-image-'));
  try {
    const archive = join(dir, 'image.tar');
    await writeImageArchive(img, archive);
    const res = await s.api.loadImage(createReadStream(archive), { abortSignal: s.signal } as object);
    const events = await new Promise<{ stream?: string; error?: string }[]>((resolve, reject) =>
      s.api.modem.followProgress(res, (err: Error | null, out: { stream?: string; error?: string }[]) => (err ? reject(err) : resolve(out))),
    );
    const failed = events.find((e) => e.error);
    if (failed) throw new Error(`POST /images/load failed: ${failed.error}`);
    return { repo, ref: img.ref, id: img.id, diffIds: img.layers.map((l) => l.digest), config, file, loadOutput: events.map((e) => e.stream ?? '').join('') };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Reads one file out of a container's filesystem with GET /containers/{id}/archive (a tar). */
async function readFromContainer(s: Scope, id: string, path: string): Promise<string> {
  const stream = await s.api.getContainer(id).getArchive({ path });
  const ex = extract();
  const files: string[] = [];
  ex.on('entry', (_header, body, next) => {
    const chunks: Buffer[] = [];
    body.on('data', (c: unknown) => void chunks.push(c as Buffer));
    body.on('end', () => {
      files.push(Buffer.concat(chunks).toString());
      next();
    });
  });
  await new Promise<void>((resolve, reject) => {
    ex.on('finish', resolve);
    ex.on('error', reject);
    stream.pipe(ex);
  });
  if (files.length !== 1) throw new Error(`GET archive of ${path} held ${files.length} entries, not 1`);
  return files[0]!;
}

const eq = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * First in the suite: the shared fixture builds (on a fresh machine, minutes) and loads tsuite's
 * images here, so that time is this test's and not that of whichever test happened to come first.
 */
export const testImagesTest: TestDef = dockerTest({
  name: 'images-test-images',
  title: "tsuite's test images are on the engine (POST /images/load), each under the id it was built with, and busybox runs",
  timeoutMs: 900_000,
  async run(s) {
    const local = s.ctx.target.containerImages === 'upstream' ? CUSTOM_IMAGES : IMAGE_NAMES;
    // Already built by the fixture: this only finds the cached builds and their ids.
    const built = await buildTestImages(s.ctx.target.arch, { step: (_label, work) => work() }, { only: local });
    const wrong: string[] = [];
    for (const name of local) {
      const id = (await s.api.getImage(s.images[name]).inspect()).Id;
      if (id !== built[name].id) wrong.push(`${s.images[name]} is ${id} on the engine, built as ${built[name].id}`);
    }
    if (wrong.length) throw new Error(wrong.join('; '));
    const r = await s.run(s.images.busybox, ['echo', 'ok']);
    if (r.exitCode !== 0 || r.stdout !== 'ok\n') throw new Error(`busybox printed ${JSON.stringify(r.stdout)} and exited ${r.exitCode}`);
    // What the session's sweep found of earlier, killed runs (it never fails a test).
    const { swept } = await containerFixture(s.ctx);
    s.ctx.metric({ name: 'leftovers-removed', unit: 'objects', value: swept.removed.length });
    if (swept.failed.length > 0) s.ctx.metric({ name: 'leftovers-not-removed', unit: 'objects', value: swept.failed.length });
  },
});

export const imageTests: TestDef[] = [
  dockerTest({
    name: 'images-load',
    title: 'POST /images/load: a docker-archive made here loads with the id of its config, its layers and its files',
    async run(s) {
      const img = await loadMadeImage(s, 'images-load');
      if (!img.loadOutput.includes(img.ref) && !img.loadOutput.includes(img.id)) throw new Error(`the load reported neither ${img.ref} nor ${img.id}: ${JSON.stringify(img.loadOutput)}`);
      const info = await s.api.getImage(img.ref).inspect();
      if (info.Id !== img.id) throw new Error(`${img.ref} loaded as ${info.Id}; its config's digest is ${img.id}`);
      if (!eq(info.RootFS.Layers, img.diffIds)) throw new Error(`RootFS.Layers is ${JSON.stringify(info.RootFS.Layers)}, not ${JSON.stringify(img.diffIds)}`);
      if (info.Os !== 'linux' || info.Architecture !== imageArch(s.ctx.target.arch).oci) throw new Error(`the image is ${info.Os}/${info.Architecture}`);
      // Its filesystem is what the layer held (a container is created, never started: nothing in the image runs).
      const c = await s.createContainer({ Image: img.ref });
      const got = await readFromContainer(s, c.id, img.file.path);
      if (got !== img.file.content) throw new Error(`${img.file.path} in a container of the image holds ${JSON.stringify(got)}, not ${JSON.stringify(img.file.content)}`);
    },
  }),
  dockerTest({
    name: 'images-list',
    title: 'GET /images/json: filters by reference and by label find the loaded image and only it',
    async run(s) {
      const img = await loadMadeImage(s, 'images-list');
      const byRef = await s.api.listImages({ filters: { reference: [img.repo] } });
      if (byRef.length !== 1 || byRef[0]!.Id !== img.id || !byRef[0]!.RepoTags?.includes(img.ref))
        throw new Error(`reference=${img.repo} listed ${JSON.stringify(byRef.map((i) => ({ Id: i.Id, RepoTags: i.RepoTags })))}`);
      const byLabel = await s.api.listImages({ filters: { label: [`${RUN_LABEL}=${s.ctx.runId}`, `${TEST_LABEL}=images-list`] } });
      if (byLabel.length !== 1 || byLabel[0]!.Id !== img.id) throw new Error(`label filter listed ${JSON.stringify(byLabel.map((i) => i.Id))}, not only ${img.id}`);
      if (byLabel[0]!.Labels?.[TEST_LABEL] !== 'images-list') throw new Error(`the listed image's labels are ${JSON.stringify(byLabel[0]!.Labels)}`);
      const none = await s.api.listImages({ filters: { label: [`${TEST_LABEL}=no-such-test-${s.ctx.runId}`] } });
      if (none.length !== 0) throw new Error(`a label no image has listed ${none.length} image(s)`);
      const all = await s.api.listImages();
      if (!all.some((i) => i.Id === img.id)) throw new Error('the unfiltered list lacks the loaded image');
    },
  }),
  dockerTest({
    name: 'images-inspect',
    title: 'GET /images/{name}/json: Entrypoint, Cmd, Env, WorkingDir, User, ports, stop signal and labels as defined, and inherited by a container',
    async run(s) {
      const img = await loadMadeImage(s, 'images-inspect');
      const c = (await s.api.getImage(img.ref).inspect()).Config;
      const want = img.config;
      const checks: [string, unknown, unknown][] = [
        ['Entrypoint', c.Entrypoint, want.Entrypoint],
        ['Cmd', c.Cmd, want.Cmd],
        ['Env', c.Env, want.Env],
        ['WorkingDir', c.WorkingDir, want.WorkingDir],
        ['User', c.User, want.User],
        ['ExposedPorts', Object.keys(c.ExposedPorts ?? {}), want.ExposedPorts],
        ['StopSignal', (c as { StopSignal?: string }).StopSignal, want.StopSignal],
        [`Labels[${TEST_LABEL}]`, c.Labels?.[TEST_LABEL], 'images-inspect'],
      ];
      const wrong = checks.filter(([, got, exp]) => !eq(got, exp)).map(([k, got, exp]) => `${k} is ${JSON.stringify(got)}, not ${JSON.stringify(exp)}`);
      if (wrong.length) throw new Error(`image config: ${wrong.join('; ')}`);
      // A container with no overrides takes them all from the image; one override replaces only its field.
      const made = await s.createContainer({ Image: img.ref, Cmd: ['other'] });
      const cc = (await made.inspect()).Config;
      const inherited: [string, unknown, unknown][] = [
        ['Entrypoint', cc.Entrypoint, want.Entrypoint],
        ['Cmd', cc.Cmd, ['other']],
        ['WorkingDir', cc.WorkingDir, want.WorkingDir],
        ['User', cc.User, want.User],
      ];
      const bad = inherited.filter(([, got, exp]) => !eq(got, exp)).map(([k, got, exp]) => `${k} is ${JSON.stringify(got)}, not ${JSON.stringify(exp)}`);
      for (const e of want.Env ?? []) if (!cc.Env?.includes(e)) bad.push(`Env lacks ${e}`);
      if (bad.length) throw new Error(`container config: ${bad.join('; ')}`);
    },
  }),
  dockerTest({
    name: 'images-tag',
    title: 'POST /images/{name}/tag: the new tag resolves to the same id; removing it untags and keeps the image',
    async run(s) {
      const img = await loadMadeImage(s, 'images-tag');
      const alias = await s.tag(img.ref, `${img.repo}-alias`, 'v1');
      const tagged = await s.api.getImage(alias).inspect();
      if (tagged.Id !== img.id) throw new Error(`${alias} resolves to ${tagged.Id}, not ${img.id}`);
      if (!tagged.RepoTags.includes(alias) || !tagged.RepoTags.includes(img.ref)) throw new Error(`RepoTags is ${JSON.stringify(tagged.RepoTags)}`);
      const removed = (await s.api.getImage(alias).remove()) as { Untagged?: string; Deleted?: string }[];
      if (!removed.some((r) => r.Untagged?.endsWith(alias)) || removed.some((r) => r.Deleted))
        throw new Error(`removing the extra tag answered ${JSON.stringify(removed)}: expected only Untagged ${alias}`);
      const after = await s.api.getImage(img.ref).inspect();
      if (after.Id !== img.id || after.RepoTags.includes(alias)) throw new Error(`after untagging, ${img.ref} is ${after.Id} with RepoTags ${JSON.stringify(after.RepoTags)}`);
      const gone = await expectStatus(`inspecting the removed tag ${alias}`, s.api.getImage(alias).inspect());
      if (gone !== 404) throw new Error(`inspecting the removed tag answered ${gone}, not 404`);
    },
  }),
  dockerTest({
    name: 'images-remove',
    title: 'DELETE /images/{name}: refused (409) while a container uses the image unless forced; gone afterwards',
    async run(s) {
      const img = await loadMadeImage(s, 'images-remove');
      const c = await s.createContainer({ Image: img.ref });
      const refused = await expectStatus('removing an image a container uses', s.api.getImage(img.ref).remove());
      if (refused !== 409) throw new Error(`removing an image a container uses answered ${refused}, not 409`);
      if ((await s.api.getImage(img.ref).inspect()).Id !== img.id) throw new Error('the refused removal changed the image');
      const forced = (await s.api.getImage(img.ref).remove({ force: true })) as { Untagged?: string; Deleted?: string }[];
      if (!forced.some((r) => r.Untagged?.endsWith(img.ref))) throw new Error(`the forced removal answered ${JSON.stringify(forced)}: no Untagged ${img.ref}`);
      const byRef = await expectStatus(`inspecting ${img.ref} after removal`, s.api.getImage(img.ref).inspect());
      if (byRef !== 404) throw new Error(`inspecting the removed ${img.ref} answered ${byRef}, not 404`);
      // With the container gone, removing by id deletes what is left.
      await c.remove({ force: true });
      await s.api
        .getImage(img.id)
        .remove()
        .catch((err: { statusCode?: number }) => {
          if (err.statusCode !== 404) throw err;
        });
      const byId = await expectStatus(`inspecting ${img.id} after removal`, s.api.getImage(img.id).inspect());
      if (byId !== 404) throw new Error(`inspecting the removed image by id answered ${byId}, not 404`);
    },
  }),
];
