import type Dockerode from 'dockerode';
import { InfraError, type DockerChannel, type TestContext } from '../../src/index.js';
import { CONTAINER_COLD_START, CONTAINER_EXEC, CONTAINER_RUN_SAMPLES, CONTAINER_EXEC_SAMPLES } from './metrics.js';
import { timeIt } from './time-it.js';

/** The session's engine and tsuite's busybox image on it (loaded once per engine). */
async function engine(ctx: TestContext): Promise<{ docker: DockerChannel; busybox: string }> {
  const docker = ctx.session.docker;
  if (!docker) throw new InfraError('the session has no docker channel', 'run on a target with a Docker Engine API (qemu-x86-node, docker)');
  // The OCI image tooling (registry client, tar, bcrypt) loads here, not with the suite catalog at every start-up.
  const { ensureTestImage } = await import('../../oci-images/index.js');
  return { docker, busybox: await ensureTestImage(docker, ctx.target.arch, 'busybox', ctx.signal) };
}

/** Removes the containers a measurement made, whatever happened; a removal that fails is reported. */
async function removeAll(api: Dockerode, ids: Iterable<string>): Promise<void> {
  const failed: string[] = [];
  for (const id of ids) {
    await api.getContainer(id).remove({ force: true }).catch((err: { statusCode?: number; message: string }) => {
      if (err.statusCode !== 404) failed.push(`${id.slice(0, 12)}: ${err.message}`);
    });
  }
  if (failed.length) throw new InfraError(`could not remove the benchmark's containers: ${failed.join('; ')}`, 'remove them by hand; a later containers run sweeps what is labelled tsuite.run');
}

/** `docker run` of busybox `true`: create, start, wait for exit (removal is not timed). */
export async function measureColdStart(ctx: TestContext): Promise<void> {
  const { docker, busybox } = await engine(ctx);
  const made = new Set<string>();
  try {
    await timeIt(ctx, CONTAINER_COLD_START, CONTAINER_RUN_SAMPLES, async () => {
      const c = await docker.api.createContainer({ Image: busybox, Cmd: ['true'], Labels: { 'tsuite.run': ctx.runId, 'tsuite.bench': 'cold-start' } });
      made.add(c.id);
      await c.start();
      const { StatusCode } = (await c.wait()) as { StatusCode: number };
      if (StatusCode !== 0) throw new Error(`busybox true exited with ${StatusCode}`);
    }, async () => {
      await removeAll(docker.api, made);
      made.clear();
    });
  } finally {
    await removeAll(docker.api, made);
  }
}

/** `docker exec` of `true` in a running container: create the exec, start it attached, read to its end. */
export async function measureExec(ctx: TestContext): Promise<void> {
  const { docker, busybox } = await engine(ctx);
  const c = await docker.api.createContainer({ Image: busybox, Cmd: ['sleep', '3600'], Labels: { 'tsuite.run': ctx.runId, 'tsuite.bench': 'exec' } });
  try {
    await c.start();
    await timeIt(ctx, CONTAINER_EXEC, CONTAINER_EXEC_SAMPLES, async () => {
      const exec = await c.exec({ Cmd: ['true'], AttachStdout: true, AttachStderr: true });
      const stream = await exec.start({ hijack: true, stdin: false });
      // The attached stream ends when the process does.
      await new Promise<void>((resolve, reject) => {
        stream.on('end', resolve).on('close', resolve).on('error', reject);
        stream.resume();
      });
      // The engine may record the exit a moment after the stream ends.
      let info = await exec.inspect();
      for (let i = 0; info.Running && i < 100; i++) info = await exec.inspect();
      if (info.ExitCode !== 0) throw new Error(`exec of true exited with ${info.ExitCode}`);
    });
  } finally {
    await removeAll(docker.api, [c.id]);
  }
}
