import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type Dockerode from 'dockerode';
import tar from 'tar-stream';
import { ensureTestImage } from '../../oci-images/index.js';
import { InfraError, TestOutcome, type DockerChannel, type TestContext } from '../../src/index.js';
import { demuxBuffer } from '../containers/streams.js';
import { outputTail } from '../guest-upload.js';
import type { ProbeRun } from '../probe-container.js';

/** A host file to place in the container before it starts. */
export interface ContainerFile {
  from: string;
  to: string;
}

export interface GpuContainerRequest {
  cmd: readonly string[];
  files: readonly ContainerFile[];
  /** Devices, device requests, limits: what the test gives the container. */
  hostConfig: Dockerode.HostConfig;
  env?: readonly string[];
  what: string;
  timeoutMs: number;
}

/** A tar of the files, each at its place (mode 0755: they are programs). */
async function filesTar(files: readonly ContainerFile[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const f of files) pack.entry({ name: f.to.replace(/^\/+/, ''), mode: 0o755 }, await readFile(f.from));
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** What an engine without a GPU driver answers a GPU device request with (Docker's own words). */
export const NO_GPU_DRIVER = /could not select device driver|unknown or invalid runtime name: nvidia|nvidia-container-cli/i;

/** The engine refused to start the container: what it said, for a skip or a failure. */
export class ContainerRefused extends Error {
  readonly engineMessage: string;
  constructor(message: string) {
    // dockerode prefixes the engine's words with `(HTTP code 500) server error - `.
    const engineMessage = message.replace(/^\(HTTP code \d+\)[^-]*- /, '').trim();
    super(engineMessage);
    this.engineMessage = engineMessage;
    this.name = 'ContainerRefused';
  }
}

/**
 * Runs one program in a busybox container from tsuite's own images, with host files copied in
 * before it starts (the GPU probes are not in any image), labelled with the run id and removed
 * whatever happened. An engine that refuses to start it (a device request it cannot meet) throws
 * ContainerRefused with the engine's own words.
 */
export async function runInGpuContainer(ctx: TestContext, docker: DockerChannel, req: GpuContainerRequest): Promise<ProbeRun> {
  const image = await ensureTestImage(docker, ctx.target.arch, 'busybox', ctx.signal);
  const container = await docker.api.createContainer({
    Image: image,
    Cmd: [...req.cmd],
    ...(req.env ? { Env: [...req.env] } : {}),
    WorkingDir: '/tmp',
    Labels: { 'tsuite.run': ctx.runId, 'tsuite.test': `gpu/${basename(req.cmd[0] ?? 'probe')}` },
    HostConfig: { Tmpfs: { '/tmp': 'rw,exec,mode=1777' }, ...req.hostConfig },
  }).catch((err: unknown) => {
    throw new ContainerRefused((err as Error).message);
  });
  try {
    if (req.files.length > 0) await container.putArchive(await filesTar(req.files), { path: '/' });
    await container.start().catch((err: unknown) => {
      throw new ContainerRefused((err as Error).message);
    });
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), req.timeoutMs)));
    const aborted = new Promise<'aborted'>((resolve) => ctx.signal.addEventListener('abort', () => resolve('aborted'), { once: true }));
    const ended = await Promise.race([container.wait() as Promise<{ StatusCode: number }>, expired, aborted]).finally(() => clearTimeout(timer));
    const text = await demuxBuffer(docker.api, (await container.logs({ stdout: true, stderr: true, follow: false })) as Buffer);
    const stdout = Buffer.from(text.stdout);
    const stderr = Buffer.from(text.stderr);
    if (ended === 'aborted') throw ctx.signal.reason;
    if (ended === 'timeout') throw new TestOutcome('timedOut', `${req.what} did not end within ${req.timeoutMs} ms in its container; stdout:\n${outputTail(stdout)}`);
    const code = ended.StatusCode;
    return code > 128 && code < 128 + 65 ? { stdout, stderr, signal: code - 128 } : { stdout, stderr, exitCode: code };
  } finally {
    await container.remove({ force: true, v: true }).catch((err: unknown) => {
      throw new InfraError(`could not remove container ${container.id.slice(0, 12)} of ${req.what}: ${(err as Error).message}`, 'remove it by hand; a later run sweeps containers labelled tsuite.run');
    });
  }
}
