import { execFile } from 'node:child_process';
import { parseCriEndpoint, type TestContext } from '../../src/index.js';

/**
 * Shell commands on the runtime's node, for what node files cannot do (mounts, symlinks): in a
 * QEMU guest through its guest agent; for a runtime on a unix socket, on this host. Such a runtime
 * shares this host's mounts and files but may sit in a network namespace of its own (the test
 * host's containerd does), so this shell is for the node's filesystem, never its network.
 */
export interface NodeShell {
  /** How commands reach the node, for messages. */
  readonly via: string;
  run(script: string, timeoutMs?: number): Promise<{ exitCode: number; stdout: string; stderr: string }>;
}

/** sbin folders first: the guest agent may start commands with a bare PATH. */
const PATH_PREFIX = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin; export PATH; ';

export function nodeShell(ctx: TestContext): NodeShell | { missing: string } {
  const agent = ctx.session.agent;
  if (agent) {
    return {
      via: 'the guest agent',
      async run(script, timeoutMs = 30_000) {
        const r = await agent.exec(['/bin/sh', '-c', PATH_PREFIX + script], { timeoutMs });
        return { exitCode: r.exitCode ?? 128 + (r.signal ?? 0), stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8') };
      },
    };
  }
  const endpoint = ctx.session.cri?.endpoint.url;
  if (endpoint && parseCriEndpoint(endpoint).kind === 'unix') {
    return {
      via: 'a shell on this host',
      run: (script, timeoutMs = 30_000) =>
        new Promise((resolve) => {
          execFile('/bin/sh', ['-c', PATH_PREFIX + script], { timeout: timeoutMs, signal: ctx.signal }, (err, stdout, stderr) => {
            const code = err ? (typeof err.code === 'number' ? err.code : 128) : 0;
            resolve({ exitCode: code, stdout, stderr });
          });
        }),
    };
  }
  return { missing: "a shell on the runtime's node (mounts, symlinks): the target has no guest agent and its CRI endpoint is not a unix socket on this host" };
}

/** The node's shell, or a skip naming why there is none. */
export function requireNodeShell(ctx: TestContext): NodeShell {
  const shell = nodeShell(ctx);
  if ('missing' in shell) ctx.skip(shell.missing);
  return shell;
}

/** Runs `script` on the node; fails naming it and its output unless it exits 0. Returns stdout, trimmed. */
export async function onNode(shell: NodeShell, script: string): Promise<string> {
  const r = await shell.run(script);
  if (r.exitCode !== 0) throw new Error(`\`${script}\` on the node (through ${shell.via}) exited ${r.exitCode}: ${(r.stderr || r.stdout).trim().slice(0, 500)}`);
  return r.stdout.trim();
}
