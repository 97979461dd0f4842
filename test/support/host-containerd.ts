/**
 * A throwaway containerd with its CRI plugin on this host: Debian's /usr/bin/containerd with its
 * own config, root, state and unix socket under a temp dir, started for a test and stopped by PID.
 *
 * Like the host dockerd (host-dockerd.ts) it runs in its own network namespace, joined to the host
 * by a veth pair (host 10.232.x.1/30, engine 10.232.x.2/30), so the CNI bridge, the iptables rules
 * of bridge (ipMasq) and portmap, and ip_forward are the engine's own and vanish with it. Pods get
 * 10.89.N.0/24 on that bridge; the host has a route to it through the engine, removed with the veth.
 * CRI's streaming server (exec, attach, port-forward URLs) listens on the engine's address.
 *
 * CRI puts pod network namespaces under its own state dir (`netns_mounts_under_state_dir`), not in
 * /var/run/netns, so every one of ours is known by path; runc's state (`Root`) and host-local's
 * leases are in the temp dir too. What still lands outside it: the shims' sockets
 * (/run/containerd/s/<sha256 of address/namespace/id>), libcni's result cache
 * (/var/lib/cni/results/<network>-<id>-<if>, cni-loopback-<id>-lo) and the pods' cgroups (default
 * parent /k8s.io in every hierarchy). A clean pod removal deletes them; stop() first removes every
 * pod through CRI, then kills and removes by name what is left (a killed test process's harness is
 * swept the same way by the next start), and removes the shared folders only it created.
 * containerd is started with nsenter --net only (`ip netns exec` would remount /sys).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, readlink, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildImage, PAUSE_IMAGE } from '../../oci-images/index.js';
import { CriChannel, type CriNode } from '../../src/channels/cri.js';
import type { PodSandbox, StatusResponse } from '../../src/channels/cri-messages.js';
import { trackChild } from '../../src/core/child-processes.js';
import { exec, execOk } from '../../src/core/exec.js';
import { freePort } from '../../src/core/ports.js';
import type { Progress } from '../../src/core/progress.js';
import { pidAlive } from '../../src/core/pid-alive.js';

const CONTAINERD = '/usr/bin/containerd';
const CTR = '/usr/bin/ctr';
const CNI_BIN = '/usr/lib/cni';
const CNI_CACHE = '/var/lib/cni';
const SHIM_SOCKETS = '/run/containerd/s';
const DIR_PREFIX = 'tsuite-hc-';
const START_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 15_000;
/** The namespace CRI keeps its images, containers and tasks in. */
export const CRI_NAMESPACE = 'k8s.io';
/** Ports in the engine's namespace (its own, so always free) that tests may map pod host ports to. */
const HOST_PORTS = [30080, 30081, 30082, 30083];

export interface HostContainerd {
  /** The CRI (and containerd) gRPC endpoint: unix:///tmp/tsuite-hc-…/containerd.sock. */
  endpoint: string;
  socketPath: string;
  /** Where CRI's streaming server (Exec/Attach/PortForward URLs) listens: `<engineIp>:<port>`. */
  streamHost: string;
  /** The engine side of the veth pair; the host reaches the engine (and, routed, its pods) here. */
  engineIp: string;
  /** The host side of the veth pair: a registry listening here is reachable from containerd. */
  hostIp: string;
  /** The engine's network namespace (/run/netns/<netns>): its bridge, iptables, shims. */
  netns: string;
  /** The pods' subnet (10.89.N.0/24), routed from the host through engineIp. */
  podSubnet: string;
  /** The ref CRI's `sandbox_image` names (tsuite's pause image, imported at start). */
  sandboxImage: string;
  /** CRI's `registry.config_path`: write `<host[:port]>/hosts.toml` here (read at each pull). */
  registryConfigDir: string;
  /** For `CriChannel.connect(…, { node })`: pods' host ports at engineIp, the host at hostIp. */
  node: CriNode;
  dir: string;
  logFile: string;
  pid: number;
  stop(): Promise<void>;
}

