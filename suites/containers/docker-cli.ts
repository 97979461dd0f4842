import { spawn } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import type { TestDef } from '../../src/index.js';
import { RUN_LABEL, TEST_LABEL } from './fixture.js';
import { dockerTest, type Scope } from './scope.js';
import { followLogs } from './streams.js';

/**
 * Debian's docker client (package docker.io). Not whatever `docker` comes first on PATH: that can
 * be another CLI entirely (this machine has a 28.x one in /usr/local/bin).
 */
export const DOCKER_CLI = '/usr/bin/docker';

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Skips the test when the client is not installed. */
async function requireCli(s: Scope): Promise<void> {
  try {
    await access(DOCKER_CLI, constants.X_OK);
  } catch {
    s.ctx.skip(`the docker CLI ${DOCKER_CLI} is not installed (Debian package docker.io: apt-get install docker.io)`);
  }
}

/** Runs the CLI against the session's engine (DOCKER_HOST and TLS settings from the channel, nothing from the caller's context). */
function docker(s: Scope, args: readonly string[], input?: string, timeoutMs = 120_000): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...s.docker.cliEnv() };
  // A context in the caller's environment would win over DOCKER_HOST.
  delete env.DOCKER_CONTEXT;
  return new Promise((resolve, reject) => {
    const child = spawn(DOCKER_CLI, args, { env, signal: s.signal, timeout: timeoutMs, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

/** Fails with the command and what it printed unless it exited `code`. */
function expectCode(args: readonly string[], r: CliResult, code = 0): CliResult {
  if (r.code !== code) throw new Error(`\`docker ${args.join(' ')}\` exited ${r.code}, not ${code}: ${JSON.stringify((r.stderr || r.stdout).slice(-500))}`);
  return r;
}

const labelArgs = (s: Scope) => Object.entries(s.labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]);

/** A labelled busybox container that prints a line to each stream, then idles: for exec, logs and ps. */
async function talker(s: Scope) {
  const c = await s.startContainer({ Image: s.images.busybox, Cmd: ['sh', '-c', 'echo to-stdout; echo to-stderr >&2; trap "exit 0" TERM; while :; do sleep 1 & wait $!; done'] });
  await (await followLogs(s.api, c, s.signal)).stderr.waitFor('to-stderr', s.signal);
  return c;
}

export const dockerCliTests: TestDef[] = [
  dockerTest({
    name: 'docker-cli-version',
    title: "the docker CLI talks to the engine: `docker version` shows the engine's version and API version",
    async run(s) {
      await requireCli(s);
      const args = ['version', '--format', '{{json .}}'];
      const r = expectCode(args, await docker(s, args));
      const v = JSON.parse(r.stdout) as { Client?: { Version?: string; ApiVersion?: string }; Server?: { Version?: string; ApiVersion?: string } };
      if (v.Server?.Version !== s.docker.info.engineVersion) throw new Error(`the CLI reports server version ${v.Server?.Version}, the API ${s.docker.info.engineVersion}`);
      if (v.Client?.ApiVersion !== s.docker.info.apiVersion) throw new Error(`the CLI speaks API ${v.Client?.ApiVersion}, not the negotiated ${s.docker.info.apiVersion}`);
      // Results carry metrics only: the client's version goes into the name, its API version is the value.
      s.ctx.metric({ name: `docker-cli ${v.Client?.Version ?? 'unknown'} api`, unit: '', value: Number(v.Client?.ApiVersion) });
    },
  }),
  dockerTest({
    name: 'docker-cli-run-rm',
    title: '`docker run --rm` runs a container, prints its output and exit code, and leaves no container behind',
    async run(s) {
      await requireCli(s);
      const marker = `tsuite-cli-${s.ctx.runId}`;
      const args = ['run', '--rm', ...labelArgs(s), s.images.busybox, 'sh', '-c', `echo ${marker}; exit 7`];
      const filters = { label: [`${RUN_LABEL}=${s.ctx.runId}`, `${TEST_LABEL}=${s.labels[TEST_LABEL]}`] };
      // Should --rm not work, the scope still removes what the CLI made.
      s.defer(async () => {
        for (const c of await s.api.listContainers({ all: true, filters })) await s.api.getContainer(c.Id).remove({ force: true });
      });
      const r = expectCode(args, await docker(s, args), 7);
      if (r.stdout !== `${marker}\n`) throw new Error(`\`docker run\` printed ${JSON.stringify(r.stdout)}, not the container's output ${marker}`);
      const left = await s.api.listContainers({ all: true, filters });
      if (left.length) throw new Error(`\`docker run --rm\` left ${left.map((c) => `${c.Id.slice(0, 12)} (${c.State})`).join(', ')}`);
    },
  }),
  dockerTest({
    name: 'docker-cli-ps',
    title: '`docker ps` lists a running container by label with its id, image and Up status; `docker ps -a` also lists an exited one',
    async run(s) {
      await requireCli(s);
      const running = await talker(s);
      const exited = await s.run(s.images.busybox, ['true']);
      const filter = ['--filter', `label=${RUN_LABEL}=${s.ctx.runId}`, '--filter', `label=${TEST_LABEL}=${s.labels[TEST_LABEL]}`, '--no-trunc', '--format', '{{.ID}}|{{.Image}}|{{.Status}}'];
      const ps = expectCode(['ps', ...filter], await docker(s, ['ps', ...filter])).stdout.trim().split('\n');
      if (ps.length !== 1 || !ps[0]!.startsWith(`${running.id}|${s.images.busybox}|Up`)) throw new Error(`\`docker ps\` listed ${JSON.stringify(ps)}, not just ${running.id.slice(0, 12)} Up`);
      const all = expectCode(['ps', '-a', ...filter], await docker(s, ['ps', '-a', ...filter])).stdout;
      if (!all.includes(`${exited.container.id}|`) || !/\|Exited \(0\)/.test(all)) throw new Error(`\`docker ps -a\` does not list the exited container: ${JSON.stringify(all)}`);
    },
  }),
  dockerTest({
    name: 'docker-cli-exec',
    title: '`docker exec` runs in a running container with its exit code; `docker exec -i` feeds stdin',
    async run(s) {
      await requireCli(s);
      const c = await talker(s);
      const args = ['exec', c.id, 'sh', '-c', 'echo $((6 * 7)) $(cat /proc/1/cmdline | head -c 2); exit 3'];
      const r = expectCode(args, await docker(s, args), 3);
      if (r.stdout !== '42 sh\n') throw new Error(`\`docker exec\` printed ${JSON.stringify(r.stdout)}, not "42 sh" (PID 1 being the container's shell)`);
      const iargs = ['exec', '-i', c.id, 'tr', 'a-z', 'A-Z'];
      const i = expectCode(iargs, await docker(s, iargs, 'round trip\n'));
      if (i.stdout !== 'ROUND TRIP\n') throw new Error(`\`docker exec -i\` gave ${JSON.stringify(i.stdout)} for "round trip"`);
    },
  }),
  dockerTest({
    name: 'docker-cli-logs',
    title: "`docker logs` prints a container's stdout to stdout and its stderr to stderr",
    async run(s) {
      await requireCli(s);
      const c = await talker(s);
      const args = ['logs', c.id];
      const r = expectCode(args, await docker(s, args));
      if (r.stdout !== 'to-stdout\n' || r.stderr !== 'to-stderr\n') throw new Error(`\`docker logs\` gave stdout ${JSON.stringify(r.stdout)}, stderr ${JSON.stringify(r.stderr)}`);
    },
  }),
];
