import { writeFile } from 'node:fs/promises';

/**
 * The autogroup nice a time-mode benchmark session's QEMU gets: its share of the CPU against the
 * other sessions on the host.
 */
export const BENCH_AUTOGROUP_NICE = -10;

/**
 * The autogroup nice every other session's QEMU gets. QEMU runs in a scheduling group of its own,
 * and with autogrouping the group gets no more CPU than tsuite's: on a 2-core host the suites
 * loading, reports being written and other sessions' bookkeeping took a boot's CPU from its vCPUs
 * (a median 60 ms of a 2.6 s boot under TCG, measured with `npm run perf:boot`). Milder than a
 * benchmark's, so that tsuite still reads every console promptly when several sessions are busy.
 */
export const SESSION_AUTOGROUP_NICE = -5;

/**
 * Raises the scheduling weight of QEMU's autogroup, best effort. tsuite starts QEMU in a session of
 * its own (detached), and with autogrouping on (Linux's default for desktops and many servers)
 * every session is one scheduling group: a plain `nice` would only weigh QEMU's threads against
 * each other. The group's own nice weighs QEMU against the rest of the host. Measured on a busy
 * 2-core host, it took slow boots from 11 of 11 to 1 of 11 (fixtures/bench/SETTINGS.md).
 *
 * Needs root or CAP_SYS_NICE; without autogrouping there is no file. Either way the run goes on:
 * the result says what was done, for the session's record.
 */
export async function raiseAutogroupPriority(pid: number, nice = BENCH_AUTOGROUP_NICE): Promise<string> {
  try {
    await writeFile(`/proc/${pid}/autogroup`, `${nice}\n`);
    return `autogroup nice ${nice}`;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'no autogrouping on this host' : e.code === 'EPERM' || e.code === 'EACCES' ? 'not permitted (needs root or CAP_SYS_NICE)' : (e.code ?? e.message);
    return `default priority: autogroup nice not set (${why})`;
  }
}
