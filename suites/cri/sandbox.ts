import type { Cri, CriChannel, TestDef } from '../../src/index.js';
import { criTest } from './cri-test.js';
import { expectIds, expectNotFound, expectSaneTime, expectSubset, iso, listContainers, listPods, podStatus, refused } from './lifecycle-calls.js';
import { sandboxConfigTests } from './sandbox-config.js';
import { sandboxListTests } from './sandbox-list.js';

const stopPod = (t: { cri: CriChannel }, id: string) => t.cri.runtime('StopPodSandbox', { pod_sandbox_id: id });
const removePod = (t: { cri: CriChannel }, id: string) => t.cri.runtime('RemovePodSandbox', { pod_sandbox_id: id });

function expectState(s: { state: Cri.PodSandboxState }, want: Cri.PodSandboxState, what: string): void {
  if (s.state !== want) throw new Error(`${what}: state ${s.state}, expected ${want}`);
}

/** Pod sandboxes: what RunPodSandbox keeps, how stop and remove behave, and the errors CRI prescribes. */
export const sandboxTests: TestDef[] = [
  criTest({
    name: 'sandbox-status-fields',
    title: 'PodSandboxStatus returns the id, the metadata exactly as given, the labels and annotations, and READY',
    rpcs: ['RunPodSandbox', 'PodSandboxStatus'],
    async run({ scope }) {
      const base = scope.podConfig({ labels: { app: 'tsuite', 'tier.example.com/role': 'db' }, annotations: { note: 'kept as given', 'empty.example.com/x': '' } });
      // A non-zero attempt and an unusual namespace: a runtime that rebuilds metadata from a name would lose them.
      const metadata = { ...base.metadata, namespace: 'tsuite-ns-x', attempt: 7 };
      const { pod_sandbox_id: id } = await scope.cri.runtime<{ pod_sandbox_id: string }>('RunPodSandbox', { config: { ...base, metadata } }, { timeoutMs: 120_000 });
      if (!id) throw new Error('RunPodSandbox answered with no pod_sandbox_id');
      const { status } = await podStatus(scope, id);
      if (status.id !== id) throw new Error(`status id '${status.id}' is not the id RunPodSandbox returned '${id}'`);
      const got = status.metadata;
      if (!got || got.name !== metadata.name || got.uid !== metadata.uid || got.namespace !== metadata.namespace || got.attempt !== metadata.attempt) {
        throw new Error(`metadata changed: sent ${JSON.stringify(metadata)}, status has ${JSON.stringify(got)}`);
      }
      expectSubset(status.labels, base.labels, 'status labels');
      expectSubset(status.annotations, base.annotations, 'status annotations');
      expectState(status, 'SANDBOX_READY', 'a running pod');
    },
  }),
  criTest({
    name: 'sandbox-created-at',
    title: "A pod's created_at is a nanosecond time near now, and a pod created later has a later one",
    rpcs: ['RunPodSandbox', 'PodSandboxStatus'],
    async run({ scope }) {
      const first = await scope.runPod();
      const second = await scope.runPod();
      const a = (await podStatus(scope, first.id)).status.created_at;
      const b = (await podStatus(scope, second.id)).status.created_at;
      expectSaneTime(a, 'the first pod\'s created_at');
      expectSaneTime(b, 'the second pod\'s created_at');
      if (!(b > a)) throw new Error(`the pod created second has created_at ${iso(b)}, not after the first's ${iso(a)}`);
    },
  }),
  criTest({
    name: 'sandbox-list-matches-status',
    title: 'ListPodSandbox reports a pod with the same metadata, state, created_at, labels, annotations and handler as PodSandboxStatus',
    rpcs: ['ListPodSandbox', 'PodSandboxStatus'],
    async run({ scope }) {
      const pod = await scope.runPod({ annotations: { listed: 'yes' } });
      const { status } = await podStatus(scope, pod.id);
      const items = await listPods(scope);
      expectIds(items, [pod.id], "the scope's pods");
      const item = items[0]!;
      const pick = (p: Cri.PodSandbox | Cri.PodSandboxStatus) => JSON.stringify([p.metadata, p.state, p.created_at, p.runtime_handler]);
      if (pick(item) !== pick(status)) throw new Error(`list item [metadata, state, created_at, handler] ${pick(item)} differs from status ${pick(status)}`);
      expectSubset(item.labels, status.labels, 'listed labels');
      expectSubset(item.annotations, status.annotations, 'listed annotations');
    },
  }),
  criTest({
    name: 'sandbox-stop-notready',
    title: 'StopPodSandbox turns the pod NOTREADY, in its status and in the list',
    rpcs: ['StopPodSandbox', 'PodSandboxStatus', 'ListPodSandbox'],
    async run(t) {
      const pod = await t.scope.runPod();
      await stopPod(t, pod.id);
      expectState((await podStatus(t.scope, pod.id)).status, 'SANDBOX_NOTREADY', 'the stopped pod\'s status');
      const items = await listPods(t.scope, { id: pod.id });
      expectIds(items, [pod.id], 'the stopped pod, listed by id');
      expectState(items[0]!, 'SANDBOX_NOTREADY', 'the stopped pod in the list');
    },
  }),
  criTest({
    name: 'sandbox-stop-idempotent',
    title: 'StopPodSandbox on a pod already stopped succeeds (CRI: stop is idempotent)',
    rpcs: ['StopPodSandbox'],
    async run(t) {
      const pod = await t.scope.runPod();
      await stopPod(t, pod.id);
      await stopPod(t, pod.id).catch((err: Error) => {
        throw new Error(`stopping the pod a second time failed: ${err.message}`);
      });
      expectState((await podStatus(t.scope, pod.id)).status, 'SANDBOX_NOTREADY', 'the pod stopped twice');
    },
  }),
  criTest({
    name: 'sandbox-stop-stops-containers',
    title: "StopPodSandbox stops the pod's running containers: they are EXITED",
    rpcs: ['StopPodSandbox', 'ContainerStatus'],
    async run(t) {
      const pod = await t.scope.runPod();
      const a = await t.scope.startContainer(pod, 'a');
      const b = await t.scope.startContainer(pod, 'b');
      await stopPod(t, pod.id);
      for (const id of [a, b]) {
        const s = await t.scope.status(id);
        if (s.state !== 'CONTAINER_EXITED') throw new Error(`container ${s.metadata?.name} is ${s.state} after its pod was stopped, expected CONTAINER_EXITED`);
      }
    },
  }),
  criTest({
    name: 'sandbox-remove-idempotent',
    title: 'RemovePodSandbox of a pod already removed, or of an id never made, succeeds (CRI: remove is idempotent)',
    rpcs: ['RemovePodSandbox'],
    async run(t) {
      const pod = await t.scope.runPod();
      await stopPod(t, pod.id);
      await removePod(t, pod.id);
      await removePod(t, pod.id).catch((err: Error) => {
        throw new Error(`removing the pod a second time failed: ${err.message}`);
      });
      const unknown = 'f'.repeat(64);
      await removePod(t, unknown).catch((err: Error) => {
        throw new Error(`removing a pod id that never existed failed: ${err.message}`);
      });
    },
  }),
  criTest({
    name: 'sandbox-remove-ready-pod',
    title: 'RemovePodSandbox of a READY pod with a running container removes both (CRI: running containers are forcibly removed)',
    rpcs: ['RemovePodSandbox', 'ListPodSandbox', 'ListContainers', 'ContainerStatus'],
    async run(t) {
      const { pod, id } = await t.scope.podWithContainer();
      await removePod(t, pod.id);
      expectIds(await listPods(t.scope), [], 'pods after RemovePodSandbox');
      expectIds(await listContainers(t.scope), [], 'containers after their pod was removed');
      await expectNotFound(t.cri.runtime('ContainerStatus', { container_id: id }), 'ContainerStatus of a container whose pod was removed');
    },
  }),
  criTest({
    name: 'sandbox-status-removed-not-found',
    title: 'PodSandboxStatus of a removed pod, and of an id never made, answers NOT_FOUND',
    rpcs: ['PodSandboxStatus', 'RemovePodSandbox'],
    async run(t) {
      const pod = await t.scope.runPod();
      await stopPod(t, pod.id);
      await removePod(t, pod.id);
      await expectNotFound(t.cri.runtime('PodSandboxStatus', { pod_sandbox_id: pod.id }), 'PodSandboxStatus of a removed pod');
      await expectNotFound(t.cri.runtime('PodSandboxStatus', { pod_sandbox_id: 'f'.repeat(64) }), 'PodSandboxStatus of an id never made');
    },
  }),
  criTest({
    name: 'sandbox-name-conflict',
    title: 'A second pod with the same name, uid, namespace and attempt is refused; attempt + 1 is accepted; a removed pod frees its name',
    rpcs: ['RunPodSandbox', 'RemovePodSandbox'],
    async run(t) {
      const config = t.scope.podConfig();
      const run = (c: typeof config) => t.cri.runtime<{ pod_sandbox_id: string }>('RunPodSandbox', { config: c }, { timeoutMs: 120_000 });
      const first = await run(config);
      const err = await refused(run(config), 'a second pod with the same metadata');
      const next = await run({ ...config, metadata: { ...config.metadata, attempt: 1 } }).catch((e: Error) => {
        throw new Error(`the same pod with attempt 1 was refused: ${e.message} (the same attempt was refused with ${err.codeName})`);
      });
      if (next.pod_sandbox_id === first.pod_sandbox_id) throw new Error('attempt 1 got the same pod id as attempt 0');
      await stopPod(t, first.pod_sandbox_id);
      await removePod(t, first.pod_sandbox_id);
      await run(config).catch((e: Error) => {
        throw new Error(`reusing the metadata of a removed pod was refused: ${e.message}`);
      });
    },
  }),
  criTest({
    name: 'sandbox-status-verbose',
    title: 'PodSandboxStatus with verbose adds runtime info; without it, none',
    rpcs: ['PodSandboxStatus'],
    async run({ scope }) {
      const pod = await scope.runPod();
      const quiet = await podStatus(scope, pod.id);
      if (Object.keys(quiet.info).length > 0) throw new Error(`PodSandboxStatus without verbose returned info keys: ${Object.keys(quiet.info).join(', ')}`);
      const verbose = await podStatus(scope, pod.id, true);
      if (Object.keys(verbose.info).length === 0) throw new Error('PodSandboxStatus with verbose returned no info');
    },
  }),
  ...sandboxListTests,
  ...sandboxConfigTests,
];
