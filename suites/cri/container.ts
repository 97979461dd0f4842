import type { Cri, TestDef } from '../../src/index.js';
import { containerExecTests } from './container-exec.js';
import { containerProcessTests } from './container-process.js';
import { containerStatusTests } from './container-status.js';
import { criTest } from './cri-test.js';
import { expectIds, expectNotFound, expectSaneTime, iso, listContainers, podStatus, refused, stopContainer } from './lifecycle-calls.js';
import type { CriScope } from './scope.js';

const exited = (s: Cri.ContainerStatus) => s.state === 'CONTAINER_EXITED';

const removeContainer = (scope: CriScope, id: string) => scope.cri.runtime('RemoveContainer', { container_id: id });

/** A container that runs `script` and exits; its status once EXITED. */
async function exitedWith(scope: CriScope, pod: Parameters<CriScope['startContainer']>[0], name: string, script: string): Promise<Cri.ContainerStatus> {
  const id = await scope.startContainer(pod, name, { command: ['sh', '-c', script] });
  return scope.waitStatus(id, exited, 'exit');
}

/**
 * A running container whose shell handles SIGTERM with `onTerm`, returned once the handler is in
 * place: StartContainer returns when the process exists, maybe before the shell has set its trap.
 */
async function trapping(scope: CriScope, name: string, onTerm: string): Promise<string> {
  const { id } = await scope.podWithContainer(name, { command: ['sh', '-c', `trap '${onTerm}' TERM; touch /tmp/trapped; while true; do sleep 1; done`] });
  const deadline = Date.now() + 30_000;
  while ((await scope.exec(id, ['test', '-e', '/tmp/trapped'])).exitCode !== 0) {
    if (Date.now() > deadline) throw new Error(`container ${name} did not set its TERM handler within 30 s`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return id;
}

function expectExit(s: Cri.ContainerStatus, code: number, what: string): void {
  if (s.state !== 'CONTAINER_EXITED' || s.exit_code !== code) throw new Error(`${what}: state ${s.state}, exit code ${s.exit_code}; expected CONTAINER_EXITED with exit code ${code}`);
  // The kubelet shows it as the container's termination reason; CRI leaves the words to the runtime.
  if (!s.reason) throw new Error(`${what}: exited with code ${s.exit_code} but no reason`);
}

/** Containers: their lifecycle, exit codes, how stop and remove behave, and the errors CRI prescribes. */
export const containerTests: TestDef[] = [
  criTest({
    name: 'container-lifecycle-states',
    title: 'A container goes CREATED → RUNNING → EXITED, with created_at, started_at and finished_at set in order',
    rpcs: ['CreateContainer', 'StartContainer', 'StopContainer', 'ContainerStatus'],
    async run({ scope }) {
      const pod = await scope.runPod();
      const podCreated = (await podStatus(scope, pod.id)).status.created_at;
      const id = await scope.createContainer(pod, 'main');
      const created = await scope.status(id);
      if (created.state !== 'CONTAINER_CREATED') throw new Error(`after CreateContainer the state is ${created.state}, expected CONTAINER_CREATED`);
      expectSaneTime(created.created_at, 'created_at');
      if (created.created_at < podCreated) throw new Error(`the container's created_at ${iso(created.created_at)} is before its pod's ${iso(podCreated)}`);
      if (created.started_at !== 0 || created.finished_at !== 0) throw new Error(`a container never started has started_at ${created.started_at} and finished_at ${created.finished_at}, expected 0 and 0`);
      await scope.cri.runtime('StartContainer', { container_id: id });
      const running = await scope.status(id);
      if (running.state !== 'CONTAINER_RUNNING') throw new Error(`after StartContainer the state is ${running.state}, expected CONTAINER_RUNNING`);
      if (!(running.started_at >= created.created_at)) throw new Error(`started_at ${iso(running.started_at)} is not at or after created_at ${iso(created.created_at)}`);
      if (running.finished_at !== 0) throw new Error(`a running container has finished_at ${iso(running.finished_at)}, expected 0`);
      if (running.created_at !== created.created_at) throw new Error(`created_at changed on start: ${iso(created.created_at)} then ${iso(running.created_at)}`);
      await stopContainer(scope, id, 30);
      const done = await scope.status(id);
      if (done.state !== 'CONTAINER_EXITED') throw new Error(`after StopContainer the state is ${done.state}, expected CONTAINER_EXITED`);
      if (!(done.finished_at >= running.started_at)) throw new Error(`finished_at ${iso(done.finished_at)} is not at or after started_at ${iso(running.started_at)}`);
      if (done.started_at !== running.started_at) throw new Error(`started_at changed on stop: ${iso(running.started_at)} then ${iso(done.started_at)}`);
    },
  }),
  criTest({
    name: 'container-exit-code-zero',
    title: 'A container whose command exits 0 is EXITED with exit code 0 and a reason',
    rpcs: ['ContainerStatus'],
    async run({ scope }) {
      const pod = await scope.runPod();
      expectExit(await exitedWith(scope, pod, 'ok', 'exit 0'), 0, 'a command that exits 0');
    },
  }),
  criTest({
    name: 'container-exit-code-nonzero',
    title: "A container's exit code is its command's: 1 and 42",
    rpcs: ['ContainerStatus'],
    async run({ scope }) {
      const pod = await scope.runPod();
      expectExit(await exitedWith(scope, pod, 'one', 'exit 1'), 1, 'a command that exits 1');
      expectExit(await exitedWith(scope, pod, 'forty-two', 'echo bye; exit 42'), 42, 'a command that exits 42');
    },
  }),
  criTest({
    name: 'container-exit-code-signal',
    title: 'A container whose process is killed by SIGKILL reports exit code 137 (128 + 9)',
    rpcs: ['ContainerStatus'],
    async run({ scope }) {
      // PID 1 of a namespace cannot be SIGKILLed from inside it: the pod's PID namespace puts the shell under the pause process.
      const shared = { linux: { security_context: { namespace_options: { pid: 'POD' } } } };
      const pod = await scope.runPod(shared);
      const id = await scope.startContainer(pod, 'killed', { command: ['sh', '-c', 'kill -KILL $$; sleep 60'], ...shared });
      expectExit(await scope.waitStatus(id, exited, 'exit'), 137, 'a shell that SIGKILLs itself');
    },
  }),
  criTest({
    name: 'container-stop-timeout-kills',
    title: 'StopContainer kills a container that ignores SIGTERM once the timeout passes: exit code 137, not before the timeout',
    rpcs: ['StopContainer', 'ContainerStatus'],
    async run({ scope }) {
      const id = await trapping(scope, 'stubborn', '');
      const timeoutS = 3;
      const start = Date.now();
      await stopContainer(scope, id, timeoutS);
      const waited = Date.now() - start;
      expectExit(await scope.status(id), 137, 'a container ignoring SIGTERM after StopContainer');
      // The grace period is the runtime's promise to the process: a kill before it ends breaks it.
      if (waited < timeoutS * 1000 - 250) throw new Error(`StopContainer returned after ${waited} ms: the container was killed before its ${timeoutS} s grace period ended`);
    },
  }),
  criTest({
    name: 'container-stop-term-handled',
    title: 'StopContainer sends SIGTERM first: a container that handles it exits with its own code',
    rpcs: ['StopContainer', 'ContainerStatus'],
    async run({ scope }) {
      const id = await trapping(scope, 'polite', 'exit 3');
      await stopContainer(scope, id, 60);
      expectExit(await scope.status(id), 3, 'a container whose TERM handler exits 3');
    },
  }),
  criTest({
    name: 'container-stop-idempotent',
    title: 'StopContainer on a container already stopped, or that exited by itself, succeeds (CRI: stop is idempotent)',
    rpcs: ['StopContainer'],
    async run({ scope }) {
      const { pod, id } = await scope.podWithContainer();
      await stopContainer(scope, id, 10);
      await stopContainer(scope, id, 10).catch((err: Error) => {
        throw new Error(`stopping the container a second time failed: ${err.message}`);
      });
      const done = await exitedWith(scope, pod, 'done', 'exit 0');
      await stopContainer(scope, done.id, 10).catch((err: Error) => {
        throw new Error(`stopping a container that had exited by itself failed: ${err.message}`);
      });
      expectExit(await scope.status(done.id), 0, 'the exited container after StopContainer');
    },
  }),
  criTest({
    name: 'container-remove-running',
    title: 'RemoveContainer of a running container removes it (CRI: "must be forcibly removed")',
    rpcs: ['RemoveContainer', 'ContainerStatus', 'ListContainers'],
    async run({ scope }) {
      const { pod, id } = await scope.podWithContainer();
      await removeContainer(scope, id);
      await expectNotFound(scope.cri.runtime('ContainerStatus', { container_id: id }), 'ContainerStatus of a container removed while running');
      expectIds(await listContainers(scope, { podId: pod.id }), [], "the pod's containers after removing its running one");
    },
  }),
  criTest({
    name: 'container-remove-idempotent',
    title: 'RemoveContainer of a container already removed, or of an id never made, succeeds (CRI: remove is idempotent)',
    rpcs: ['RemoveContainer'],
    async run({ scope }) {
      const { id } = await scope.podWithContainer();
      await stopContainer(scope, id, 10);
      await removeContainer(scope, id);
      await removeContainer(scope, id).catch((err: Error) => {
        throw new Error(`removing the container a second time failed: ${err.message}`);
      });
      await removeContainer(scope, 'f'.repeat(64)).catch((err: Error) => {
        throw new Error(`removing a container id that never existed failed: ${err.message}`);
      });
    },
  }),
  criTest({
    name: 'container-status-removed-not-found',
    title: 'ContainerStatus of a removed container, and of an id never made, answers NOT_FOUND',
    rpcs: ['ContainerStatus', 'RemoveContainer'],
    async run({ scope }) {
      const { id } = await scope.podWithContainer();
      await stopContainer(scope, id, 10);
      await removeContainer(scope, id);
      await expectNotFound(scope.cri.runtime('ContainerStatus', { container_id: id }), 'ContainerStatus of a removed container');
      await expectNotFound(scope.cri.runtime('ContainerStatus', { container_id: 'f'.repeat(64) }), 'ContainerStatus of an id never made');
    },
  }),
  criTest({
    name: 'container-name-conflict',
    title: 'A second container with the same name and attempt in a pod is refused; attempt + 1, another pod, or a removed one\'s name is accepted',
    rpcs: ['CreateContainer', 'RemoveContainer'],
    async run({ scope }) {
      const pod = await scope.runPod();
      const first = await scope.createContainer(pod, 'twin');
      await refused(scope.createContainer(pod, 'twin'), 'a second container named twin, attempt 0, in the same pod');
      await scope.createContainer(pod, 'twin', { metadata: { name: 'twin', attempt: 1 } }).catch((e: Error) => {
        throw new Error(`container twin with attempt 1 was refused: ${e.message}`);
      });
      const other = await scope.runPod();
      await scope.createContainer(other, 'twin').catch((e: Error) => {
        throw new Error(`container twin in another pod was refused: ${e.message}`);
      });
      await removeContainer(scope, first);
      await scope.createContainer(pod, 'twin').catch((e: Error) => {
        throw new Error(`reusing the name of a removed container was refused: ${e.message}`);
      });
    },
  }),
  criTest({
    name: 'container-start-missing-binary',
    title: 'StartContainer of a container whose command does not exist fails, and the container is not RUNNING',
    rpcs: ['StartContainer', 'ContainerStatus'],
    async run({ scope }) {
      const pod = await scope.runPod();
      const id = await scope.createContainer(pod, 'broken', { command: ['/no/such/binary'] });
      const err = await refused(scope.cri.runtime('StartContainer', { container_id: id }), 'starting a container whose command does not exist');
      const s = await scope.status(id);
      if (s.state === 'CONTAINER_RUNNING') throw new Error(`StartContainer failed (${err.codeName}) but the container is RUNNING`);
      if (s.state === 'CONTAINER_EXITED' && s.exit_code === 0) throw new Error(`a container that could not start reports EXITED with exit code 0 (reason '${s.reason}')`);
    },
  }),
  ...containerStatusTests,
  ...containerProcessTests,
  ...containerExecTests,
];