/** What stop() (or a later sweep, if this process died) needs; written to <dir>/harness.json. */
interface HarnessState {
  ownerPid: number;
  pid?: number;
  dir: string;
  socket: string;
  netns: string;
  hostVeth: string;
  cniNetwork: string;
  /** What this harness created (a name clash must not make it remove another's). */
  made?: { netns?: boolean; veth?: boolean };
  /** Host folders containerd, runc or CNI create when missing; absent at start, so removed at stop if empty. */
  hostDirs?: string[];
}

/** Why a host containerd cannot be started here (tests skip with it), or undefined. */
export function hostContainerdUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'a host containerd needs Linux';
  if (process.getuid?.() !== 0) return 'starting a host containerd needs root (network namespaces, mounts, cgroups)';
  if (!existsSync(CONTAINERD) || !existsSync(CTR)) return `${CONTAINERD} or ${CTR} is missing: install Debian's containerd (apt-get install containerd)`;
  if (!existsSync('/usr/sbin/runc') && !existsSync('/usr/bin/runc')) return 'runc is missing: install Debian\'s runc (apt-get install runc)';
  for (const tool of ['/usr/bin/nsenter', '/usr/sbin/ip', '/usr/sbin/iptables']) {
    if (!existsSync(tool) && !existsSync(tool.replace('/usr', ''))) return `${tool} is missing (needed to run a host containerd)`;
  }
  for (const plugin of ['bridge', 'host-local', 'loopback', 'portmap']) {
    if (!existsSync(join(CNI_BIN, plugin))) return `${CNI_BIN}/${plugin} is missing: install Debian's containernetworking-plugins`;
  }
  return undefined;
}

const silent: Progress = { step: (_label, work) => work() };

export async function startHostContainerd(opts: { progress?: Progress } = {}): Promise<HostContainerd> {
  const unavailable = hostContainerdUnavailable();
  if (unavailable) throw new Error(unavailable);
  await sweepStaleHostContainerds();
  const arch = process.arch === 'arm64' ? 'aarch64' : 'x86_64';
  const pause = await buildImage(PAUSE_IMAGE, arch, opts.progress ?? silent);
  // The import names the image after the index's io.containerd.image.name annotation.
  const sandboxImage = `docker.io/${pause.ref}`;
  // The port names the namespace, the veth, the bridge and the CNI network too.
  let port = await freePort();
  while (existsSync(`/run/netns/tshc${port}`)) port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), DIR_PREFIX));
  const socket = join(dir, 'containerd.sock');
  const state: HarnessState = { ownerPid: process.pid, dir, socket, netns: `tshc${port}`, hostVeth: `tshc${port}h`, cniNetwork: `tsuite-hc${port}` };
  const stateFile = join(dir, 'harness.json');
  state.hostDirs = (await sharedHostDirs()).filter((d) => !existsSync(d));
  await writeFile(stateFile, JSON.stringify(state));
  try {
    const net = await makeNetwork(state, port);
    await writeFile(stateFile, JSON.stringify(state));
    const registryConfigDir = join(dir, 'certs.d');
    const cniConfDir = join(dir, 'cni');
    await mkdir(registryConfigDir);
    await mkdir(cniConfDir);
    await writeFile(join(cniConfDir, '10-tsuite.conflist'), JSON.stringify(cniConfig(state, port, net.podSubnet, join(dir, 'ipam')), null, 2));
    const configFile = join(dir, 'config.toml');
    const restrictOomScoreAdj = !(await hasCapability(CAP_SYS_RESOURCE));
    await writeFile(configFile, containerdConfig({ dir, socket, sandboxImage, streamAddress: net.engine, streamPort: port, cniConfDir, registryConfigDir, restrictOomScoreAdj }));
    const logFile = join(dir, 'containerd.log');
    const log = openSync(logFile, 'a');
    // nsenter execs containerd in place: the child's PID is containerd's.
    const child = spawn('nsenter', [`--net=/run/netns/${state.netns}`, '--', CONTAINERD, '--config', configFile], { stdio: ['ignore', log, log], detached: true });
    closeSync(log);
    trackChild(child);
    state.pid = child.pid;
    await writeFile(stateFile, JSON.stringify(state));
    await waitReady(socket, child, logFile);
    await execOk(CTR, ['--address', socket, '-n', CRI_NAMESPACE, 'images', 'import', pause.archive]);
    await waitCriReady(socket, child, logFile);
    let stopped: Promise<void> | undefined;
    return {
      endpoint: `unix://${socket}`,
      socketPath: socket,
      streamHost: `${net.engine}:${port}`,
      engineIp: net.engine,
      hostIp: net.host,
      netns: state.netns,
      podSubnet: net.podSubnet,
      sandboxImage,
      registryConfigDir,
      node: { address: net.engine, forwards: new Map(), hostPorts: HOST_PORTS, hostAddress: net.host, registryConfigDir },
      dir,
      logFile,
      pid: child.pid!,
      stop: () => (stopped ??= teardown(state)),
    };
  } catch (err) {
    await teardown(state);
    throw err;
  }
}

