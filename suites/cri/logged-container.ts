/** A container run for its log: the node files its log is read through, a run to exit, a shell command line. */
import type { TestContext } from '../../src/index.js';
import type { CriFixture } from './fixture.js';
import type { NodeFiles } from './node-files.js';
import type { ContainerConfig, CriScope } from './scope.js';

/** The node's files, or a skip naming why tsuite cannot read container logs. */
export function nodeFilesOf(ctx: TestContext, fx: CriFixture): NodeFiles {
  if ('missing' in fx.files) ctx.skip(`the node's files (container logs): ${fx.files.missing}`);
  return fx.files as NodeFiles;
}

/** Runs `command` in a fresh pod to its exit; where its log is on the node, and its final status. */
export async function runToExit(ctx: TestContext, fx: CriFixture, scope: CriScope, command: readonly string[], extra: Partial<ContainerConfig> = {}) {
  const files = nodeFilesOf(ctx, fx);
  const pod = await scope.runPod();
  const logPath = (extra.log_path as string | undefined) ?? 'c.log';
  const id = await scope.startContainer(pod, 'c', { command, log_path: logPath, ...extra });
  const status = await scope.waitStatus(id, (s) => s.state === 'CONTAINER_EXITED', 'exit');
  return { id, files, status, path: `${pod.config.log_directory}/${logPath}` };
}

export const sh = (script: string, ...args: string[]) => ['sh', '-c', script, 'sh', ...args];
