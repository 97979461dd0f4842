import type { TestDef } from '../../src/index.js';
import { isUnimplemented } from '../../src/index.js';
import { criTest } from './cri-test.js';
import { lines, readLog, type LogRecord } from './cri-log.js';
import { nodeFilesOf, runToExit } from './logged-container.js';
import type { NodeFiles } from './node-files.js';

/** Whether the node has a file at `path` (any read failure counts as none). */
const exists = (files: NodeFiles, path: string) => files.read(path).then(() => true, () => false);

const only = (records: LogRecord[], want: readonly string[], path: string, what: string) => {
  const got = lines(records, 'stdout');
  if (got.join('\n') !== want.join('\n')) throw new Error(`${what} ${path} holds stdout ${JSON.stringify(got)}; expected exactly ${JSON.stringify(want)}`);
};

/** ReopenContainerLog: what the kubelet calls after rotating a container's log by renaming it. */
export const logReopenTests: TestDef[] = [
  criTest({
    name: 'logs-reopen',
    title: 'After the log is renamed, ReopenContainerLog sends new output to a new file at log_path; the renamed file keeps the old lines',
    rpcs: ['ReopenContainerLog', 'ContainerStatus'],
    async run({ ctx, cri, fx, scope }) {
      const files = nodeFilesOf(ctx, fx);
      // PID 1 copies what an exec writes to a FIFO onto its stdout: output arrives only when the test says.
      const { pod, id } = await scope.podWithContainer('c', { command: ['sh', '-c', 'mkfifo /tmp/say; while true; do cat /tmp/say; done'] });
      const path = `${pod.config.log_directory}/c.log`;
      const rotated = `${path}.rotated`;
      await scope.sh(id, 'printf "before-1\\nbefore-2\\n" > /tmp/say');
      await readLog(files, path, (r) => lines(r, 'stdout').length >= 2, 'hold the lines written before rotation');
      await files.rename(path, rotated);
      await cri.runtime('ReopenContainerLog', { container_id: id });
      await scope.sh(id, 'printf "after-1\\nafter-2\\n" > /tmp/say');
      const fresh = await readLog(files, path, (r) => lines(r, 'stdout').length >= 2, 'get the lines written after ReopenContainerLog (in a new file)');
      only(fresh, ['after-1', 'after-2'], path, 'after ReopenContainerLog, the new');
      only(await readLog(files, rotated, () => true, 'be readable'), ['before-1', 'before-2'], rotated, 'the renamed log');
      const status = await scope.status(id);
      if (status.log_path !== path) throw new Error(`after ReopenContainerLog, ContainerStatus.log_path is '${status.log_path}', not '${path}'`);
    },
  }),
  criTest({
    name: 'logs-reopen-stopped',
    title: 'ReopenContainerLog of an exited container either fails and creates no log file, or succeeds and creates one',
    rpcs: ['ReopenContainerLog'],
    async run({ ctx, cri, fx, scope }) {
      const { id, files, path } = await runToExit(ctx, fx, scope, ['sh', '-c', 'echo bye']);
      await readLog(files, path, (r) => lines(r, 'stdout').length >= 1, 'hold the line');
      await files.rename(path, `${path}.rotated`);
      let refused: Error | undefined;
      try {
        await cri.runtime('ReopenContainerLog', { container_id: id });
      } catch (err) {
        if (isUnimplemented(err)) throw err;
        refused = err as Error;
      }
      // CRI: for a container that is not running the runtime may create a new log file and answer
      // OK, or answer an error; once it answers an error, it must not create the file.
      const created = await exists(files, path);
      if (refused && created) throw new Error(`ReopenContainerLog of an exited container failed (${refused.message}) but created ${path}`);
      if (!refused && !created) throw new Error(`ReopenContainerLog of an exited container answered OK but created no log file at ${path}`);
    },
  }),
];
