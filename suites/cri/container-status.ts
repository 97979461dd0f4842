import { posix } from 'node:path';
import type { Cri, TestDef } from '../../src/index.js';
import { criTest } from './cri-test.js';
import { expectIds, expectSubset, listContainers } from './lifecycle-calls.js';
import type { CriScope } from './scope.js';

/**
 * Two pods; in the first `a` RUNNING (role=web), `b` EXITED (role=db), `c` CREATED (role=web);
 * in the second `d` RUNNING (role=web).
 */
async function fourContainers(scope: CriScope) {
  const one = await scope.runPod();
  const two = await scope.runPod();
  const a = await scope.startContainer(one, 'a', { labels: { role: 'web' } });
  const b = await scope.startContainer(one, 'b', { labels: { role: 'db' }, command: ['true'] });
  const c = await scope.createContainer(one, 'c', { labels: { role: 'web' } });
  const d = await scope.startContainer(two, 'd', { labels: { role: 'web' } });
  await scope.waitStatus(b, (s) => s.state === 'CONTAINER_EXITED', 'exit');
  return { one, two, a, b, c, d };
}

/** The id of the image a ref names, as ImageStatus resolves it. */
async function imageId(scope: CriScope, ref: string): Promise<string | undefined> {
  const r = await scope.cri.image<Cri.ImageStatusResponse>('ImageStatus', { image: { image: ref } });
  return r.image?.id;
}

