/**
 * A throwaway Docker engine on this host: Debian's /usr/sbin/dockerd with its own --data-root,
 * --exec-root, pidfile and unix socket under a temp dir, plus a TCP listener (plain or TLS with
 * client certificates), started for a test and stopped by PID.
 *
 * It runs in its own network namespace, joined to the host by a veth pair (host 10.231.x.1/30,
 * engine 10.231.x.2/30), and its TCP API listens on the engine side: `url` is
 * tcp://10.231.x.2:PORT. Why not the host's namespace: two dockerds there share iptables and
 * fight over it. Each dockerd flushes the DOCKER, DOCKER-ISOLATION-STAGE-1/2 chains at start
 * (removing the other's rules), and with --iptables=false traffic between containers on a bridge
 * meets the FORWARD policy DROP another engine set (br_netfilter is on). A separate bridge name or
 * --bip does not fix either; --bridge=none loses bridge networking. In its own namespace the engine
 * has its own docker0, iptables and FORWARD policy, so it behaves the same whether or not another
 * engine runs (a developer's, or none in CI), and published ports are reached at the engine's
 * address. The only host state it adds is the namespace and the veth pair, removed on stop.
 * dockerd is started with nsenter --net only (no mount namespace: `ip netns exec` would remount
 * /sys and hide the cgroup mounts dockerd needs).
 */
