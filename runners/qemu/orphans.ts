import { existsSync } from 'node:fs';
import { readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Every QEMU tsuite starts keeps its QMP socket in a temp dir named after the tsuite process that
 * owns it: `tsuite-qemu-<owner pid>-XXXXXX`. A tsuite killed outright (SIGKILL, OOM) cannot stop
 * its machines, so the next run finds them by that name and stops those whose owner is gone.
 */
export const OWNER_PREFIX = 'tsuite-qemu-';

export const ownedTmpPrefix = () => join(tmpdir(), `${OWNER_PREFIX}${process.pid}-`);

const ownerOf = (text: string) => {
  const m = new RegExp(`${OWNER_PREFIX}(\\d+)-`).exec(text);
  return m ? Number(m[1]) : undefined;
};

const alive = (pid: number) => existsSync(`/proc/${pid}`);

/** Kills orphaned tsuite QEMU processes and removes their temp dirs; returns the pids killed. */
export async function sweepOrphanQemus(): Promise<number[]> {
  const killed: number[] = [];
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (!cmdline.startsWith('qemu-system') && !cmdline.includes('/qemu-system')) continue;
    const owner = ownerOf(cmdline);
    if (owner === undefined || alive(owner)) continue;
    try {
      process.kill(Number(entry), 'SIGKILL');
      killed.push(Number(entry));
    } catch {
      // already gone
    }
  }
  for (const entry of await readdir(tmpdir()).catch(() => [] as string[])) {
    const owner = ownerOf(entry);
    if (entry.startsWith(OWNER_PREFIX) && owner !== undefined && !alive(owner)) {
      await rm(join(tmpdir(), entry), { recursive: true, force: true });
    }
  }
  return killed;
}
