import type Dockerode from 'dockerode';
import type { TestDef } from '../../src/index.js';
import { dockerTest, type Scope } from './scope.js';
import { demuxBuffer, pollUntil } from './streams.js';

/**
 * A container that counts its own runs in its writable layer (which a restart keeps): run N
 * prints `run N`, then ends with the exit code `codes` gives for N, or idles once past them.
 */
function countingRuns(codes: readonly number[]): string[] {
  const cases = codes.map((code, i) => `${i + 1}) exit ${code};;`).join(' ');
  return ['sh', '-c', `n=$(( $(cat /runs 2>/dev/null || echo 0) + 1 )); echo $n > /runs; echo "run $n"; case $n in ${cases} esac; trap "exit 0" TERM; while :; do sleep 1 & wait $!; done`];
}

async function startWithPolicy(s: Scope, codes: readonly number[], RestartPolicy: { Name: string; MaximumRetryCount?: number }): Promise<Dockerode.Container> {
  return s.startContainer({ Image: s.images.busybox, Cmd: countingRuns(codes), HostConfig: { RestartPolicy } });
}

/** The `run N` lines a container has printed so far, over all its runs. */
async function runsLogged(s: Scope, c: Dockerode.Container): Promise<string[]> {
  const body = await c.logs({ stdout: true, stderr: true, follow: false, abortSignal: s.signal });
  return (await demuxBuffer(s.api, body)).stdout.split('\n').filter((l) => l.startsWith('run '));
}

/** Waits until the container runs its `n`th run and stays in it (the idle loop), then returns its state. */
async function runningRun(s: Scope, c: Dockerode.Container, n: number): Promise<Dockerode.ContainerInspectInfo> {
  return pollUntil(`the container running its run ${n}`, async () => {
    const info = await c.inspect();
    return info.State.Running && !info.State.Restarting && (await runsLogged(s, c)).length === n ? info : undefined;
  }, s.signal, 120_000, 250);
}

const expectRuns = (what: string, got: string[], n: number) => {
  const want = Array.from({ length: n }, (_, i) => `run ${i + 1}`);
  if (got.join() !== want.join()) throw new Error(`${what} logged ${JSON.stringify(got)}, not ${JSON.stringify(want)}`);
};

export const restartTests: TestDef[] = [
  dockerTest({
    name: 'restart-on-failure',
    title: 'on-failure restarts a container that exits 1, twice, until it stays up (RestartCount 2); a clean exit 0 is not restarted',
    timeoutMs: 150_000,
    async run(s) {
      const crashing = await startWithPolicy(s, [1, 1], { Name: 'on-failure', MaximumRetryCount: 5 });
      const clean = await startWithPolicy(s, [0], { Name: 'on-failure', MaximumRetryCount: 5 });
      const info = await runningRun(s, crashing, 3);
      if (info.RestartCount !== 2) throw new Error(`after two crashes RestartCount is ${info.RestartCount}, not 2`);
      expectRuns('the crashing container', await runsLogged(s, crashing), 3);
      // By now the engine has restarted the other one twice: it would have restarted this one too.
      const st = await clean.inspect();
      if (st.State.Running || st.State.ExitCode !== 0 || st.RestartCount !== 0) throw new Error(`the container that exited 0 is Running ${st.State.Running}, ExitCode ${st.State.ExitCode}, RestartCount ${st.RestartCount}`);
      expectRuns('the cleanly exiting container', await runsLogged(s, clean), 1);
    },
  }),
  dockerTest({
    name: 'restart-max-retries',
    title: 'on-failure with MaximumRetryCount 2 gives up after two restarts: three runs, exited 1, RestartCount 2',
    timeoutMs: 150_000,
    async run(s) {
      const c = await startWithPolicy(s, [1, 1, 1, 1, 1, 1], { Name: 'on-failure', MaximumRetryCount: 2 });
      const info = await pollUntil('the container giving up after three runs', async () => {
        const i = await c.inspect();
        return i.State.Status === 'exited' && i.RestartCount === 2 && (await runsLogged(s, c)).length === 3 ? i : undefined;
      }, s.signal, 120_000, 250);
      if (info.State.ExitCode !== 1) throw new Error(`it ended with exit code ${info.State.ExitCode}, not 1`);
      // A pacer with the same policy and more retries, started now: once it has been restarted twice, the first had every chance to go on.
      const pacer = await startWithPolicy(s, [1, 1], { Name: 'on-failure', MaximumRetryCount: 5 });
      await runningRun(s, pacer, 3);
      const later = await c.inspect();
      if (later.RestartCount !== 2 || later.State.Status !== 'exited') throw new Error(`past its limit the container is ${later.State.Status} with RestartCount ${later.RestartCount}`);
      expectRuns('the container', await runsLogged(s, c), 3);
    },
  }),
  dockerTest({
    name: 'restart-always',
    title: 'always restarts a container after a crash (exit 1) and after a clean exit (0), then it runs again: RestartCount 2',
    timeoutMs: 150_000,
    async run(s) {
      const c = await startWithPolicy(s, [1, 0], { Name: 'always' });
      const info = await runningRun(s, c, 3);
      if (info.RestartCount !== 2) throw new Error(`RestartCount is ${info.RestartCount}, not 2`);
      expectRuns('the container', await runsLogged(s, c), 3);
      if (info.HostConfig.RestartPolicy?.Name !== 'always') throw new Error(`RestartPolicy reads back as ${JSON.stringify(info.HostConfig.RestartPolicy)}`);
    },
  }),
  dockerTest({
    name: 'restart-policy-no',
    title: 'policy "no": a crashing container stays exited (RestartCount 0) while an on-failure twin beside it is restarted twice',
    timeoutMs: 150_000,
    async run(s) {
      const never = await startWithPolicy(s, [1, 1], { Name: 'no' });
      const pacer = await startWithPolicy(s, [1, 1], { Name: 'on-failure', MaximumRetryCount: 5 });
      await runningRun(s, pacer, 3);
      const st = await never.inspect();
      if (st.State.Running || st.State.ExitCode !== 1 || st.RestartCount !== 0) throw new Error(`with policy "no" the crashed container is Running ${st.State.Running}, ExitCode ${st.State.ExitCode}, RestartCount ${st.RestartCount}`);
      expectRuns('the container with policy "no"', await runsLogged(s, never), 1);
    },
  }),
];