import { spawn } from 'node:child_process';
import { existsSync, openSync, closeSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { trackChild } from '../../src/core/child-processes.js';
import { exec, execOk } from '../../src/core/exec.js';
import { freePort } from '../../src/core/ports.js';
import { makeDockerTls } from './docker-tls.js';
import { pidAlive } from '../../src/core/pid-alive.js';

const DOCKERD = '/usr/sbin/dockerd';
const DIR_PREFIX = 'tsuite-hd-';
const START_TIMEOUT_MS = 60_000;
/** dockerd gives running containers 10 s to stop on SIGTERM before it kills them. */
const STOP_GRACE_MS = 20_000;

export interface HostDockerd {
  /** The TCP endpoint: tcp://10.231.x.2:PORT (https with client certs when started with tls). */
  url: string;
  /** The unix socket (always plain), reachable from this host's filesystem. */
  socketUrl: string;
  /** DOCKER_CERT_PATH-style client folder (ca.pem, cert.pem, key.pem), for tls. */
  certPath?: string;
  /** TLS material (CA, server cert), for tls: tests make untrusted clients with it. */
  tlsDir?: string;
  pid: number;
  dir: string;
  logFile: string;
  stop(): Promise<void>;
}

/** What stop() (or a later sweep, if this process died) needs; written to <dir>/harness.json. */
interface HarnessState {
  ownerPid: number;
  pid?: number;
  dir: string;
  netns: string;
  hostVeth: string;
  /** What this harness created (a name clash must not make it remove another's). */
  made?: { netns?: boolean; veth?: boolean };
}

/** Why a host dockerd cannot be started here (tests skip with it), or undefined. */
export function hostDockerdUnavailable(opts: { tls?: boolean } = {}): string | undefined {
  if (process.platform !== 'linux') return 'a host dockerd needs Linux';
  if (process.getuid?.() !== 0) return 'starting a host dockerd needs root (network namespace, mounts, cgroups)';
  if (!existsSync(DOCKERD)) return `${DOCKERD} is missing: install Debian's docker.io (apt-get install docker.io)`;
  for (const tool of ['/usr/bin/containerd', '/usr/bin/nsenter', '/usr/sbin/ip']) {
    if (!existsSync(tool) && !existsSync(tool.replace('/usr', ''))) return `${tool} is missing (needed to run a host dockerd)`;
  }
  if (opts.tls && !existsSync('/usr/bin/openssl')) return 'openssl is missing (needed to make TLS certificates)';
  return undefined;
}

export async function startHostDockerd(opts: { tls?: boolean } = {}): Promise<HostDockerd> {
  const unavailable = hostDockerdUnavailable(opts);
  if (unavailable) throw new Error(unavailable);
  await sweepStaleHostDockerds();
  // The port names the namespace too; another process's engine may hold a name on a port that is free here.
  let port = await freePort();
  while (existsSync(`/run/netns/tshd${port}`)) port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), DIR_PREFIX));
  const state: HarnessState = { ownerPid: process.pid, dir, netns: `tshd${port}`, hostVeth: `tshd${port}h` };
  const stateFile = join(dir, 'harness.json');
  await writeFile(stateFile, JSON.stringify(state));
  try {
    const engineIp = await makeNetwork(state, port);
    await writeFile(stateFile, JSON.stringify(state));
    const socket = join(dir, 'docker.sock');
    const configFile = join(dir, 'daemon.json');
    // Our own (empty) config: the host's /etc/docker/daemon.json may set hosts or other options.
    await writeFile(configFile, '{}\n');
    const args = [
      '--config-file', configFile, '--data-root', join(dir, 'data'), '--exec-root', join(dir, 'exec'),
      '--pidfile', join(dir, 'docker.pid'), '-H', `unix://${socket}`, '-H', `tcp://${engineIp}:${port}`,
    ];
    let certPath: string | undefined;
    let tlsDir: string | undefined;
    if (opts.tls) {
      tlsDir = join(dir, 'tls');
      const tls = await makeDockerTls(tlsDir, [engineIp]);
      certPath = tls.clientDir;
      args.push('--tlsverify', '--tlscacert', tls.caCert, '--tlscert', tls.serverCert, '--tlskey', tls.serverKey);
    } else {
      // Without it dockerd sleeps 15 s on purpose before serving plain TCP.
      args.push('--tls=false');
    }
    const logFile = join(dir, 'dockerd.log');
    const log = openSync(logFile, 'a');
    // The caller's DOCKER_* settings (DOCKER_CERT_PATH, DOCKER_TLS_VERIFY) would change dockerd's defaults.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DOCKER_')));
    // nsenter execs dockerd in place: the child's PID is dockerd's.
    const child = spawn('nsenter', [`--net=/run/netns/${state.netns}`, '--', DOCKERD, ...args], { stdio: ['ignore', log, log], detached: true, env });
    closeSync(log);
    trackChild(child);
    state.pid = child.pid;
    await writeFile(stateFile, JSON.stringify(state));
    await waitReady(socket, engineIp, port, child, logFile);
    return {
      url: `tcp://${engineIp}:${port}`,
      socketUrl: `unix://${socket}`,
      certPath,
      tlsDir,
      pid: child.pid!,
      dir,
      logFile,
      stop: () => teardown(state),
    };
  } catch (err) {
    await teardown(state);
    throw err;
  }
}

/** The namespace and veth pair; returns the engine-side address. */
async function makeNetwork(state: HarnessState, port: number): Promise<string> {
  const net = await freeSubnet(port);
  const nsVeth = `${state.netns}n`;
  await execOk('ip', ['netns', 'add', state.netns]);
  state.made = { netns: true };
  await execOk('ip', ['link', 'add', state.hostVeth, 'type', 'veth', 'peer', 'name', nsVeth, 'netns', state.netns]);
  state.made.veth = true;
  await execOk('ip', ['addr', 'add', `${net.host}/30`, 'dev', state.hostVeth]);
  await execOk('ip', ['link', 'set', state.hostVeth, 'up']);
  await execOk('ip', ['-n', state.netns, 'addr', 'add', `${net.engine}/30`, 'dev', nsVeth]);
  await execOk('ip', ['-n', state.netns, 'link', 'set', nsVeth, 'up']);
  await execOk('ip', ['-n', state.netns, 'link', 'set', 'lo', 'up']);
  return net.engine;
}