/** What ContainerStatus and ListContainers report of a container, and the list's filters. */
export const containerStatusTests: TestDef[] = [
  criTest({
    name: 'container-status-metadata',
    title: 'ContainerStatus returns the id, the metadata (name, attempt) exactly as given, and the labels and annotations',
    rpcs: ['CreateContainer', 'ContainerStatus'],
    async run({ scope }) {
      const pod = await scope.runPod();
      const metadata = { name: 'meta', attempt: 4 };
      const labels = { app: 'tsuite', 'tier.example.com/role': 'cache' };
      const annotations = { note: 'kept as given', 'empty.example.com/x': '' };
      const id = await scope.createContainer(pod, 'meta', { metadata, labels, annotations });
      const s = await scope.status(id);
      if (s.id !== id) throw new Error(`status id '${s.id}' is not the id CreateContainer returned '${id}'`);
      if (s.metadata?.name !== metadata.name || s.metadata.attempt !== metadata.attempt) throw new Error(`metadata changed: sent ${JSON.stringify(metadata)}, status has ${JSON.stringify(s.metadata)}`);
      expectSubset(s.labels, labels, 'status labels');
      expectSubset(s.annotations, annotations, 'status annotations');
    },
  }),
  criTest({
    name: 'container-status-image',
    title: "ContainerStatus names the container's image and an image_ref, both resolving to the image it was created from",
    rpcs: ['ContainerStatus'],
    async run({ scope }) {
      const { id } = await scope.podWithContainer();
      const want = await imageId(scope, scope.images.busybox);
      if (!want) throw new Error(`ImageStatus knows no image ${scope.images.busybox}, which the container was created from`);
      const s = await scope.status(id);
      if (!s.image?.image) throw new Error('ContainerStatus names no image');
      if (!s.image_ref) throw new Error('ContainerStatus has an empty image_ref');
      for (const [field, ref] of [['image.image', s.image.image], ['image_ref', s.image_ref]] as const) {
        const got = await imageId(scope, ref);
        if (got !== want) throw new Error(`status ${field} '${ref}' resolves to image ${got ?? 'none'}, not ${want} (${scope.images.busybox})`);
      }
    },
  }),
  criTest({
    name: 'container-status-log-path',
    title: "ContainerStatus log_path is the pod's log_directory joined with the container's log_path",
    rpcs: ['ContainerStatus'],
    async run({ scope }) {
      const { pod, id } = await scope.podWithContainer('logger', { log_path: 'logger/0.log' });
      const want = posix.join(pod.config.log_directory, 'logger/0.log');
      const s = await scope.status(id);
      if (s.log_path !== want) throw new Error(`status log_path is '${s.log_path}', expected '${want}'`);
    },
  }),
  criTest({
    name: 'container-status-verbose',
    title: 'ContainerStatus with verbose adds runtime info; without it, none',
    rpcs: ['ContainerStatus'],
    async run({ cri, scope }) {
      const { id } = await scope.podWithContainer();
      const quiet = await cri.runtime<Cri.ContainerStatusResponse>('ContainerStatus', { container_id: id });
      if (Object.keys(quiet.info).length > 0) throw new Error(`ContainerStatus without verbose returned info keys: ${Object.keys(quiet.info).join(', ')}`);
      const verbose = await cri.runtime<Cri.ContainerStatusResponse>('ContainerStatus', { container_id: id, verbose: true });
      if (Object.keys(verbose.info).length === 0) throw new Error('ContainerStatus with verbose returned no info');
    },
  }),
  criTest({
    name: 'container-list-matches-status',
    title: 'ListContainers reports a container with its pod id and the same metadata, state, created_at, image, labels and annotations as ContainerStatus',
    rpcs: ['ListContainers', 'ContainerStatus'],
    async run({ scope }) {
      const { pod, id } = await scope.podWithContainer('main', { annotations: { listed: 'yes' } });
      const s = await scope.status(id);
      const items = await listContainers(scope);
      expectIds(items, [id], "the scope's containers");
      const item = items[0]!;
      if (item.pod_sandbox_id !== pod.id) throw new Error(`the listed container's pod_sandbox_id is '${item.pod_sandbox_id}', expected '${pod.id}'`);
      const pick = (c: Cri.Container | Cri.ContainerStatus) => JSON.stringify([c.metadata, c.state, c.created_at, c.image?.image]);
      if (pick(item) !== pick(s)) throw new Error(`list item [metadata, state, created_at, image] ${pick(item)} differs from status ${pick(s)}`);
      // CRI asks for "a reference to the image in use" in both, not the same spelling (containerd lists the id, its status a digest ref).
      const [listed, stated] = [await imageId(scope, item.image_ref), await imageId(scope, s.image_ref)];
      if (!listed || listed !== stated) throw new Error(`the listed image_ref '${item.image_ref}' resolves to ${listed ?? 'no image'}, the status's '${s.image_ref}' to ${stated ?? 'no image'}`);
      expectSubset(item.labels, s.labels, 'listed labels');
      expectSubset(item.annotations, s.annotations, 'listed annotations');
    },
  }),
  criTest({
    name: 'container-list-filter-id',
    title: 'ListContainers filtered by id lists only that container; an unknown id lists none',
    rpcs: ['ListContainers'],
    async run({ scope }) {
      const { a, b, c, d } = await fourContainers(scope);
      expectIds(await listContainers(scope), [a, b, c, d], 'unfiltered');
      expectIds(await listContainers(scope, { id: b }), [b], "filtered by b's id");
      expectIds(await listContainers(scope, { id: 'f'.repeat(64) }), [], 'filtered by an id never made');
    },
  }),
  criTest({
    name: 'container-list-filter-id-prefix',
    title: 'ListContainers filtered by a unique prefix of an id lists that container (runtimes that resolve truncated ids), never another',
    rpcs: ['ListContainers'],
    async run({ ctx, scope }) {
      const { a, b } = await fourContainers(scope);
      let n = 0;
      while (a[n] === b[n]) n++;
      const prefix = a.slice(0, Math.max(12, n + 1));
      const items = await listContainers(scope, { id: prefix });
      if (items.some((x) => x.id !== a)) throw new Error(`filtered by the prefix ${prefix} of one container's id, the list holds another: ${items.map((x) => x.id.slice(0, 12)).join(', ')}`);
      // CRI names the filter an id, not a prefix: a runtime that matches only whole ids is within the contract.
      if (items.length === 0) ctx.skip(`the runtime matches only whole container ids in ListContainers (a ${prefix.length}-character prefix listed none); CRI does not require prefixes`);
      expectIds(items, [a], `filtered by the prefix ${prefix}`);
    },
  }),
  criTest({
    name: 'container-list-filter-state',
    title: 'ListContainers filtered by state lists the CREATED, the RUNNING or the EXITED containers',
    rpcs: ['ListContainers'],
    async run({ scope }) {
      const { a, b, c, d } = await fourContainers(scope);
      expectIds(await listContainers(scope, { state: 'CONTAINER_CREATED' }), [c], 'filtered by CONTAINER_CREATED');
      expectIds(await listContainers(scope, { state: 'CONTAINER_RUNNING' }), [a, d], 'filtered by CONTAINER_RUNNING');
      expectIds(await listContainers(scope, { state: 'CONTAINER_EXITED' }), [b], 'filtered by CONTAINER_EXITED');
    },
  }),
  criTest({
    name: 'container-list-filter-pod',
    title: 'ListContainers filtered by pod_sandbox_id lists only that pod\'s containers',
    rpcs: ['ListContainers'],
    async run({ scope }) {
      const { one, two, a, b, c, d } = await fourContainers(scope);
      expectIds(await listContainers(scope, { podId: one.id }), [a, b, c], 'filtered by the first pod');
      expectIds(await listContainers(scope, { podId: two.id }), [d], 'filtered by the second pod');
      expectIds(await listContainers(scope, { podId: 'f'.repeat(64) }), [], 'filtered by a pod id never made');
    },
  }),
  criTest({
    name: 'container-list-filter-labels',
    title: 'ListContainers filtered by a label selector lists the containers carrying every label of it with the same value',
    rpcs: ['ListContainers'],
    async run({ scope }) {
      const { a, b, c, d } = await fourContainers(scope);
      expectIds(await listContainers(scope, { labels: { role: 'web' } }), [a, c, d], 'selector role=web');
      expectIds(await listContainers(scope, { labels: { role: 'db' } }), [b], 'selector role=db');
      expectIds(await listContainers(scope, { labels: { role: 'cache' } }), [], 'selector role=cache (no container has it)');
    },
  }),
  criTest({
    name: 'container-list-filter-combined',
    title: 'ListContainers with id, state, pod and labels together lists only containers matching all of them',
    rpcs: ['ListContainers'],
    async run({ scope }) {
      const { one, two, a, c } = await fourContainers(scope);
      expectIds(await listContainers(scope, { podId: one.id, labels: { role: 'web' } }), [a, c], 'first pod and role=web');
      expectIds(await listContainers(scope, { podId: one.id, state: 'CONTAINER_RUNNING', labels: { role: 'web' } }), [a], 'first pod, RUNNING and role=web');
      expectIds(await listContainers(scope, { id: a, state: 'CONTAINER_EXITED' }), [], "a's id but EXITED (a is running)");
      expectIds(await listContainers(scope, { id: a, podId: two.id }), [], "a's id but the second pod (a is in the first)");
    },
  }),
];
