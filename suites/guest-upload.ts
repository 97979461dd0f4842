import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { guestPath, type GuestAgent, type Session } from '../src/index.js';

const uploads = new WeakMap<Session, Map<string, Promise<string>>>();

/**
 * Copies host-built programs (probes, benchmarks) into `guestDir` over the agent, once per session
 * and folder: every test of the session that needs them waits on the same copy. Resolves with where
 * they are: `guestDir`, or its place under the agent's scratch root (the local target).
 */
export function uploadOnce(
  session: Session,
  agent: GuestAgent,
  guestDir: string,
  build: () => Promise<{ dir: string; names: readonly string[] }>,
): Promise<string> {
  let bySession = uploads.get(session);
  if (!bySession) uploads.set(session, (bySession = new Map()));
  let upload = bySession.get(guestDir);
  if (!upload) {
    upload = (async () => {
      const built = await build();
      const dir = guestPath(agent, guestDir);
      await agent.exec(['/bin/mkdir', '-p', dir], { timeoutMs: 10_000 });
      for (const name of built.names) await agent.writeFile(`${dir}/${name}`, await readFile(join(built.dir, name)), 0o755);
      return dir;
    })();
    bySession.set(guestDir, upload);
  }
  return upload;
}

/** The last lines of a program's output, for a failure message. */
export const outputTail = (b: Buffer, n = 10) => b.toString('utf8').trim().split('\n').slice(-n).join('\n');
