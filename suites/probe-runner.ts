import {
  buildProbes,
  InfraError,
  parseKtapAll,
  scanKernelEvents,
  TestOutcome,
  type AgentClient,
  type ProbeArch,
  type TestContext,
} from '../src/index.js';
import type Dockerode from 'dockerode';
import type { DockerChannel } from '../src/index.js';
import { ensureTestImage, PROBES_IN_IMAGE } from '../oci-images/index.js';
import { outputTail, uploadOnce } from './guest-upload.js';
import { ktapChild, linesBefore, reportedKtapTests } from './ktap-results.js';

/** Where the probes are copied in the guest (and where the probes image carries them). */
export const PROBE_DIR = PROBES_IN_IMAGE;

/** What one probe run left: its output and how it ended (`signal` instead of `exitCode` when killed). */
interface ProbeRun {
  stdout: Buffer;
  stderr: Buffer;
  exitCode?: number;
  signal?: number;
}

/** In the guest over the agent, as root with cwd /tmp. */
async function runOverAgent(ctx: TestContext, agent: AgentClient, probe: string, timeoutMs: number): Promise<ProbeRun> {
  await uploadOnce(ctx.session, agent, PROBE_DIR, async () => {
    const built = await buildProbes(ctx.target.arch as ProbeArch);
    return { dir: built.dir, names: built.probes };
  });
  const res = await agent.exec(['/bin/sh', '-c', `cd /tmp && exec ${PROBE_DIR}/${probe}`], { timeoutMs });
  if (res.exitCode === 127) {
    throw new InfraError(`probe ${probe} is not in the guest (${outputTail(res.stderr, 2)})`, 'boot the tsuite initramfs, which carries the probes, or copy them to ' + PROBE_DIR);
  }
  return res;
}

/** Splits `docker logs` output of a container without a TTY: frames of [stream, 0, 0, 0, size (BE32)] + payload. */
export function demuxDockerLogs(buf: Buffer): { stdout: Buffer; stderr: Buffer } {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  for (let at = 0; at + 8 <= buf.length; ) {
    const size = buf.readUInt32BE(at + 4);
    (buf[at] === 2 ? err : out).push(buf.subarray(at + 8, at + 8 + size));
    at += 8 + size;
  }
  return { stdout: Buffer.concat(out), stderr: Buffer.concat(err) };
}

/** Linux capability names by bit, as Docker spells them (without CAP_). */
const CAPABILITIES = [
  'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP', 'LINUX_IMMUTABLE',
  'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK', 'IPC_OWNER', 'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT',
  'SYS_PTRACE', 'SYS_PACCT', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE', 'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD', 'LEASE',
  'AUDIT_WRITE', 'AUDIT_CONTROL', 'SETFCAP', 'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG', 'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ',
  'PERFMON', 'BPF', 'CHECKPOINT_RESTORE',
] as const;

/** The capabilities a `CapBnd:` mask (hex, from /proc/<pid>/status) lacks, by Docker's names. */
export function missingCapabilities(capBnd: string): string[] {
  const mask = BigInt(`0x${capBnd}`);
  return CAPABILITIES.filter((_, bit) => ((mask >> BigInt(bit)) & 1n) === 0n);
}

interface ContainerRun {
  code: number;
  stdout: Buffer;
  stderr: Buffer;
}

/**
 * Creates, starts and waits for one container, returning its exit code and demuxed output; it is
 * removed afterwards whatever happened (a removal that fails is reported, not swallowed).
 */
async function runContainer(docker: DockerChannel, opts: Dockerode.ContainerCreateOptions, timeoutMs: number, signal: AbortSignal, what: string): Promise<ContainerRun> {
  const refused = (err: unknown) =>
    new InfraError(`the engine at ${docker.endpoint.url} could not run ${what}: ${(err as Error).message}`, 'check the engine with `docker -H <url> run --rm <image>`; the containers suite tests its API call by call');
  const container = await docker.api.createContainer(opts).catch((err: unknown) => {
    throw refused(err);
  });
  try {
    await container.start().catch((err: unknown) => {
      throw refused(err);
    });
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    const aborted = new Promise<'aborted'>((resolve) => signal.addEventListener('abort', () => resolve('aborted'), { once: true }));
    const ended = await Promise.race([container.wait() as Promise<{ StatusCode: number }>, expired, aborted]).finally(() => clearTimeout(timer));
    const logs = demuxDockerLogs((await container.logs({ stdout: true, stderr: true, follow: false })) as Buffer);
    if (ended === 'aborted') throw signal.reason;
    if (ended === 'timeout') throw new TestOutcome('timedOut', `${what} did not end within ${timeoutMs} ms in its container; stdout:\n${outputTail(logs.stdout)}`);
    return { code: ended.StatusCode, ...logs };
  } finally {
    await container.remove({ force: true, v: true }).catch((err: unknown) => {
      throw new InfraError(`could not remove container ${container.id.slice(0, 12)} of ${what}: ${(err as Error).message}`, 'remove it by hand; a later run sweeps containers labelled tsuite.run');
    });
  }
}

/**
 * How a probe container gets what the reference guest gives a probe: root with every capability,
 * no seccomp or AppArmor filter, /proc and /sys unmasked. `Privileged` says all that; an engine
 * whose own host withholds a capability (its bounding set lacks it) cannot start privileged
 * containers at all, so there the probes get every capability but those, read from the engine
 * host's pid 1. Decided once per engine.
 */
