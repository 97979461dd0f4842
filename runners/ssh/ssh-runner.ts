import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { shellWord } from '../../src/channels/guest-agent.js';
import { SshChannel } from '../../src/channels/ssh.js';
import { InfraError, UsageError } from '../../src/core/errors.js';
import type { Runner } from '../../src/core/runner.js';
import { SshAgent } from './ssh-agent.js';
import { SshConsole } from './ssh-console.js';
import { SshSession } from './ssh-session.js';

/** What the machine says about itself, in one round trip: arch, CPUs, memory, kernel, command line. */
const FACTS = 'uname -m; getconf _NPROCESSORS_ONLN 2>/dev/null || nproc; sed -n "s/^MemTotal: *\\([0-9]*\\) kB/\\1/p" /proc/meminfo; uname -r; cat /proc/cmdline';

/**
 * The `ssh` runner: an existing machine (a board, a lab box, a cloud VM reached privately) is the
 * target, reached with ssh2. Nothing is booted. A session offers the `ssh` channel, the `agent`
 * channel implemented over it (so the agent-based suites run unchanged, writing only under a temp
 * dir made on the machine for the session, since the machine is not the session's), and a console
 * fed by the machine's kernel log.
 */
export const sshRunner: Runner = {
  name: 'ssh',
  async provision(req, signal) {
    if (!req.ssh) throw new UsageError('the ssh runner needs the target\'s ssh settings', "set ssh: { host, user } on the target in tsuite.config.ts");
    await mkdir(req.dir, { recursive: true });
    const ssh = await SshChannel.connect(req.ssh, signal);
    let scratch: string | undefined;
    try {
      const facts = (await ssh.exec(FACTS, { timeoutMs: 15_000 })).stdout.toString('utf8').split('\n');
      const [arch = '', cpus = '', memKb = '', kernelRelease = '', cmdline = ''] = facts;
      if (arch !== req.arch) {
        throw new InfraError(`target arch is ${req.arch}, but ${ssh.name} is ${arch || 'unknown'} (uname -m)`, `set arch: '${arch}' on the ssh target in tsuite.config.ts (the probes are built for it)`);
      }
      // The session's own dir on a machine it does not own; traversable and with a shared tmp, as probes check some behaviours as uid 1000.
      const base = req.ssh.workDir ? shellWord(req.ssh.workDir) : '"${TMPDIR:-/tmp}"';
      const made = await ssh.exec(`d=$(mktemp -d ${base}/tsuite-ssh-XXXXXX) && chmod 755 "$d" && mkdir "$d/tmp" && chmod 1777 "$d/tmp" && echo "$d"`, { timeoutMs: 15_000 });
      scratch = made.stdout.toString('utf8').trim();
      if (made.exitCode !== 0 || !scratch.startsWith('/')) {
        throw new InfraError(`cannot make a scratch dir on ${ssh.name} under ${req.ssh.workDir ?? '$TMPDIR or /tmp'}: ${made.stderr.toString('utf8').trim() || `exit ${made.exitCode}`}`, 'set ssh.workDir to a folder the user can write on the machine');
      }
      const console = new SshConsole(req.dir, req.onConsoleLine);
      await console.follow(ssh);
      const spec = { arch, cpus: Number(cpus) || 1, memoryMb: Math.round(Number(memKb) / 1024) || 0, cmdline: cmdline.trim() };
      const session = new SshSession(req.sessionId, req.dir, ssh, new SshAgent(ssh, scratch), console, spec, req.eventPatterns);
      await writeFile(join(req.dir, 'ssh.json'), `${JSON.stringify({
        machine: ssh.name, hostKey: ssh.hostKey, kernelRelease, scratchRoot: scratch, cmdline: spec.cmdline,
      }, null, 2)}\n`);
      return session;
    } catch (err) {
      if (scratch) await ssh.exec(`rm -rf ${shellWord(scratch)}`, { timeoutMs: 15_000 }).catch(() => undefined);
      ssh.close();
      throw err;
    }
  },
};
