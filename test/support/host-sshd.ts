import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { freePort } from '../../src/core/ports.js';

/**
 * Debian's OpenSSH server on this host, for the ssh channel's tests: its own sshd_config, host key,
 * authorized_keys and pid file in a temp dir, listening in a network namespace of its own joined to
 * the host by a veth pair (a /30 in 10.232.0.0/16). The host's /etc/ssh is never read (every path
 * is given) and the host's own sshd, if any, is never touched. sshd 9.2 insists on its privilege
 * separation dir /run/sshd (compiled in): made when missing, removed again by the harness that
 * made it. Stop removes the namespace, the veth pair and the temp dir.
 */
const SSHD = '/usr/sbin/sshd';
const PRIVSEP_DIR = '/run/sshd';
const run = promisify(execFile);

export interface HostSshd {
  host: string;
  port: number;
  user: string;
  /** A key the server accepts, and one it refuses. */
  clientKey: string;
  refusedKey: string;
  /** known_hosts naming this server's real key, and one naming another key for the same host:port. */
  knownHosts: string;
  wrongKnownHosts: string;
  hostKeyFingerprint: string;
  dir: string;
  logFile: string;
  /** The listening sshd's pid; each connection is served by a child of it. */
  pid: number;
  /** The sshd processes serving connections now (children of the listener). */
  connectionPids(): number[];
  /** Everything below the listener: the connections' sshd processes and what their sessions run. */
  connectionTrees(): number[];
  stop(): Promise<void>;
}

/** Why sshd cannot be started here (tests skip with it), or undefined. */
export function hostSshdUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'the host sshd tests need Linux';
  if (process.getuid?.() !== 0) return 'starting sshd in a network namespace needs root';
  if (!existsSync(SSHD)) return `${SSHD} is missing: install Debian's openssh-server (npm run setup:tests does)`;
  for (const tool of ['/usr/bin/nsenter', '/usr/sbin/ip', '/usr/bin/ssh-keygen']) if (!existsSync(tool)) return `${tool} is missing (needed to run a test sshd)`;
  return undefined;
}

