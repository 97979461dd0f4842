import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type Dockerode from 'dockerode';
import tar from 'tar-stream';
import { ensureTestImage } from '../../oci-images/index.js';
import type { DockerChannel, TestContext } from '../../src/index.js';
import { probeRun, runContainer, type ProbeRun } from '../probe-container.js';

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
  const opts = {
    Image: image,
    Cmd: [...req.cmd],
    ...(req.env ? { Env: [...req.env] } : {}),
    WorkingDir: '/tmp',
    Labels: { 'tsuite.run': ctx.runId, 'tsuite.test': `gpu/${basename(req.cmd[0] ?? 'probe')}` },
    HostConfig: { Tmpfs: { '/tmp': 'rw,exec,mode=1777' }, ...req.hostConfig },
  };
  const run = await runContainer(docker, opts, req.timeoutMs, ctx.signal, req.what, {
    beforeStart: async (container) => {
      if (req.files.length > 0) await container.putArchive(await filesTar(req.files), { path: '/' });
    },
    refused: (err) => new ContainerRefused(err.message),
  });
  return probeRun(run);
}
