import type Dockerode from 'dockerode';
import type { TestDef } from '../../src/index.js';
import { dockerTest, expectStatus, type Scope } from './scope.js';
import { engineTimeNs, followLogs, pollUntil, type DemuxedStream } from './streams.js';

/** A shell loop that keeps PID 1 alive and lets trapped signals run at once (`wait` returns on a signal, `sleep` would not). */
const IDLE = 'while :; do sleep 1 & wait $!; done';

/** Starts a busybox container running `script` and waits until it prints `ready` (its traps are set by then). */
async function startReady(s: Scope, script: string, opts: Omit<Dockerode.ContainerCreateOptions, 'Image' | 'Cmd'> = {}): Promise<{ c: Dockerode.Container; logs: DemuxedStream }> {
  const c = await s.startContainer({ ...opts, Image: s.images.busybox, Cmd: ['sh', '-c', script] });
  const logs = await followLogs(s.api, c, s.signal);
  await logs.stdout.waitFor('ready', s.signal);
  return { c, logs };
}

const state = async (c: Dockerode.Container) => (await c.inspect()).State;

/** The engine's own clock, so that durations are the engine's view and not the test host's. */
const engineNow = async (s: Scope) => engineTimeNs((await s.api.info()).SystemTime);

export const lifecycleTests: TestDef[] = [
  dockerTest({
    name: 'lifecycle-create-start-wait',
    title: 'create, start and wait: created → running → exited, with the exit code from wait and from inspect, and start before finish',
    async run(s) {
      const c = await s.createContainer({ Image: s.images.busybox, Cmd: ['sh', '-c', 'read x; exit 3'], OpenStdin: true });
      const created = await state(c);
      if (created.Status !== 'created' || created.Running) throw new Error(`a created container is ${created.Status} (Running ${created.Running})`);
      await c.start();
      const running = await state(c);
      if (running.Status !== 'running' || !running.Running || !(running.Pid > 0)) throw new Error(`a started container is ${running.Status} (Running ${running.Running}, Pid ${running.Pid})`);
      // The shell waits on stdin: attach and close it to let it exit.
      const stream = await c.attach({ stream: true, stdin: true, hijack: true });
      stream.end('go\n');
      const waited = (await c.wait({ abortSignal: s.signal })) as { StatusCode: number };
      if (waited.StatusCode !== 3) throw new Error(`wait answered StatusCode ${waited.StatusCode}, not 3`);
      const exited = await state(c);
      if (exited.Status !== 'exited' || exited.Running || exited.ExitCode !== 3) throw new Error(`after exit the container is ${exited.Status}, Running ${exited.Running}, ExitCode ${exited.ExitCode}`);
      if (!(engineTimeNs(exited.StartedAt) <= engineTimeNs(exited.FinishedAt))) throw new Error(`StartedAt ${exited.StartedAt} is after FinishedAt ${exited.FinishedAt}`);
      const again = (await c.wait({ abortSignal: s.signal })) as { StatusCode: number };
      if (again.StatusCode !== 3) throw new Error(`waiting on an exited container answered ${again.StatusCode}, not its exit code 3`);
    },
  }),
  dockerTest({
    name: 'lifecycle-stop-timeout-kill',
    title: 'stop with a timeout on a process that ignores SIGTERM: killed (137) once the timeout has passed on the engine clock',
    async run(s) {
      const { c } = await startReady(s, `trap '' TERM; echo ready; ${IDLE}`);
      const grace = 3;
      const before = await engineNow(s);
      await c.stop({ t: grace, abortSignal: s.signal });
      const st = await state(c);
      if (st.Running || st.ExitCode !== 137) throw new Error(`after stop the container is Running ${st.Running} with ExitCode ${st.ExitCode}, not 137 (SIGKILL)`);
      const waited = engineTimeNs(st.FinishedAt) - before;
      if (waited < BigInt(grace) * 1_000_000_000n) throw new Error(`the container was killed ${Number(waited) / 1e9} s after the stop request: less than the ${grace} s grace period`);
    },
  }),
  dockerTest({
    name: 'lifecycle-stop-graceful',
    title: 'stop of a process that handles SIGTERM: it runs its handler and exits with its own code',
    async run(s) {
      const { c, logs } = await startReady(s, `trap 'echo got-term; exit 7' TERM; echo ready; ${IDLE}`);
      await c.stop({ t: 60, abortSignal: s.signal });
      const st = await state(c);
      if (st.Running || st.ExitCode !== 7) throw new Error(`after stop the container is Running ${st.Running} with ExitCode ${st.ExitCode}, not 7 (its TERM handler's)`);
      await logs.stdout.waitFor('got-term', s.signal, 10_000);
    },
  }),
  dockerTest({
    name: 'lifecycle-restart',
    title: 'restart: a new process (new Pid, later StartedAt) in the same container; RestartCount counts only policy restarts',
    async run(s) {
      const { c } = await startReady(s, `trap 'exit 0' TERM; echo ready; ${IDLE}`);
      const first = await state(c);
      await c.restart({ t: 10 });
      const second = await state(c);
      if (!second.Running) throw new Error(`after restart the container is ${second.Status}`);
      if (!(engineTimeNs(second.StartedAt) > engineTimeNs(first.StartedAt))) throw new Error(`StartedAt did not advance: ${first.StartedAt} → ${second.StartedAt}`);
      if (second.Pid === first.Pid) throw new Error(`the restarted container has the same Pid ${second.Pid}`);
      const info = await c.inspect();
      if (info.RestartCount !== 0) throw new Error(`a restart by request counts as a policy restart: RestartCount ${info.RestartCount}`);
    },
  }),
  dockerTest({
    name: 'lifecycle-kill-signal',
    title: 'kill with a signal: the process traps SIGUSR1 and keeps running; SIGKILL then ends it with 137',
    async run(s) {
      const { c, logs } = await startReady(s, `trap 'echo got-usr1' USR1; trap 'echo got-hup' HUP; echo ready; ${IDLE}`);
      await c.kill({ signal: 'SIGUSR1' });
      await logs.stdout.waitFor('got-usr1', s.signal, 30_000);
      await c.kill({ signal: 'HUP' });
      await logs.stdout.waitFor('got-hup', s.signal, 30_000);
      const alive = await state(c);
      if (!alive.Running) throw new Error(`a trapped signal ended the container (ExitCode ${alive.ExitCode})`);
      await c.kill({ signal: 'SIGKILL' });
      const waited = (await c.wait({ abortSignal: s.signal })) as { StatusCode: number };
      if (waited.StatusCode !== 137) throw new Error(`SIGKILL ended the container with ${waited.StatusCode}, not 137 (128 + 9)`);
      const refused = await expectStatus('killing a container that is not running', c.kill({ signal: 'SIGUSR1' }));
      if (refused !== 409) throw new Error(`killing a stopped container answered ${refused}, not 409`);
    },
  }),
  dockerTest({
    name: 'lifecycle-pause-unpause',
    title: 'pause and unpause: a paused container is Paused, its counter stands still and exec is refused; unpaused it counts on',
    async run(s) {
      const { c, logs } = await startReady(s, 'echo ready; i=0; while :; do i=$((i+1)); echo "n=$i"; sleep 0.2; done');
      const count = () => [...logs.stdout.text.matchAll(/n=(\d+)/g)].length;
      await pollUntil('the counter reaches 3', async () => (count() >= 3 ? true : undefined), s.signal);
      await c.pause();
      const paused = await state(c);
      if (!paused.Paused || paused.Status !== 'paused' || !paused.Running) throw new Error(`a paused container is ${paused.Status} (Paused ${paused.Paused}, Running ${paused.Running})`);
      // Lines written just before the freeze may still be on their way: let them land, then watch.
      await new Promise((r) => setTimeout(r, 2000));
      const frozen = count();
      await new Promise((r) => setTimeout(r, 3000));
      if (count() !== frozen) throw new Error(`the counter advanced from ${frozen} to ${count()} while the container was paused`);
      const refused = await expectStatus('exec in a paused container', c.exec({ Cmd: ['true'] }).then((e) => e.start({})));
      if (refused !== 409) throw new Error(`exec in a paused container answered ${refused}, not 409`);
      await c.unpause();
      const resumed = await state(c);
      if (resumed.Paused || resumed.Status !== 'running') throw new Error(`an unpaused container is ${resumed.Status} (Paused ${resumed.Paused})`);
      await pollUntil(`the counter moves past ${frozen} after unpause`, async () => (count() > frozen + 2 ? true : undefined), s.signal);
    },
  }),
  dockerTest({
    name: 'lifecycle-remove',
    title: 'remove: a stopped container is gone afterwards; a running one is refused (409) unless forced',
    async run(s) {
      const stopped = await s.createContainer({ Image: s.images.busybox, Cmd: ['true'] });
      await stopped.remove();
      const gone = await expectStatus('inspecting a removed container', stopped.inspect());
      if (gone !== 404) throw new Error(`inspecting a removed container answered ${gone}, not 404`);
      const listed = await s.api.listContainers({ all: true, filters: { id: [stopped.id] } });
      if (listed.length) throw new Error('the removed container is still listed');

      const { c: running } = await startReady(s, `echo ready; ${IDLE}`);
      const refused = await expectStatus('removing a running container without force', running.remove());
      if (refused !== 409) throw new Error(`removing a running container without force answered ${refused}, not 409`);
      if (!(await state(running)).Running) throw new Error('the refused removal stopped the container');
      await running.remove({ force: true });
      const forced = await expectStatus('inspecting a force-removed container', running.inspect());
      if (forced !== 404) throw new Error(`inspecting a force-removed container answered ${forced}, not 404`);
    },
  }),
  dockerTest({
    name: 'lifecycle-exit-codes',
    title: 'exit codes 0, 1, 42 and 255 come back as the container exit code, and death by SIGKILL as 128 + 9',
    async run(s) {
      const wrong: string[] = [];
      for (const code of [0, 1, 42, 255]) {
        const r = await s.run(s.images.busybox, ['sh', '-c', `exit ${code}`]);
        if (r.exitCode !== code || r.info.State.ExitCode !== code) wrong.push(`exit ${code}: wait says ${r.exitCode}, inspect says ${r.info.State.ExitCode}`);
      }
      const { c } = await startReady(s, `echo ready; ${IDLE}`);
      await c.kill({ signal: 'SIGKILL' });
      const killed = (await c.wait({ abortSignal: s.signal })) as { StatusCode: number };
      if (killed.StatusCode !== 137) wrong.push(`SIGKILL: ${killed.StatusCode}, not 137`);
      if (wrong.length) throw new Error(wrong.join('; '));
    },
  }),
];
