import type { TestDef } from '../../src/index.js';
import { criTest } from './cri-test.js';
import { RUN_UNTIL_STOPPED, type ContainerConfig, type CriScope } from './scope.js';

/**
 * The container's own PID namespace (what the kubelet asks for unless a pod shares one): its
 * process is PID 1, so /proc/1 shows the argv, environment and working directory the runtime gave it.
 */
const OWN_PID = { linux: { security_context: { namespace_options: { pid: 'CONTAINER' } } } };

/** Starts a container on its own PID namespace and returns its id. */
async function started(scope: CriScope, extra: Partial<ContainerConfig>): Promise<string> {
  const pod = await scope.runPod(OWN_PID);
  return scope.startContainer(pod, 'main', { ...extra, ...OWN_PID });
}

/** A NUL-separated /proc file of the container's PID 1, as a list. */
async function procList(scope: CriScope, id: string, file: 'cmdline' | 'environ'): Promise<string[]> {
  const r = await scope.exec(id, ['cat', `/proc/1/${file}`]);
  if (r.exitCode !== 0) throw new Error(`reading /proc/1/${file} in the container failed (${r.exitCode}): ${r.stderr.trim()}`);
  return r.stdout.split('\0').filter((s, i, all) => i < all.length - 1 || s !== '');
}

async function expectArgv(scope: CriScope, id: string, want: readonly string[], why: string): Promise<void> {
  const argv = await procList(scope, id, 'cmdline');
  if (JSON.stringify(argv) !== JSON.stringify(want)) throw new Error(`${why}: the container runs ${JSON.stringify(argv)}, expected ${JSON.stringify(want)}`);
}

const kv = (key: string, value: string) => ({ key, value: Buffer.from(value) });

/** What the container's process is: its argv from the image and the config, its environment, its working directory. */
export const containerProcessTests: TestDef[] = [
  criTest({
    name: 'container-image-entrypoint-cmd',
    title: "With no command and no args a container runs the image's Entrypoint followed by its Cmd",
    rpcs: ['CreateContainer'],
    async run({ scope }) {
      const id = await started(scope, { image: { image: scope.images.net }, command: [] });
      // tsuite/net: Entrypoint [/usr/local/bin/net], Cmd [serve, 7000].
      await expectArgv(scope, id, ['/usr/local/bin/net', 'serve', '7000'], 'the image decides');
    },
  }),
  criTest({
    name: 'container-args-replace-cmd',
    title: "args replace the image's Cmd and keep its Entrypoint",
    rpcs: ['CreateContainer'],
    async run({ scope }) {
      const id = await started(scope, { image: { image: scope.images.net }, command: [], args: ['serve', '7001'] });
      await expectArgv(scope, id, ['/usr/local/bin/net', 'serve', '7001'], 'args given, no command');
    },
  }),
  criTest({
    name: 'container-command-replaces-entrypoint',
    title: "command replaces the image's Entrypoint, and the image's Cmd is dropped with it",
    rpcs: ['CreateContainer'],
    async run({ scope }) {
      const id = await started(scope, { image: { image: scope.images.net }, command: RUN_UNTIL_STOPPED });
      await expectArgv(scope, id, RUN_UNTIL_STOPPED, 'command given, no args');
    },
  }),
  criTest({
    name: 'container-command-and-args',
    title: 'command followed by args is the argv when both are given',
    rpcs: ['CreateContainer'],
    async run({ scope }) {
      const script = 'trap "exit 0" TERM; while true; do sleep 1; done';
      const id = await started(scope, { image: { image: scope.images.net }, command: ['sh', '-c'], args: [script, 'zero arg', ''] });
      await expectArgv(scope, id, ['sh', '-c', script, 'zero arg', ''], 'command and args given');
    },
  }),
  criTest({
    name: 'container-args-without-entrypoint',
    title: 'With an image that has no Entrypoint, args alone are the argv',
    rpcs: ['CreateContainer'],
    async run({ scope }) {
      // tsuite/busybox: no Entrypoint, Cmd [sh].
      const id = await started(scope, { command: [], args: ['sleep', '3601'] });
      await expectArgv(scope, id, ['sleep', '3601'], 'busybox with args only');
    },
  }),
  criTest({
    name: 'container-env',
    title: "The container's environment has each envs entry exactly (spaces and '=' kept), overriding the image's value of the same name",
    rpcs: ['CreateContainer'],
    async run({ scope }) {
      // The image sets PATH; this one still reaches busybox's applets.
      const path = '/tsuite/bin:/usr/sbin:/usr/bin:/sbin:/bin';
      const envs = [kv('TSUITE_PLAIN', 'one'), kv('TSUITE_SPACED', ' a b = c '), kv('TSUITE_EMPTY', ''), kv('PATH', path)];
      const id = await started(scope, { envs });
      const env = await procList(scope, id, 'environ');
      for (const { key, value } of envs) {
        const seen = env.filter((e) => e.startsWith(`${key}=`));
        if (seen.length !== 1 || seen[0] !== `${key}=${value.toString()}`) throw new Error(`the environment has ${seen.length ? seen.map((s) => `'${s}'`).join(', ') : `no ${key}`}; expected exactly '${key}=${value.toString()}'`);
      }
    },
  }),
  criTest({
    name: 'container-working-dir',
    title: "working_dir is the process's working directory (and an exec's); without it, the image's (here /)",
    rpcs: ['CreateContainer', 'ExecSync'],
    async run({ scope }) {
      const id = await started(scope, { working_dir: '/tmp' });
      const cwd = await scope.sh(id, 'readlink /proc/1/cwd');
      if (cwd !== '/tmp') throw new Error(`working_dir /tmp, but the process runs in '${cwd}'`);
      const pwd = await scope.sh(id, 'pwd');
      if (pwd !== '/tmp') throw new Error(`working_dir /tmp, but an exec runs in '${pwd}'`);
      const plain = await started(scope, {});
      const dflt = await scope.sh(plain, 'readlink /proc/1/cwd');
      if (dflt !== '/') throw new Error(`with no working_dir and an image without WorkingDir the process runs in '${dflt}', expected /`);
    },
  }),
  criTest({
    name: 'container-working-dir-created',
    title: 'A working_dir missing from the image is created, as containerd and Docker do',
    rpcs: ['CreateContainer'],
    async run({ scope }) {
      const dir = `/tsuite-new/${scope.id}/work`;
      const id = await started(scope, { working_dir: dir });
      const cwd = await scope.sh(id, `test -d ${dir} && readlink /proc/1/cwd`);
      if (cwd !== dir) throw new Error(`working_dir ${dir}, but the process runs in '${cwd}'`);
    },
  }),
];
