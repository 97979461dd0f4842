import type Dockerode from 'dockerode';
import { InfraError, TestOutcome, type DockerChannel, type TestContext } from '../src/index.js';
import { ensureTestImage, PROBES_IN_IMAGE } from '../oci-images/index.js';
import { demuxBuffer } from './containers/streams.js';
import { outputTail } from './guest-upload.js';

/** What one probe run left: its output and how it ended (`signal` instead of `exitCode` when killed). */
export interface ProbeRun {
  stdout: Buffer;
  stderr: Buffer;
  exitCode?: number;
  signal?: number;
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

export interface ContainerRun {
  code: number;
  stdout: Buffer;
  stderr: Buffer;
}

export interface ContainerHooks {
  /** Runs between create and start (files copied in). */
  beforeStart?: (container: Dockerode.Container) => Promise<void>;
  /** What an engine's refusal to create or start becomes; default an InfraError naming the engine. */
  refused?: (err: Error) => Error;
}

/**
 * Creates, starts and waits for one container, returning its exit code and demuxed output; it is
 * removed afterwards whatever happened (a removal that fails is reported, not swallowed).
 */
export async function runContainer(docker: DockerChannel, opts: Dockerode.ContainerCreateOptions, timeoutMs: number, signal: AbortSignal, what: string, hooks: ContainerHooks = {}): Promise<ContainerRun> {
  const refused = (err: unknown) => hooks.refused?.(err as Error) ??
    new InfraError(`the engine at ${docker.endpoint.url} could not run ${what}: ${(err as Error).message}`, 'check the engine with `docker -H <url> run --rm <image>`; the containers suite tests its API call by call');
  const container = await docker.api.createContainer(opts).catch((err: unknown) => {
    throw refused(err);
  });
  try {
    await hooks.beforeStart?.(container);
    await container.start().catch((err: unknown) => {
      throw refused(err);
    });
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    const aborted = new Promise<'aborted'>((resolve) => signal.addEventListener('abort', () => resolve('aborted'), { once: true }));
    const ended = await Promise.race([container.wait() as Promise<{ StatusCode: number }>, expired, aborted]).finally(() => clearTimeout(timer));
    const text = await demuxBuffer(docker.api, (await container.logs({ stdout: true, stderr: true, follow: false })) as Buffer);
    const logs = { stdout: Buffer.from(text.stdout), stderr: Buffer.from(text.stderr) };
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
export async function runInContainer(ctx: TestContext, docker: DockerChannel, probe: string, timeoutMs: number): Promise<ProbeRun> {
  const image = await ensureTestImage(docker, ctx.target.arch, 'probes', ctx.signal);
  const privilege = await probePrivileges(docker, image, ctx.runId, ctx.signal);
  const run = await runContainer(
    docker,
    {
      Image: image,
      Cmd: [`${PROBES_IN_IMAGE}/${probe}`],
      WorkingDir: '/tmp',
      Labels: { 'tsuite.run': ctx.runId, 'tsuite.probe': probe },
      HostConfig: { ...privilege, Tmpfs: { '/tmp': 'rw,exec,mode=1777' } },
    },
    timeoutMs,
    ctx.signal,
    `probe ${probe}`,
  );
  return probeRun(run);
}

/** The engine reports a process killed by signal N as 128 + N; the probes themselves exit 0 or 1. */
export function probeRun({ code, stdout, stderr }: ContainerRun): ProbeRun {
  return code > 128 && code < 128 + 65 ? { stdout, stderr, signal: code - 128 } : { stdout, stderr, exitCode: code };
}
