import { readdirSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { InfraError } from '../../src/core/errors.js';
import { hostArch } from '../../src/core/host-info.js';
import { pidAlive } from '../../src/core/pid-alive.js';
import type { Runner } from '../../src/core/runner.js';
import { LocalAgent } from './local-agent.js';
import { LocalConsole } from './local-console.js';
import { hostSpec, LocalSession } from './local-session.js';

/** Scratch folders are `<tmpdir>/tsuite-local-<tsuite pid>-XXXXXX`: the pid tells a leftover from a live run. */
const SCRATCH_PREFIX = 'tsuite-local-';

/**
 * The `local` runner: the host tsuite runs on is the target (as LTP runs on its host): a GPU host,
 * or a board that runs tsuite itself. Nothing is booted. A session offers the `agent` channel
 * implemented here (child_process and a scratch folder), so the agent-based suites run unchanged,
 * and a console fed by the host kernel's log.
 */
export const localRunner: Runner = {
  name: 'local',
  async provision(req, signal) {
    signal.throwIfAborted();
    if (req.arch !== hostArch()) {
      throw new InfraError(`the local target's arch is ${req.arch}, but this host is ${hostArch()}`, 'drop arch from the local target in tsuite.config.ts: it is always the host\'s');
    }
    await mkdir(req.dir, { recursive: true });
    const scratch = await mkdtemp(join(tmpdir(), `${SCRATCH_PREFIX}${process.pid}-`));
    try {
      // Probes check some behaviours as uid 1000: the root must be traversable and its tmp shared, like /tmp.
      await chmod(scratch, 0o755);
      await mkdir(join(scratch, 'tmp'));
      await chmod(join(scratch, 'tmp'), 0o1777);
      const console = new LocalConsole(req.dir, req.onConsoleLine);
      const session = new LocalSession(req.sessionId, req.dir, new LocalAgent(scratch), console, hostSpec(req.arch), req.eventPatterns);
      await writeFile(join(req.dir, 'local.json'), `${JSON.stringify({
        kernelRelease: release(), scratchRoot: scratch, kernelLog: console.kernelLogProblem ?? 'dmesg --follow-new', cmdline: session.spec.cmdline,
      }, null, 2)}\n`);
      return session;
    } catch (err) {
      await rm(scratch, { recursive: true, force: true });
      throw err;
    }
  },
  /** Removes the scratch folders of local sessions whose tsuite is gone (killed with SIGKILL); returns those pids. */
  async sweepOrphans() {
    const gone: number[] = [];
    for (const name of readdirSync(tmpdir())) {
      const m = new RegExp(`^${SCRATCH_PREFIX}(\\d+)-`).exec(name);
      if (!m || pidAlive(Number(m[1]))) continue;
      await rm(join(tmpdir(), name), { recursive: true, force: true });
      gone.push(Number(m[1]));
    }
    return gone;
  },
};
