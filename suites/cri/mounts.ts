import { CriRpcError, type TestDef } from '../../src/index.js';
import { criTest } from './cri-test.js';
import { mountPropagationTests } from './mounts-propagation.js';
import { ECHO_PORT, expectEcho, podIp, startEchoServer } from './net-calls.js';
import { onNode, requireNodeShell } from './node-shell.js';
import { withNodeScratch } from './node-scratch.js';
import type { NodeFiles } from './node-files.js';
import type { CriScope } from './scope.js';
import { RUN_UNTIL_STOPPED } from './scope.js';
import { sysctlTests } from './sysctl.js';

type MountSpec = { container_path: string; host_path: string; readonly?: boolean };

/** A busybox container with `mounts`, in a pod of its own. */
async function withMounts(scope: CriScope, mounts: MountSpec[]): Promise<string> {
  return scope.startContainer(await scope.runPod(), 'main', { mounts });
}

/** The node file's text, or undefined when it does not exist. */
async function nodeText(files: NodeFiles, path: string): Promise<string | undefined> {
  try {
    return (await files.read(path)).toString('utf8');
  } catch {
    return undefined;
  }
}

/** Host paths (CRI Mount) bound into containers: both ways, read-only, single files, shared, nested. */
export const mountTests: TestDef[] = [
  criTest({
    name: 'mounts-host-path-both-ways',
    title: 'A host-path mount: a file written on the node is read in the container, and one written in the container is read on the node',
    rpcs: ['CreateContainer'],
    async run(t) {
      await withNodeScratch(t, async ({ dir, files }) => {
        const { scope } = t;
        await files.write(`${dir}/from-node`, `node-${scope.id}\n`);
        const id = await withMounts(scope, [{ container_path: '/data', host_path: dir }]);
        const inside = await scope.sh(id, 'cat /data/from-node');
        if (inside !== `node-${scope.id}`) throw new Error(`the container reads '${inside}' from /data/from-node; the node wrote 'node-${scope.id}' at ${dir}/from-node`);
        await scope.sh(id, `echo container-${scope.id} > /data/from-container`);
        const onNodeSide = await nodeText(files, `${dir}/from-container`);
        if (onNodeSide?.trim() !== `container-${scope.id}`) throw new Error(`the container wrote /data/from-container; the node reads ${JSON.stringify(onNodeSide)} at ${dir}/from-container`);
      });
    },
  }),
  criTest({
    name: 'mounts-readonly',
    title: 'A read-only mount can be read, but writing or creating files in it fails with EROFS and the node keeps its files as they were',
    rpcs: ['CreateContainer'],
    async run(t) {
      await withNodeScratch(t, async ({ dir, files }) => {
        const { scope } = t;
        await files.write(`${dir}/seed`, 'seed\n');
        const id = await withMounts(scope, [{ container_path: '/data', host_path: dir, readonly: true }]);
        const read = await scope.sh(id, 'cat /data/seed');
        if (read !== 'seed') throw new Error(`the read-only mount reads '${read}' for /data/seed, expected 'seed'`);
        for (const write of ['echo changed > /data/seed', 'echo new > /data/new']) {
          const r = await scope.exec(id, ['sh', '-c', write]);
          if (r.exitCode === 0) throw new Error(`\`${write}\` succeeded on a read-only mount`);
          if (!/Read-only file system/i.test(r.stderr)) throw new Error(`\`${write}\` failed on a read-only mount, but not with EROFS: ${r.stderr.trim()}`);
        }
        const seed = await nodeText(files, `${dir}/seed`);
        const created = await nodeText(files, `${dir}/new`);
        if (seed !== 'seed\n' || created !== undefined) throw new Error(`after the refused writes the node has seed ${JSON.stringify(seed)} and new ${JSON.stringify(created)}`);
      });
    },
  }),
  criTest({
    name: 'mounts-missing-host-path',
    title: 'A host path that does not exist: refused naming the path (CRI: runtimes should report an error), or created as a folder the container shares with the node (containerd); never something else',
    rpcs: ['CreateContainer', 'StartContainer'],
    async run(t) {
      await withNodeScratch(t, async ({ dir, files }) => {
        const { scope } = t;
        await files.write(`${dir}/seed`, 'seed\n');
        const missing = `${dir}/absent/deeper`;
        let id: string;
        try {
          id = await withMounts(scope, [{ container_path: '/data', host_path: missing }]);
        } catch (err) {
          if (!(err instanceof CriRpcError)) throw err;
          if (!err.details.includes('absent/deeper')) throw new Error(`the mount of a missing host path was refused, but the error does not name ${missing}: ${err.message}`);
          return;
        }
        // Accepted: then the path must be what the container writes to.
        await scope.sh(id, `echo created-${scope.id} > /data/probe`);
        const got = await nodeText(files, `${missing}/probe`);
        if (got?.trim() !== `created-${scope.id}`) throw new Error(`the runtime accepted the missing host path ${missing}, but a file the container wrote at /data/probe is ${JSON.stringify(got)} there on the node`);
      });
    },
  }),
  criTest({
    name: 'mounts-single-file',
    title: 'A single file mounted at a path the image lacks is a regular file in the container with the node file\'s text, and appends reach the node',
    rpcs: ['CreateContainer'],
    async run(t) {
      await withNodeScratch(t, async ({ dir, files }) => {
        const { scope } = t;
        await files.write(`${dir}/settings.conf`, 'first\n');
        const id = await withMounts(scope, [{ container_path: '/etc/tsuite/settings.conf', host_path: `${dir}/settings.conf` }]);
        const kind = await scope.sh(id, 'stat -c %F /etc/tsuite/settings.conf');
        if (kind !== 'regular file') throw new Error(`the mounted file is a '${kind}' in the container, expected a regular file`);
        const seen = await scope.sh(id, 'cat /etc/tsuite/settings.conf');
        if (seen !== 'first') throw new Error(`the mounted file reads '${seen}' in the container, expected 'first'`);
        await scope.sh(id, 'echo second >> /etc/tsuite/settings.conf');
        const onNodeSide = await nodeText(files, `${dir}/settings.conf`);
        if (onNodeSide !== 'first\nsecond\n') throw new Error(`after the container appended 'second', the node file holds ${JSON.stringify(onNodeSide)}`);
      });
    },
  }),
  criTest({
    name: 'mounts-file-over-etc-hosts',
    title: "A file mounted at /etc/hosts (as the kubelet does) replaces the runtime's own: a name only it lists resolves to another pod's IP",
    rpcs: ['CreateContainer'],
    async run(t) {
      await withNodeScratch(t, async ({ dir, files }) => {
        const { scope } = t;
        const server = await scope.runPod();
        await startEchoServer(scope, server);
        const name = `tsuite-peer-${scope.id}`;
        const hosts = `127.0.0.1\tlocalhost\n${await podIp(scope, server)}\t${name}\n`;
        await files.write(`${dir}/hosts`, hosts);
        const pod = await scope.runPod();
        const id = await scope.startContainer(pod, 'client', { image: { image: scope.images.net }, command: RUN_UNTIL_STOPPED, mounts: [{ container_path: '/etc/hosts', host_path: `${dir}/hosts`, readonly: true }] });
        const inside = await scope.sh(id, 'cat /etc/hosts');
        if (`${inside}\n` !== hosts) throw new Error(`/etc/hosts in the container is ${JSON.stringify(inside)}, not the mounted file ${JSON.stringify(hosts)}`);
        await expectEcho(scope, id, name, ECHO_PORT, 'by-name', `calling the other pod by the name ${name} from the mounted /etc/hosts`);
      });
    },
  }),
  criTest({
    name: 'mounts-shared-between-pods',
    title: 'Two pods mounting the same host path at different places see each other\'s writes, both ways',
    rpcs: ['CreateContainer'],
    async run(t) {
      await withNodeScratch(t, async ({ dir, files }) => {
        const { scope } = t;
        await files.write(`${dir}/seed`, 'seed\n');
        const a = await withMounts(scope, [{ container_path: '/shared', host_path: dir }]);
        const b = await withMounts(scope, [{ container_path: '/elsewhere', host_path: dir }]);
        await scope.sh(a, 'echo from-a > /shared/a');
        const inB = await scope.sh(b, 'cat /elsewhere/a && echo from-b > /elsewhere/b');
        if (inB !== 'from-a') throw new Error(`the second pod reads ${JSON.stringify(inB)} where the first wrote 'from-a'`);
        const inA = await scope.sh(a, 'cat /shared/b');
        if (inA !== 'from-b') throw new Error(`the first pod reads ${JSON.stringify(inA)} where the second wrote 'from-b'`);
      });
    },
  }),
  criTest({
    name: 'mounts-nested-order',
    title: 'A mount inside another (/a/b and /a), listed inner first: the container sees both, the inner over the outer',
    rpcs: ['CreateContainer'],
    async run(t) {
      await withNodeScratch(t, async ({ dir, files }) => {
        const { scope } = t;
        await files.write(`${dir}/outer/o`, 'outer\n');
        await files.write(`${dir}/inner/i`, 'inner\n');
        const id = await withMounts(scope, [
          { container_path: '/a/b', host_path: `${dir}/inner` },
          { container_path: '/a', host_path: `${dir}/outer` },
        ]);
        const seen = await scope.sh(id, 'cat /a/o /a/b/i');
        if (seen !== 'outer\ninner') throw new Error(`with /a/b listed before /a, the container reads ${JSON.stringify(seen)} from /a/o and /a/b/i, expected "outer" and "inner"`);
      });
    },
  }),
  criTest({
    name: 'mounts-status-lists-mounts',
    title: "ContainerStatus lists the container's mounts with their paths, read-only flag and propagation (private by default)",
    rpcs: ['ContainerStatus'],
    async run(t) {
      await withNodeScratch(t, async ({ dir, files }) => {
        const { scope } = t;
        await files.write(`${dir}/d/seed`, 'seed\n');
        await files.write(`${dir}/f`, 'file\n');
        const asked: MountSpec[] = [
          { container_path: '/ro-dir', host_path: `${dir}/d`, readonly: true },
          { container_path: '/rw-file', host_path: `${dir}/f`, readonly: false },
        ];
        const id = await withMounts(scope, asked);
        const listed = (await scope.status(id)).mounts;
        for (const m of asked) {
          const got = listed.find((l) => l.container_path === m.container_path);
          const want = { ...m, propagation: 'PROPAGATION_PRIVATE' };
          const same = got && got.host_path === want.host_path && !!got.readonly === want.readonly && got.propagation === want.propagation;
          if (!same) throw new Error(`ContainerStatus lists ${JSON.stringify(got ?? null)} for ${m.container_path}, expected ${JSON.stringify(want)} (all listed: ${JSON.stringify(listed)})`);
        }
      });
    },
  }),
  criTest({
    name: 'mounts-symlink-host-path',
    title: 'A host path that is a symbolic link mounts what it points to (CRI: runtimes should follow it)',
    rpcs: ['CreateContainer'],
    async run(t) {
      const shell = requireNodeShell(t.ctx);
      await withNodeScratch(t, async ({ dir, files }) => {
        const { scope } = t;
        await files.write(`${dir}/real/target-file`, `real-${scope.id}\n`);
        await onNode(shell, `ln -s ${dir}/real ${dir}/link`);
        const id = await withMounts(scope, [{ container_path: '/data', host_path: `${dir}/link` }]);
        const seen = await scope.sh(id, 'test -d /data && cat /data/target-file');
        if (seen !== `real-${scope.id}`) throw new Error(`mounting the link ${dir}/link, the container reads ${JSON.stringify(seen)} at /data/target-file, expected the target's 'real-${scope.id}'`);
      });
    },
  }),
  ...mountPropagationTests,
  ...sysctlTests,
];
