import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parseCriEndpoint, type GuestAgent, type TestContext } from '../../src/index.js';

/**
 * Files on the runtime's node: container logs at the log_path the kubelet asked for, hosts.toml for
 * the local registry. A QEMU guest's are reached through its guest agent; a runtime on a unix socket
 * runs on this host, so its files are this host's.
 */
export interface NodeFiles {
  /** How they are reached, for messages: `the guest agent`, `this host's filesystem`. */
  readonly via: string;
  read(path: string): Promise<Buffer>;
  write(path: string, data: string | Buffer): Promise<void>;
  /** Removes a file or folder tree; absent is fine. */
  remove(path: string): Promise<void>;
  /** Renames a file on the node (what the kubelet does to rotate a container log). */
  rename(from: string, to: string): Promise<void>;
}

/** The node's files, or why tsuite cannot reach them (for the skip reason). */
export function nodeFiles(ctx: TestContext): NodeFiles | { missing: string } {
  const agent = ctx.session.agent;
  if (agent) return agentFiles(agent);
  const endpoint = ctx.session.cri?.endpoint.url;
  if (endpoint && parseCriEndpoint(endpoint).kind === 'unix') return localFiles;
  return { missing: "the runtime's node files (container logs, registry settings): the target has no guest agent and its CRI endpoint is not a unix socket on this host" };
}

function agentFiles(agent: GuestAgent): NodeFiles {
  return {
    via: 'the guest agent',
    read: (path) => agent.readFile(path),
    async write(path, data) {
      const mk = await agent.exec(['/bin/mkdir', '-p', dirname(path)], { timeoutMs: 10_000 });
      if (mk.exitCode !== 0) throw new Error(`mkdir -p ${dirname(path)} in the guest failed: ${mk.stderr.toString().trim()}`);
      await agent.writeFile(path, data);
    },
    async remove(path) {
      await agent.exec(['/bin/rm', '-rf', '--', path], { timeoutMs: 10_000 });
    },
    async rename(from, to) {
      const r = await agent.exec(['/bin/mv', '--', from, to], { timeoutMs: 10_000 });
      if (r.exitCode !== 0) throw new Error(`mv ${from} ${to} in the guest failed: ${r.stderr.toString().trim()}`);
    },
  };
}

const localFiles: NodeFiles = {
  via: "this host's filesystem",
  read: (path) => readFile(path),
  async write(path, data) {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, data);
  },
  remove: (path) => rm(path, { recursive: true, force: true }),
  rename: (from, to) => rename(from, to),
};
