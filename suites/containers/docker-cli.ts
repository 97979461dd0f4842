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
export async function requireCli(s: Scope): Promise<void> {
  try {
    await access(DOCKER_CLI, constants.X_OK);
  } catch {
    s.ctx.skip(`the docker CLI ${DOCKER_CLI} is not installed (Debian package docker.io: apt-get install docker.io)`);
  }
}

/** A containers test that drives the CLI: skipped when the client is not installed. */
function cliTest(def: Parameters<typeof dockerTest>[0]): TestDef {
  return dockerTest({
    ...def,
    async run(s) {
      await requireCli(s);
      await def.run(s);
    },
  });
}

interface CliOptions {
  /** The exit code the command must end with. */
  code?: number;
  /** What the command reads on stdin. */
  input?: string;
  /** Added to the CLI's environment (e.g. DOCKER_CONFIG: where `docker login` keeps credentials). */
  env?: Readonly<Record<string, string>>;
}

/**
 * Runs the CLI against the session's engine (DOCKER_HOST and TLS settings from the channel, nothing
 * from the caller's context); fails with the command and what it printed unless it exits `code` (0).
 */
export async function docker(s: Scope, args: readonly string[], opts: CliOptions = {}): Promise<CliResult> {
  const code = opts.code ?? 0;
  const env: NodeJS.ProcessEnv = { ...process.env, ...s.docker.cliEnv(), ...opts.env };
  // A context in the caller's environment would win over DOCKER_HOST.
  delete env.DOCKER_CONTEXT;
  const r = await new Promise<CliResult>((resolve, reject) => {
    const child = spawn(DOCKER_CLI, args, { env, signal: s.signal, timeout: 120_000, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (exit) => resolve({ code: exit, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
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
  cliTest({
    name: 'cli-docker-version',
    title: "the docker CLI talks to the engine: `docker version` shows the engine's version and API version",
    async run(s) {
      const r = await docker(s, ['version', '--format', '{{json .}}']);
      const v = JSON.parse(r.stdout) as { Client?: { Version?: string; ApiVersion?: string }; Server?: { Version?: string; ApiVersion?: string } };
      if (v.Server?.Version !== s.docker.info.engineVersion) throw new Error(`the CLI reports server version ${v.Server?.Version}, the API ${s.docker.info.engineVersion}`);
      if (v.Client?.ApiVersion !== s.docker.info.apiVersion) throw new Error(`the CLI speaks API ${v.Client?.ApiVersion}, not the negotiated ${s.docker.info.apiVersion}`);
    },
  }),
  cliTest({
    name: 'cli-docker-run-rm',
    title: '`docker run --rm` runs a container, prints its output and exit code, and leaves no container behind',
    async run(s) {
      const marker = `tsuite-cli-${s.ctx.runId}`;
      const args = ['run', '--rm', ...labelArgs(s), s.images.busybox, 'sh', '-c', `echo ${marker}; exit 7`];
      const filters = { label: [`${RUN_LABEL}=${s.ctx.runId}`, `${TEST_LABEL}=${s.labels[TEST_LABEL]}`] };
      // Should --rm not work, the scope still removes what the CLI made.
      s.defer(async () => {
        for (const c of await s.api.listContainers({ all: true, filters })) await s.api.getContainer(c.Id).remove({ force: true });
      });
      const r = await docker(s, args, { code: 7 });
      if (r.stdout !== `${marker}\n`) throw new Error(`\`docker run\` printed ${JSON.stringify(r.stdout)}, not the container's output ${marker}`);
      const left = await s.api.listContainers({ all: true, filters });
      if (left.length) throw new Error(`\`docker run --rm\` left ${left.map((c) => `${c.Id.slice(0, 12)} (${c.State})`).join(', ')}`);
    },
  }),
  cliTest({
    name: 'cli-docker-ps',
    title: '`docker ps` lists a running container by label with its id, image and Up status; `docker ps -a` also lists an exited one',
    async run(s) {
      const running = await talker(s);
      const exited = await s.run(s.images.busybox, ['true']);
      const filter = ['--filter', `label=${RUN_LABEL}=${s.ctx.runId}`, '--filter', `label=${TEST_LABEL}=${s.labels[TEST_LABEL]}`, '--no-trunc', '--format', '{{.ID}}|{{.Image}}|{{.Status}}'];
      const ps = (await docker(s, ['ps', ...filter])).stdout.trim().split('\n');
      if (ps.length !== 1 || !ps[0]!.startsWith(`${running.id}|${s.images.busybox}|Up`)) throw new Error(`\`docker ps\` listed ${JSON.stringify(ps)}, not just ${running.id.slice(0, 12)} Up`);
      const all = (await docker(s, ['ps', '-a', ...filter])).stdout;
      if (!all.includes(`${exited.container.id}|`) || !/\|Exited \(0\)/.test(all)) throw new Error(`\`docker ps -a\` does not list the exited container: ${JSON.stringify(all)}`);
    },
  }),
  cliTest({
    name: 'cli-docker-exec',
    title: '`docker exec` runs in a running container with its exit code; `docker exec -i` feeds stdin',
    async run(s) {
      const c = await talker(s);
      const r = await docker(s, ['exec', c.id, 'sh', '-c', 'echo $((6 * 7)) $(cat /proc/1/cmdline | head -c 2); exit 3'], { code: 3 });
      if (r.stdout !== '42 sh\n') throw new Error(`\`docker exec\` printed ${JSON.stringify(r.stdout)}, not "42 sh" (PID 1 being the container's shell)`);
      const i = await docker(s, ['exec', '-i', c.id, 'tr', 'a-z', 'A-Z'], { input: 'round trip\n' });
      if (i.stdout !== 'ROUND TRIP\n') throw new Error(`\`docker exec -i\` gave ${JSON.stringify(i.stdout)} for "round trip"`);
    },
  }),
  cliTest({
    name: 'cli-docker-logs',
    title: "`docker logs` prints a container's stdout to stdout and its stderr to stderr",
    async run(s) {
      const c = await talker(s);
      const r = await docker(s, ['logs', c.id]);
      if (r.stdout !== 'to-stdout\n' || r.stderr !== 'to-stderr\n') throw new Error(`\`docker logs\` gave stdout ${JSON.stringify(r.stdout)}, stderr ${JSON.stringify(r.stderr)}`);
    },
  }),
];