interface ConfigRequest {
  dir: string;
  socket: string;
  sandboxImage: string;
  streamAddress: string;
  streamPort: number;
  cniConfDir: string;
  registryConfigDir: string;
  restrictOomScoreAdj: boolean;
}

const CAP_SYS_RESOURCE = 24;

async function hasCapability(bit: number): Promise<boolean> {
  const eff = /CapEff:\s*([0-9a-f]+)/.exec(await readFile('/proc/self/status', 'utf8'))?.[1] ?? '0';
  return (BigInt(`0x${eff}`) >> BigInt(bit)) & 1n ? true : false;
}

/**
 * Shared folders outside the temp dir that runs leave behind when they create them: a pod's default
 * cgroup parent /k8s.io in every hierarchy (CRI's namespace; a pod config may name another parent),
 * the shims' socket folder, libcni's cache.
 */
async function sharedHostDirs(): Promise<string[]> {
  const cgroups = (await cgroupMounts()).map((h) => join(h, CRI_NAMESPACE));
  return [...cgroups, SHIM_SOCKETS, '/run/containerd', join(CNI_CACHE, 'results'), CNI_CACHE];
}

/** Where each cgroup hierarchy (v1 controllers, and v2 at /sys/fs/cgroup/unified here) is mounted. */
async function cgroupMounts(): Promise<string[]> {
  return (await readFile('/proc/self/mountinfo', 'utf8'))
    .split('\n')
    .filter((l) => / - cgroup2? /.test(l))
    .map((l) => l.split(' ')[4]!);
}

/** containerd's config (version 2), every path in the temp dir; nothing is read from /etc/containerd. */
function containerdConfig(c: ConfigRequest): string {
  const s = JSON.stringify; // a JSON string of a plain path is a TOML basic string
  const cri = '[plugins."io.containerd.grpc.v1.cri"';
  return `version = 2
root = ${s(join(c.dir, 'root'))}
state = ${s(join(c.dir, 'state'))}

[grpc]
  address = ${s(c.socket)}

[plugins."io.containerd.internal.v1.opt"]
  path = ${s(join(c.dir, 'opt'))}

${cri}]
  sandbox_image = ${s(c.sandboxImage)}
  stream_server_address = ${s(c.streamAddress)}
  stream_server_port = ${s(String(c.streamPort))}
  netns_mounts_under_state_dir = true
  enable_selinux = false
  # Without CAP_SYS_RESOURCE (this kind of machine drops it) runc cannot set the sandbox's oom_score_adj of -998.
  restrict_oom_score_adj = ${c.restrictOomScoreAdj}

${cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

${cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

${cri}.containerd.runtimes.runc.options]
  # The host's PID 1 is not systemd, and its cgroups are v1 (cgroup2 only at /sys/fs/cgroup/unified).
  SystemdCgroup = false
  # runc's state (default /run/containerd/runc/<namespace>) in the temp dir too.
  Root = ${s(join(c.dir, 'runc'))}

${cri}.cni]
  bin_dir = ${s(CNI_BIN)}
  conf_dir = ${s(c.cniConfDir)}
  max_conf_num = 1

${cri}.registry]
  config_path = ${s(c.registryConfigDir)}
`;
}

