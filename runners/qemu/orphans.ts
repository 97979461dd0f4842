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

const OWNER = new RegExp(`${OWNER_PREFIX}(\\d+)-`);
const ownerOf = (text: string) => {
  const m = OWNER.exec(text);
  return m ? Number(m[1]) : undefined;
};

const alive = (pid: number) => existsSync(`/proc/${pid}`);

/**
 * Kills orphaned tsuite QEMU processes and removes their temp dirs; returns the pids killed. It runs
 * before every boot, so the command lines are read at once, not one after another.
 */
export async function sweepOrphanQemus(): Promise<number[]> {
  const pids = (await readdir('/proc').catch(() => [] as string[])).filter((entry) => /^\d+$/.test(entry));
  const cmdlines = await Promise.all(pids.map((pid) => readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')));
  const killed: number[] = [];
  for (const [i, cmdline] of cmdlines.entries()) {
    if (!cmdline.startsWith('qemu-system') && !cmdline.includes('/qemu-system')) continue;
    const owner = ownerOf(cmdline);
    if (owner === undefined || alive(owner)) continue;
    try {
      process.kill(Number(pids[i]), 'SIGKILL');
      killed.push(Number(pids[i]));
    } catch {
      // already gone
    }
  }
  for (const entry of await readdir(tmpdir()).catch(() => [] as string[])) {
    if (!entry.startsWith(OWNER_PREFIX)) continue;
    const owner = ownerOf(entry);
    if (owner !== undefined && !alive(owner)) await rm(join(tmpdir(), entry), { recursive: true, force: true });
  }
  return killed;
}
