import type { Cri, TestDef } from '../../src/index.js';
import { criTest, type CriTestContext } from './cri-test.js';
import { onNode, requireNodeShell, type NodeShell } from './node-shell.js';
import { withNodeScratch, type NodeScratch } from './node-scratch.js';
import type { CriScope, Pod } from './scope.js';

type Propagation = NonNullable<Cri.Mount['propagation']>;

/**
 * Makes `dir` a mount of its own in a peer group of its own (a shared bind mount onto itself), as
 * the kubelet's root is: the runtime can only propagate mounts from a shared or slave source, and
 * its own peer group keeps what the test mounts under it away from the rest of the node. Failing
 * to set that up on the node skips the test: it is not the runtime's doing.
 */
async function sharedSource(t: CriTestContext, shell: NodeShell, s: NodeScratch): Promise<void> {
  await s.files.write(`${s.dir}/seed`, 'seed\n');
  const r = await shell.run(`mkdir -p ${s.dir}/sub && mount --bind ${s.dir} ${s.dir} && mount --make-private ${s.dir} && mount --make-shared ${s.dir}`);
  if (r.exitCode !== 0) {
    await shell.run(`umount -l ${s.dir}`);
    return t.ctx.skip(`a shared bind mount on the node (through ${shell.via}): ${(r.stderr || r.stdout).trim()}`);
  }
  s.defer(() => onNode(shell, `umount -l ${s.dir}`));
}

/** A container mounting `dir` at /data with `propagation`; checks it sees the seed file (the mount itself works) and that ContainerStatus reports the propagation. */
async function mountedWith(scope: CriScope, pod: Pod, dir: string, propagation: Propagation, extra: Record<string, unknown> = {}): Promise<string> {
  const id = await scope.startContainer(pod, propagation.toLowerCase().replace(/_/g, '-'), { mounts: [{ container_path: '/data', host_path: dir, propagation }], ...extra });
  const seed = await scope.sh(id, 'cat /data/seed');
  if (seed !== 'seed') throw new Error(`a container with ${propagation} reads '${seed}' at /data/seed, expected 'seed'`);
  const listed = (await scope.status(id)).mounts.find((m) => m.container_path === '/data');
  if (listed?.propagation !== propagation) throw new Error(`ContainerStatus lists /data with propagation ${listed?.propagation ?? '(no such mount)'}, expected ${propagation}`);
  return id;
}

/** After the containers started, a tmpfs mounted on the node at `<dir>/sub` with a marker file in it. */
async function mountOnNode(shell: NodeShell, s: NodeScratch, marker: string): Promise<void> {
  await onNode(shell, `mount -t tmpfs -o size=1m tsuite-${marker} ${s.dir}/sub && echo ${marker} > ${s.dir}/sub/marker`);
  s.defer(() => onNode(shell, `umount -l ${s.dir}/sub`));
}

/** What the container reads at /data/sub/marker ('' when there is no such file). */
const markerIn = async (scope: CriScope, id: string) => (await scope.exec(id, ['cat', '/data/sub/marker'])).stdout.trim();

/** Mount propagation between the node and a container (CRI MountPropagation): private, host to container, both ways. */
export const mountPropagationTests: TestDef[] = [
  criTest({
    name: 'mounts-propagation-private',
    title: 'PROPAGATION_PRIVATE: a mount made on the node under the host path after the container started is not seen in it',
    rpcs: ['CreateContainer', 'ContainerStatus'],
    async run(t) {
      const shell = requireNodeShell(t.ctx);
      await withNodeScratch(t, async (s) => {
        await sharedSource(t, shell, s);
        const id = await mountedWith(t.scope, await t.scope.runPod(), s.dir, 'PROPAGATION_PRIVATE');
        const marker = `private-${t.scope.id}`;
        await mountOnNode(shell, s, marker);
        const seen = await markerIn(t.scope, id);
        if (seen === marker) throw new Error(`a PROPAGATION_PRIVATE container sees the tmpfs mounted on the node at ${s.dir}/sub after it started`);
      });
    },
  }),
  criTest({
    name: 'mounts-propagation-host-to-container',
    title: 'PROPAGATION_HOST_TO_CONTAINER: a mount made on the node under the host path after the container started is seen in it',
    rpcs: ['CreateContainer', 'ContainerStatus'],
    async run(t) {
      const shell = requireNodeShell(t.ctx);
      await withNodeScratch(t, async (s) => {
        await sharedSource(t, shell, s);
        const id = await mountedWith(t.scope, await t.scope.runPod(), s.dir, 'PROPAGATION_HOST_TO_CONTAINER');
        const marker = `slave-${t.scope.id}`;
        await mountOnNode(shell, s, marker);
        const seen = await markerIn(t.scope, id);
        if (seen !== marker) throw new Error(`a PROPAGATION_HOST_TO_CONTAINER container reads '${seen}' at /data/sub/marker, not the '${marker}' of the tmpfs mounted on the node after it started`);
      });
    },
  }),
  criTest({
    name: 'mounts-propagation-bidirectional',
    title: 'PROPAGATION_BIDIRECTIONAL (privileged): a mount made in the container under the mount point appears on the node, with its files',
    rpcs: ['CreateContainer', 'ContainerStatus'],
    async run(t) {
      const shell = requireNodeShell(t.ctx);
      await withNodeScratch(t, async (s) => {
        await sharedSource(t, shell, s);
        const privileged = { linux: { security_context: { privileged: true } } };
        const pod = await t.scope.runPod(privileged);
        const id = await mountedWith(t.scope, pod, s.dir, 'PROPAGATION_BIDIRECTIONAL', privileged);
        const marker = `shared-${t.scope.id}`;
        s.defer(() => shell.run(`umount -l ${s.dir}/sub`));
        await t.scope.sh(id, `mount -t tmpfs -o size=1m tsuite-${marker} /data/sub && echo ${marker} > /data/sub/marker`);
        const mounts = await onNode(shell, 'cat /proc/self/mountinfo');
        const line = mounts.split('\n').find((l) => l.split(' ')[4] === `${s.dir}/sub`);
        if (!line?.includes(`tsuite-${marker}`)) throw new Error(`the tmpfs mounted in the container at /data/sub is not mounted on the node at ${s.dir}/sub (the node has there: ${line ?? 'nothing'})`);
        const onNodeSide = (await s.files.read(`${s.dir}/sub/marker`)).toString('utf8').trim();
        if (onNodeSide !== marker) throw new Error(`the node reads '${onNodeSide}' at ${s.dir}/sub/marker, expected '${marker}'`);
      });
    },
  }),
];