const privileges = new WeakMap<DockerChannel, Promise<Dockerode.HostConfig>>();

function probePrivileges(docker: DockerChannel, image: string, runId: string, signal: AbortSignal): Promise<Dockerode.HostConfig> {
  let found = privileges.get(docker);
  if (!found) {
    found = (async (): Promise<Dockerode.HostConfig> => {
      const labels = { 'tsuite.run': runId, 'tsuite.probe': 'privileges' };
      const privileged: Dockerode.HostConfig = { Privileged: true };
      try {
        await runContainer(docker, { Image: image, Cmd: ['true'], Labels: labels, HostConfig: privileged }, 60_000, signal, 'a privileged container');
        return privileged;
      } catch (err) {
        if (!/apply caps|operation not permitted/i.test((err as Error).message)) throw err;
      }
      const status = await runContainer(docker, { Image: image, Cmd: ['cat', '/proc/1/status'], Labels: labels, HostConfig: { PidMode: 'host' } }, 60_000, signal, "reading the engine host's capabilities");
      const capBnd = /^CapBnd:\s*([0-9a-f]+)/m.exec(status.stdout.toString())?.[1];
      if (status.code !== 0 || !capBnd) {
        throw new InfraError(
          `the engine at ${docker.endpoint.url} refuses privileged containers, and its host's capabilities cannot be read (${outputTail(status.stderr, 2)})`,
          'let the engine run privileged containers: the probes need root with every capability, as in the reference guest',
        );
      }
      // Empty MaskedPaths/ReadonlyPaths: what the CLI's `--security-opt systempaths=unconfined` sends.
      return { CapAdd: ['ALL'], CapDrop: missingCapabilities(capBnd), SecurityOpt: ['seccomp=unconfined', 'apparmor=unconfined'], MaskedPaths: [], ReadonlyPaths: [] };
    })();
    privileges.set(docker, found);
    found.catch(() => privileges.delete(docker));
  }
  return found;
}

/**
 * In a container from tsuite's probes image, for a kernel whose only interface is its management
 * API: root with every capability (see probePrivileges), cwd /tmp on a tmpfs as in the reference
 * guest, labelled with the run id, removed even when the probe fails or times out.
 */
async function runInContainer(ctx: TestContext, docker: DockerChannel, probe: string, timeoutMs: number): Promise<ProbeRun> {
  const image = await ensureTestImage(docker, ctx.target.arch, 'probes', ctx.signal);
  const privilege = await probePrivileges(docker, image, ctx.runId, ctx.signal);
  const run = await runContainer(
    docker,
    {
      Image: image,
      Cmd: [`${PROBE_DIR}/${probe}`],
      WorkingDir: '/tmp',
      Labels: { 'tsuite.run': ctx.runId, 'tsuite.probe': probe },
      HostConfig: { ...privilege, Tmpfs: { '/tmp': 'rw,exec,mode=1777' } },
    },
    timeoutMs,
    ctx.signal,
    `probe ${probe}`,
  );
  // The engine reports a process killed by signal N as 128 + N; the probes themselves exit 0 or 1.
  const { code, stdout, stderr } = run;
  return code > 128 && code < 128 + 65 ? { stdout, stderr, signal: code - 128 } : { stdout, stderr, exitCode: code };
}

/**
 * Runs one probe and reports each KTAP behaviour it prints as a child result under `prefix`:
 * in the guest over the agent (as root, cwd /tmp), or, for a target with only a Docker Engine
 * API, in a container. A kernel that died meanwhile makes it `crashed`; a probe that printed no
 * KTAP is a `parseError`; a probe missing from the guest is an infraError.
 */
export async function runProbe(ctx: TestContext, probe: string, prefix: string, timeoutMs: number): Promise<void> {
  const { agent, docker } = ctx.session;
  if (!agent && !docker) throw new InfraError('the session has neither an agent nor a docker channel', 'boot a target whose guest runs qemu-ga, or one with a Docker endpoint');
  const fromLine = ctx.session.console.lines.length;
  const res = agent ? await runOverAgent(ctx, agent, probe, timeoutMs) : await runInContainer(ctx, docker!, probe, timeoutMs);
  const out = res.stdout.toString('utf8').split('\n');
  const docs = parseKtapAll(out);
  for (const { id, test } of reportedKtapTests(docs)) ctx.emit(ktapChild(`${prefix}${id}`, test, (line) => linesBefore(out, line)));

  const trouble = scanKernelEvents(ctx.session.console.lines.map((l) => l.text), ctx.session.eventPatterns, fromLine);
  if (trouble.length > 0) throw new TestOutcome('crashed', `the kernel reported ${trouble[0]!.kind} while ${probe} ran: ${trouble[0]!.text}`);
  if (docs.length === 0) {
    throw new TestOutcome('parseError', `probe ${probe} printed no KTAP (exit ${res.exitCode ?? `signal ${res.signal}`}); stderr:\n${outputTail(res.stderr)}`);
  }
  if (res.signal !== undefined) throw new TestOutcome('failed', `probe ${probe} died by signal ${res.signal}; stderr:\n${outputTail(res.stderr)}`);
  if (res.exitCode !== 0) throw new TestOutcome('failed', `probe ${probe} exited with ${res.exitCode}; stderr:\n${outputTail(res.stderr)}`);
}
