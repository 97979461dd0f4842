import type { Cri, TestDef } from '../../src/index.js';
import { criTest } from './cri-test.js';
import { refused, stopContainer } from './lifecycle-calls.js';

/** ExecSync: a command run to its end inside a running container (what the kubelet's exec probes use). */
export const containerExecTests: TestDef[] = [
  criTest({
    name: 'container-exec-sync-output',
    title: "ExecSync returns the command's stdout and stderr apart, byte for byte, and its exit code",
    rpcs: ['ExecSync'],
    async run({ scope }) {
      const { id } = await scope.podWithContainer();
      const r = await scope.exec(id, ['sh', '-c', 'echo out-1; echo err-1 >&2; printf "out-2 no newline"; printf "err-2\\n" >&2']);
      if (r.stdout !== 'out-1\nout-2 no newline') throw new Error(`stdout is ${JSON.stringify(r.stdout)}, expected "out-1\\nout-2 no newline"`);
      if (r.stderr !== 'err-1\nerr-2\n') throw new Error(`stderr is ${JSON.stringify(r.stderr)}, expected "err-1\\nerr-2\\n"`);
      if (r.exitCode !== 0) throw new Error(`exit code ${r.exitCode}, expected 0`);
    },
  }),
  criTest({
    name: 'container-exec-sync-exit-code',
    title: "ExecSync reports the command's exit code: 1, 42, and 137 for one killed by SIGKILL",
    rpcs: ['ExecSync'],
    async run({ scope }) {
      const { id } = await scope.podWithContainer();
      for (const [script, code] of [['exit 1', 1], ['exit 42', 42], ['kill -KILL $$', 137]] as const) {
        const r = await scope.exec(id, ['sh', '-c', script]);
        if (r.exitCode !== code) throw new Error(`ExecSync of \`${script}\` reported exit code ${r.exitCode}, expected ${code}`);
      }
    },
  }),
  criTest({
    name: 'container-exec-sync-large-output',
    title: 'ExecSync returns a command\'s whole output when it is a mebibyte',
    rpcs: ['ExecSync'],
    async run({ scope }) {
      const { id } = await scope.podWithContainer();
      const size = 1024 * 1024;
      const r = await scope.exec(id, ['sh', '-c', `head -c ${size} /dev/zero | tr '\\0' x`]);
      if (r.stdout.length !== size || /[^x]/.test(r.stdout)) throw new Error(`stdout holds ${r.stdout.length} bytes${/[^x]/.test(r.stdout) ? ' (not all x)' : ''}, expected ${size} bytes of 'x'`);
    },
  }),
  criTest({
    name: 'container-exec-sync-env-and-dir',
    title: "An ExecSync command runs with the container's environment and working directory",
    rpcs: ['ExecSync'],
    async run({ scope }) {
      const { id } = await scope.podWithContainer('main', { envs: [{ key: 'TSUITE_EXEC', value: Buffer.from('seen by exec') }], working_dir: '/etc' });
      const out = await scope.sh(id, 'echo "$TSUITE_EXEC|$(pwd)"');
      if (out !== 'seen by exec|/etc') throw new Error(`the exec saw '${out}', expected 'seen by exec|/etc' (the container's env and working_dir)`);
    },
  }),
  criTest({
    name: 'container-exec-sync-timeout',
    title: 'ExecSync of a command that outlives its timeout fails with DEADLINE_EXCEEDED and leaves the container running',
    rpcs: ['ExecSync'],
    async run({ scope }) {
      const { id } = await scope.podWithContainer();
      // The call's own deadline is far past the command's end: a runtime that ignores the timeout answers with exit code 0.
      const call = scope.cri.runtime<Cri.ExecSyncResponse>('ExecSync', { container_id: id, cmd: ['sleep', '20'], timeout: 2 }, { timeoutMs: 90_000 });
      const err = await refused(call, 'ExecSync of `sleep 20` with a 2 s timeout');
      if (err.codeName !== 'DEADLINE_EXCEEDED') throw new Error(`ExecSync past its timeout answered ${err.codeName} (${err.details}), expected DEADLINE_EXCEEDED`);
      // The container outlives the timed-out exec: its own process is untouched.
      const s = await scope.status(id);
      if (s.state !== 'CONTAINER_RUNNING') throw new Error(`after a timed-out exec the container is ${s.state}, expected CONTAINER_RUNNING`);
    },
  }),
  criTest({
    name: 'container-exec-sync-not-running',
    title: 'ExecSync into a container that is created but not started, or that has exited, is refused',
    rpcs: ['ExecSync'],
    async run({ scope }) {
      const pod = await scope.runPod();
      const created = await scope.createContainer(pod, 'created');
      await refused(scope.exec(created, ['true']), 'ExecSync into a container never started');
      const stopped = await scope.startContainer(pod, 'stopped');
      await stopContainer(scope, stopped, 10);
      await refused(scope.exec(stopped, ['true']), 'ExecSync into a stopped container');
    },
  }),
];
