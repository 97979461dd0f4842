/**
 * What a start of the local registries leaves on disk so that they never outlive their owner: a
 * state file in their private dir naming the owning process and the registry PIDs. stop() uses it;
 * a later start sweeps every dir whose owner died (SIGKILL, a crash: no exit hook ran).
 */
import { readFileSync } from 'node:fs';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const REGISTRY_DIR_PREFIX = 'tsuite-registry-';
const STATE_FILE = 'registries.json';
/** Registry 2.8 stops at once on SIGTERM (no drain timeout is set); this is only the wait before SIGKILL. */
const STOP_GRACE_MS = 5_000;

export interface RegistriesState {
  ownerPid: number;
  /** The private dir: state, config, storage, TLS material. */
  dir: string;
  pids: number[];
}

export async function writeRegistriesState(state: RegistriesState): Promise<void> {
  await writeFile(join(state.dir, STATE_FILE), JSON.stringify(state));
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, owned by someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Stops one registry by PID, if it is still ours: a PID from an old state file may since belong to
 * another program, and only a process whose command line names our dir (its config file) is ours.
 */
export async function stopOwnedProcess(pid: number, dir: string): Promise<void> {
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  if (!cmdline.includes(`${dir}/`)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + STOP_GRACE_MS;
  while (alive(pid) && !isZombie(pid) && Date.now() < deadline) await sleep(50);
  if (alive(pid) && !isZombie(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone meanwhile */
    }
  }
}

/** An exited process nobody has reaped yet (the owner gone, a PID 1 that does not reap) still answers kill(0). */
function isZombie(pid: number): boolean {
  try {
    // "pid (comm) S …": comm may hold spaces or parens, so the state is read after the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.charAt(stat.lastIndexOf(')') + 2) === 'Z';
  } catch {
    return false;
  }
}

/** Stops every registry of a state and removes its dir. Safe to call twice. */
export async function teardownRegistries(state: RegistriesState): Promise<void> {
  await Promise.all(state.pids.map((pid) => stopOwnedProcess(pid, state.dir)));
  await rm(state.dir, { recursive: true, force: true });
}

/** Tears down the registries of every dir under `parent` whose owner process is gone. Returns the dirs removed. */
export async function sweepStaleRegistries(parent: string): Promise<string[]> {
  const swept: string[] = [];
  for (const name of await readdir(parent).catch(() => [] as string[])) {
    if (!name.startsWith(REGISTRY_DIR_PREFIX)) continue;
    const dir = join(parent, name);
    const state = await readFile(join(dir, STATE_FILE), 'utf8').then((t) => JSON.parse(t) as RegistriesState, () => undefined);
    // No state file: a start still writing it, or not ours to judge; left alone.
    if (!state || state.ownerPid === process.pid || alive(state.ownerPid)) continue;
    await teardownRegistries({ ...state, dir });
    swept.push(dir);
  }
  return swept;
}