export async function startHostSshd(): Promise<HostSshd> {
  const unavailable = hostSshdUnavailable();
  if (unavailable) throw new Error(unavailable);
  let port = await freePort();
  while (existsSync(`/run/netns/tssh${port}`)) port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'tsuite-test-sshd-'));
  const netns = `tssh${port}`;
  const hostVeth = `${netns}h`;
  const made = { netns: false, veth: false, privsep: false };
  let child: ChildProcess | undefined;
  const stop = async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((r) => child!.once('exit', r));
      process.kill(child.pid!, 'SIGTERM');
      await Promise.race([gone, sleep(5_000)]);
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGKILL');
    }
    // Connections' sshd children outlive the listener until their client leaves: none may stay.
    for (const pid of childrenOf(child?.pid)) killQuietly(pid);
    if (made.veth) await run('ip', ['link', 'del', hostVeth]).catch(() => undefined);
    if (made.netns) await run('ip', ['netns', 'del', netns]).catch(() => undefined);
    if (made.privsep) {
      try {
        rmdirSync(PRIVSEP_DIR);
      } catch {
        // another sshd started meanwhile uses it
      }
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const keygen = (file: string, type = 'ed25519') => run('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', 'tsuite-test', '-f', join(dir, file)]);
    await Promise.all([keygen('host_ed25519'), keygen('client'), keygen('refused'), keygen('impostor')]);
    await writeFile(join(dir, 'authorized_keys'), await readFile(join(dir, 'client.pub')));
    const addr = await makeNetwork(netns, hostVeth, port, made);
    const name = `[${addr}]:${port}`;
    const pub = (f: string) => readFile(join(dir, f), 'utf8').then((t) => t.split(' ').slice(0, 2).join(' '));
    await writeFile(join(dir, 'known_hosts'), `# the test sshd\n${name} ${await pub('host_ed25519.pub')}\n`);
    await writeFile(join(dir, 'known_hosts.wrong'), `${name} ${await pub('impostor.pub')}\n`);
    const fingerprint = (await run('ssh-keygen', ['-l', '-E', 'sha256', '-f', join(dir, 'host_ed25519.pub')])).stdout.split(' ')[1]!;
    await writeFile(join(dir, 'sshd_config'), [
      `Port ${port}`, `ListenAddress ${addr}`, `HostKey ${join(dir, 'host_ed25519')}`, `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      // The temp dir sits under /tmp (world-writable): StrictModes would refuse the keys file there.
      'StrictModes no', 'UsePAM no', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'PubkeyAuthentication yes',
      'PermitRootLogin prohibit-password', 'Subsystem sftp internal-sftp', 'PrintMotd no', 'PrintLastLog no',
      'MaxSessions 64', 'MaxStartups 64', 'LogLevel VERBOSE', '',
    ].join('\n'));
    if (!existsSync(PRIVSEP_DIR)) {
      mkdirSync(PRIVSEP_DIR, { mode: 0o755 });
      made.privsep = true;
    }
    const logFile = join(dir, 'sshd.log');
    const log = openSync(logFile, 'a');
    // -D: stay in the foreground (its pid is the listener's); -e: log to stderr (our log file), not syslog.
    child = spawn('nsenter', [`--net=/run/netns/${netns}`, '--', SSHD, '-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', log, log], detached: true });
    closeSync(log);
    await waitListening(addr, port, child, logFile);
    const listener = child.pid!;
    return {
      host: addr, port, user: 'root', dir, logFile, pid: listener,
      clientKey: join(dir, 'client'), refusedKey: join(dir, 'refused'),
      knownHosts: join(dir, 'known_hosts'), wrongKnownHosts: join(dir, 'known_hosts.wrong'),
      hostKeyFingerprint: fingerprint,
      connectionPids: () => childrenOf(listener),
      connectionTrees: () => {
        const all: number[] = [];
        for (let next = childrenOf(listener); next.length > 0; next = next.flatMap(childrenOf)) all.push(...next);
        return all;
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function makeNetwork(netns: string, hostVeth: string, seed: number, made: { netns: boolean; veth: boolean }): Promise<string> {
  const used = (await run('ip', ['-4', '-o', 'addr', 'show'])).stdout + (await run('ip', ['-4', 'route', 'show'])).stdout;
  let net: { host: string; peer: string } | undefined;
  for (let i = 0; i < 16_384 && !net; i++) {
    const n = (seed + i) % 16_384;
    const base = `10.232.${n >> 6}.`;
    const first = (n & 63) << 2;
    if (![first, first + 1, first + 2].some((last) => used.includes(`${base}${last}/`) || used.includes(`${base}${last} `))) net = { host: `${base}${first + 1}`, peer: `${base}${first + 2}` };
  }
  if (!net) throw new Error('no free /30 in 10.232.0.0/16 for a test sshd');
  await run('ip', ['netns', 'add', netns]);
  made.netns = true;
  await run('ip', ['link', 'add', hostVeth, 'type', 'veth', 'peer', 'name', `${netns}n`, 'netns', netns]);
  made.veth = true;
  await run('ip', ['addr', 'add', `${net.host}/30`, 'dev', hostVeth]);
  await run('ip', ['link', 'set', hostVeth, 'up']);
  await run('ip', ['-n', netns, 'addr', 'add', `${net.peer}/30`, 'dev', `${netns}n`]);
  await run('ip', ['-n', netns, 'link', 'set', `${netns}n`, 'up']);
  await run('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
  return net.peer;
}

async function waitListening(host: string, port: number, child: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`sshd exited (${child.exitCode ?? child.signalCode}):\n${readFileSync(logFile, 'utf8')}`);
    if (await tcpOpen(host, port)) return;
    await sleep(100);
  }
  throw new Error(`sshd did not listen on ${host}:${port} within 15 s:\n${readFileSync(logFile, 'utf8')}`);
}

function tcpOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port, timeout: 1_000 }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('timeout', () => s.destroy());
    s.on('error', () => resolve(false));
    s.on('close', () => resolve(false));
  });
}

/** Direct children of a process, through /proc. */
function childrenOf(parent: number | undefined): number[] {
  if (parent === undefined) return [];
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === parent;
    } catch {
      return false;
    }
  }).map(Number);
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone already
  }
}