/** A /30 in 10.231.0.0/16 (outside Docker's default pools) that no host address or route uses. */
async function freeSubnet(seed: number): Promise<{ host: string; engine: string }> {
  const used = (await execOk('ip', ['-4', '-o', 'addr', 'show'])) + (await execOk('ip', ['-4', 'route', 'show']));
  for (let i = 0; i < 16_384; i++) {
    const n = (seed + i) % 16_384;
    const base = `10.231.${n >> 6}.`;
    const first = (n & 63) << 2;
    const taken = [first, first + 1, first + 2].some((last) => used.includes(`${base}${last}/`) || used.includes(`${base}${last} `));
    if (!taken) return { host: `${base}${first + 1}`, engine: `${base}${first + 2}` };
  }
  throw new Error('no free /30 in 10.231.0.0/16 for a host dockerd');
}

function ping(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/_ping', timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

function tcpOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port, timeout: 2_000 }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('timeout', () => s.destroy());
    s.on('error', () => resolve(false));
    s.on('close', () => resolve(false));
  });
}

async function waitReady(socket: string, host: string, port: number, child: ReturnType<typeof spawn>, logFile: string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`dockerd exited (${child.exitCode ?? child.signalCode}) before answering:\n${await logTail(logFile)}`);
    }
    if ((await ping(socket)) && (await tcpOpen(host, port))) return;
    await sleep(250);
  }
  throw new Error(`dockerd did not answer /_ping within ${START_TIMEOUT_MS} ms:\n${await logTail(logFile)}`);
}

async function logTail(logFile: string): Promise<string> {
  const text = await readFile(logFile, 'utf8').catch(() => '');
  return text.trim().split('\n').slice(-15).join('\n');
}


/** Stops dockerd by PID, then whatever it left in its namespace, and removes everything made for it. */
async function teardown(state: HarnessState): Promise<void> {
  // A stale state file's PID may since belong to another process: only a dockerd using our dir is ours.
  const cmdline = state.pid ? await readFile(`/proc/${state.pid}/cmdline`, 'utf8').catch(() => '') : '';
  if (state.pid && cmdline.includes(state.dir) && pidAlive(state.pid)) {
    process.kill(state.pid, 'SIGTERM');
    const deadline = Date.now() + STOP_GRACE_MS;
    while (pidAlive(state.pid) && Date.now() < deadline) await sleep(100);
    if (pidAlive(state.pid)) process.kill(state.pid, 'SIGKILL');
  }
  // containerd, shims, docker-proxy and container processes the engine started in its namespace.
  if (state.made?.netns && existsSync(`/run/netns/${state.netns}`)) {
    for (let round = 0; round < 20; round++) {
      const pids = (await exec('ip', ['netns', 'pids', state.netns])).stdout.split(/\s+/).filter(Boolean).map(Number);
      if (pids.length === 0) break;
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
      await sleep(100);
    }
  }
  // overlay and shm mounts of containers that were not stopped cleanly, deepest first.
  const mounts = (await readFile('/proc/self/mountinfo', 'utf8'))
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m): m is string => !!m && m.startsWith(`${state.dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) await exec('umount', ['-l', m]);
  if (state.made?.veth) await exec('ip', ['link', 'del', state.hostVeth]);
  if (state.made?.netns) await exec('ip', ['netns', 'del', state.netns]);
  await rm(state.dir, { recursive: true, force: true });
}

/** Removes host dockerds that an earlier test process started and did not stop (it was killed). */
async function sweepStaleHostDockerds(): Promise<void> {
  for (const name of await readdir(tmpdir()).catch(() => [])) {
    if (!name.startsWith(DIR_PREFIX)) continue;
    const state = await readFile(join(tmpdir(), name, 'harness.json'), 'utf8').then((t) => JSON.parse(t) as HarnessState, () => undefined);
    if (state && state.ownerPid !== process.pid && !pidAlive(state.ownerPid)) await teardown(state);
  }
}