/** A bridge with host-local IPAM (leases in the temp dir) and portmap for hostPort mappings. */
function cniConfig(state: HarnessState, port: number, podSubnet: string, ipamDir: string): unknown {
  return {
    cniVersion: '1.0.0',
    name: state.cniNetwork,
    plugins: [
      {
        type: 'bridge',
        bridge: `tsc${port}`,
        isGateway: true,
        ipMasq: true,
        hairpinMode: true,
        ipam: { type: 'host-local', ranges: [[{ subnet: podSubnet }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: ipamDir },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  };
}

/** The namespace, the veth pair and a host route to the pods; returns the addresses. */
async function makeNetwork(state: HarnessState, port: number): Promise<{ host: string; engine: string; podSubnet: string }> {
  const used = (await execOk('ip', ['-4', '-o', 'addr', 'show'])) + (await execOk('ip', ['-4', 'route', 'show']));
  const link = freeLink(used, port);
  const podSubnet = freePodSubnet(used, port);
  const nsVeth = `${state.netns}n`;
  await execOk('ip', ['netns', 'add', state.netns]);
  state.made = { netns: true };
  await execOk('ip', ['link', 'add', state.hostVeth, 'type', 'veth', 'peer', 'name', nsVeth, 'netns', state.netns]);
  state.made.veth = true;
  await execOk('ip', ['addr', 'add', `${link.host}/30`, 'dev', state.hostVeth]);
  await execOk('ip', ['link', 'set', state.hostVeth, 'up']);
  await execOk('ip', ['-n', state.netns, 'addr', 'add', `${link.engine}/30`, 'dev', nsVeth]);
  await execOk('ip', ['-n', state.netns, 'link', 'set', nsVeth, 'up']);
  await execOk('ip', ['-n', state.netns, 'link', 'set', 'lo', 'up']);
  // Pods reach hostIp masqueraded as the engine; this route lets the host reach pod IPs directly.
  await execOk('ip', ['route', 'add', podSubnet, 'via', link.engine, 'dev', state.hostVeth]);
  return { ...link, podSubnet };
}

/** Every IPv4 address (without its prefix length) that `ip addr` and `ip route` print. */
const addresses = (used: string) => used.split(/\s+/).map((t) => t.split('/')[0]!).filter((t) => /^\d+\.\d+\.\d+\.\d+$/.test(t));

/** A /30 in 10.232.0.0/16 (the host dockerd harness uses 10.231) that no host address or route uses. */
function freeLink(used: string, seed: number): { host: string; engine: string } {
  const taken = new Set(addresses(used));
  for (let i = 0; i < 16_384; i++) {
    const n = (seed + i) % 16_384;
    const base = `10.232.${n >> 6}.`;
    const first = (n & 63) << 2;
    if (![0, 1, 2, 3].some((k) => taken.has(`${base}${first + k}`))) return { host: `${base}${first + 1}`, engine: `${base}${first + 2}` };
  }
  throw new Error('no free /30 in 10.232.0.0/16 for a host containerd');
}

/** A /24 in 10.89.0.0/16 for the pods that no host address or route uses yet. */
function freePodSubnet(used: string, seed: number): string {
  const taken = addresses(used);
  for (let i = 0; i < 256; i++) {
    const prefix = `10.89.${(seed + i) % 256}.`;
    if (!taken.some((a) => a.startsWith(prefix))) return `${prefix}0/24`;
  }
  throw new Error('no free /24 in 10.89.0.0/16 for host containerd pods');
}

/** Until the gRPC socket answers (`ctr version` needs the server, not just the file). */
async function waitReady(socket: string, child: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    await exited(child, logFile);
    if (existsSync(socket) && (await exec(CTR, ['--address', socket, '--timeout', '2s', 'version'])).code === 0) return;
    await sleep(100);
  }
  throw new Error(`containerd did not answer on ${socket} within ${START_TIMEOUT_MS} ms:\n${await logTail(logFile)}`);
}

/** Until CRI says the runtime and the network are ready (CRI initialises after the socket is up). */
async function waitCriReady(socket: string, child: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let last = '';
  while (Date.now() < deadline) {
    await exited(child, logFile);
    try {
      const res = await withCri(socket, (cri) => cri.runtime<StatusResponse>('Status', {}, { timeoutMs: 5_000 }));
      const conditions = res.status?.conditions ?? [];
      if (['RuntimeReady', 'NetworkReady'].every((t) => conditions.some((c) => c.type === t && c.status))) return;
      last = JSON.stringify(conditions);
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(100);
  }
  throw new Error(`CRI was not ready within ${START_TIMEOUT_MS} ms (${last}):\n${await logTail(logFile)}`);
}

async function withCri<T>(socket: string, work: (cri: CriChannel) => Promise<T>): Promise<T> {
  const cri = await CriChannel.connect({ url: `unix://${socket}` }, { timeoutMs: 5_000 });
  try {
    return await work(cri);
  } finally {
    cri.close();
  }
}

async function exited(child: ChildProcess, logFile: string): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    throw new Error(`containerd exited (${child.exitCode ?? child.signalCode}) before answering:\n${await logTail(logFile)}`);
  }
}

async function logTail(logFile: string): Promise<string> {
  const text = await readFile(logFile, 'utf8').catch(() => '');
  return text.trim().split('\n').slice(-15).join('\n');
}


const kill = (pid: number, signal: NodeJS.Signals) => {
  try {
    process.kill(pid, signal);
  } catch {
    /* already gone */
  }
};

/** The ids of the shims' tasks (one per pod: a pod's containers share its sandbox's shim). */
async function taskIds(state: HarnessState): Promise<string[]> {
  return readdir(join(state.dir, 'state', 'io.containerd.runtime.v2.task', CRI_NAMESPACE)).catch(() => []);
}

/** Network namespace inodes that are ours: the engine's and every pod's under CRI's state dir. */
async function ourNetnsInodes(state: HarnessState): Promise<Set<number>> {
  const files = [`/run/netns/${state.netns}`];
  const podNs = join(state.dir, 'state', 'io.containerd.grpc.v1.cri', 'netns');
  for (const f of await readdir(podNs).catch(() => [])) files.push(join(podNs, f));
  const inodes = new Set<number>();
  for (const f of files) {
    const st = await stat(f).catch(() => undefined);
    // A bind-mounted namespace has nsfs's inode; an unmounted placeholder file is not a namespace.
    if (st && st.dev !== (await stat(join(f, '..'))).dev) inodes.add(st.ino);
  }
  return inodes;
}

/** Every process in one of our namespaces, or started with our socket on its command line (the shims). */
async function ourProcesses(state: HarnessState): Promise<number[]> {
  const inodes = await ourNetnsInodes(state);
  const pids: number[] = [];
  for (const name of await readdir('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    const ns = await readlink(`/proc/${pid}/ns/net`).catch(() => '');
    const ino = Number(/net:\[(\d+)\]/.exec(ns)?.[1]);
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (inodes.has(ino) || cmdline.includes(state.socket)) pids.push(pid);
  }
  return pids;
}

/**
 * Stops and removes every pod through CRI (which stops the containers, deletes their cgroups and
 * runs CNI DEL), stops containerd, then kills and removes whatever is left.
 */
async function teardown(state: HarnessState): Promise<void> {
  // A stale state file's PID may since belong to another process: only a containerd using our dir is ours.
  const cmdline = state.pid ? await readFile(`/proc/${state.pid}/cmdline`, 'utf8').catch(() => '') : '';
  if (state.pid && cmdline.includes(state.dir) && pidAlive(state.pid)) {
    try {
      await withCri(state.socket, async (cri) => {
        for (const pod of (await cri.runtime<{ items: PodSandbox[] }>('ListPodSandbox', {}, { timeoutMs: 5_000 })).items) {
          await cri.runtime('StopPodSandbox', { pod_sandbox_id: pod.id }, { timeoutMs: 30_000 });
          await cri.runtime('RemovePodSandbox', { pod_sandbox_id: pod.id }, { timeoutMs: 30_000 });
        }
      });
    } catch {
      /* what CRI could not clean up is killed and removed below */
    }
    kill(state.pid, 'SIGTERM');
    const deadline = Date.now() + STOP_GRACE_MS;
    while (pidAlive(state.pid) && Date.now() < deadline) await sleep(50);
    kill(state.pid, 'SIGKILL');
  }
  const tasks = await taskIds(state);
  for (let round = 0; round < 50; round++) {
    const pids = await ourProcesses(state);
    if (pids.length === 0) break;
    for (const pid of pids) kill(pid, 'SIGKILL');
    await sleep(100);
  }
  await removeContainerCgroups(state);
  // Sockets of shims that were killed rather than shut down.
  for (const id of tasks) {
    await rm(join(SHIM_SOCKETS, createHash('sha256').update(join(state.socket, CRI_NAMESPACE, id)).digest('hex')), { force: true });
  }
  // libcni's cache of pods whose CNI DEL never ran: <network>-<sandbox id>-<interface>, ours by network name and id.
  const sandboxes = await readdir(join(state.dir, 'root', 'io.containerd.grpc.v1.cri', 'sandboxes')).catch(() => []);
  for (const f of await readdir(join(CNI_CACHE, 'results')).catch(() => [])) {
    if (f.startsWith(`${state.cniNetwork}-`) || sandboxes.some((id) => f === `cni-loopback-${id}-lo`)) await rm(join(CNI_CACHE, 'results', f), { force: true });
  }
  // Pod namespaces, rootfs overlays, shm: deepest first.
  const mounts = (await readFile('/proc/self/mountinfo', 'utf8'))
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m): m is string => !!m && m.startsWith(`${state.dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) await exec('umount', ['-l', m]);
  if (state.made?.veth) await exec('ip', ['link', 'del', state.hostVeth]);
  if (state.made?.netns) await exec('ip', ['netns', 'del', state.netns]);
  // Only when empty: another runtime may use them by now (rmdir of a cgroup in use fails too).
  for (const d of state.hostDirs ?? []) await rmdir(d).catch(() => undefined);
  await rm(state.dir, { recursive: true, force: true });
}

/**
 * The cgroups runc made for containers that were killed rather than deleted: each container's
 * spec (in our state dir) names its cgroupsPath; an emptied cgroup is removed with rmdir.
 */
async function removeContainerCgroups(state: HarnessState): Promise<void> {
  const paths: string[] = [];
  for (const id of await taskIds(state)) {
    const bundle = join(state.dir, 'state', 'io.containerd.runtime.v2.task', CRI_NAMESPACE, id);
    const spec = await readFile(join(bundle, 'config.json'), 'utf8').then((t) => JSON.parse(t) as { linux?: { cgroupsPath?: string } }, () => undefined);
    if (spec?.linux?.cgroupsPath) paths.push(spec.linux.cgroupsPath);
  }
  for (const h of paths.length > 0 ? await cgroupMounts() : []) for (const p of paths) await rmdir(join(h, p)).catch(() => undefined);
}

/** Removes host containerds that an earlier test process started and did not stop (it was killed). */
async function sweepStaleHostContainerds(): Promise<void> {
  for (const name of await readdir(tmpdir()).catch(() => [])) {
    if (!name.startsWith(DIR_PREFIX)) continue;
    const state = await readFile(join(tmpdir(), name, 'harness.json'), 'utf8').then((t) => JSON.parse(t) as HarnessState, () => undefined);
    if (state && state.ownerPid !== process.pid && !pidAlive(state.ownerPid)) await teardown(state);
  }
}
