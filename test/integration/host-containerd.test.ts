/**
 * The host containerd harness (test/support/host-containerd.ts) against Debian's containerd 1.6
 * and its CRI plugin: it starts, CRI answers (through ctr, a bare gRPC client and the `cri`
 * channel), a whole pod runs on tsuite's pause and busybox images with a CNI address, exec and a
 * host port, and stop() leaves no process, namespace, mount, route, rule, cgroup or file behind;
 * nor does the sweep at the next start when the test process that started one was killed.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, readdirSync } from 'node:fs';
import { readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, IMAGE_DEFINITIONS } from '../../oci-images/index.js';
import { CriChannel } from '../../src/channels/cri.js';
import type { ContainerStatusResponse, ExecSyncResponse, PodSandboxStatusResponse, StatusResponse, VersionResponse } from '../../src/channels/cri-messages.js';
import { exec, execOk } from '../../src/core/exec.js';
import { assetPath } from '../../src/core/paths.js';
import { createProgress } from '../../src/core/progress.js';
import { CRI_NAMESPACE, hostContainerdUnavailable, startHostContainerd, type HostContainerd } from '../support/host-containerd.js';

const unavailable = hostContainerdUnavailable();
const HOST_PORT = 30080;
const PAGE = 'tsuite-cri-pod';

/** One RuntimeService call with nothing of tsuite's in between: proto-loader, grpc-js, the socket. */
async function bareCall(socket: string, rpc: string): Promise<Record<string, unknown>> {
  const def = await protoLoader.load(assetPath('src', 'channels', 'cri', 'runtime-v1.proto'), { keepCase: true, enums: String, defaults: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { runtime: { v1: { RuntimeService: grpc.ServiceClientConstructor } } };
  const client = new pkg.runtime.v1.RuntimeService(`unix://${socket}`, grpc.credentials.createInsecure());
  try {
    return await new Promise((resolve, reject) =>
      (client as unknown as Record<string, (req: object, opts: grpc.CallOptions, cb: (e: Error | null, r: Record<string, unknown>) => void) => void>)[rpc]!(
        {}, { deadline: Date.now() + 10_000 }, (err, res) => (err ? reject(err) : resolve(res)),
      ),
    );
  } finally {
    client.close();
  }
}

function httpGet(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get({ host, port, path: '/', timeout: 5_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    });
    req.on('timeout', () => req.destroy(new Error(`GET http://${host}:${port}/ timed out`)));
    req.on('error', reject);
  });
}

/** The network namespace inode of every process, by pid. */
async function processNetns(): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const name of await readdir('/proc')) {
    const ino = Number(/net:\[(\d+)\]/.exec(await readlink(`/proc/${name}/ns/net`).catch(() => ''))?.[1]);
    if (/^\d+$/.test(name) && ino) out.set(Number(name), ino);
  }
  return out;
}

const inSubnet = (ip: string, subnet: string) => ip.startsWith(subnet.replace(/0\/24$/, ''));
/** CRI's pod namespaces in the host's shared folder (where they go without netns_mounts_under_state_dir). */
const listNetns = () => (existsSync('/var/run/netns') ? readdirSync('/var/run/netns').filter((n) => n.startsWith('cni-')) : []);

/** What identifies one harness and one of its pods on the host, taken while both run. */
interface Traces {
  dir: string;
  netns: string;
  socketPath: string;
  podSubnet: string;
  podId: string;
  /** The processes in the engine's and the pod's network namespaces (containerd, shim, pause), by pid → start time. */
  processes: Map<number, string>;
}

/** A process's start time (field 22 of /proc/<pid>/stat): with the pid, names it even if the pid is reused. */
const startTime = async (pid: number) => (await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')).split(') ')[1]?.split(' ')[19] ?? '';

async function traces(hc: Pick<HostContainerd, 'dir' | 'netns' | 'socketPath' | 'podSubnet'>, podId: string): Promise<Traces> {
  const podNsDir = join(hc.dir, 'state', 'io.containerd.grpc.v1.cri', 'netns');
  const inodes = new Set<number>([(await stat(`/run/netns/${hc.netns}`)).ino]);
  for (const f of await readdir(podNsDir)) inodes.add((await stat(join(podNsDir, f))).ino);
  const processes = new Map<number, string>();
  for (const [pid, ino] of await processNetns()) if (inodes.has(ino)) processes.set(pid, await startTime(pid));
  return { dir: hc.dir, netns: hc.netns, socketPath: hc.socketPath, podSubnet: hc.podSubnet, podId, processes };
}

/** Those of the traced processes still running (checked by pid and start time: namespace inodes are reused once freed). */
async function stillRunning(t: Traces): Promise<string[]> {
  const out = [];
  for (const [pid, started] of t.processes) {
    if ((await startTime(pid)) !== started) continue;
    const state = /State:\s*(.*)/.exec(await readFile(`/proc/${pid}/status`, 'utf8').catch(() => ''))?.[1];
    // A zombie holds nothing (no namespaces, mounts or files); its reaper may just not have run yet.
    if (state === undefined || state.startsWith('Z')) continue;
    out.push(`${pid} (${state}): ${(await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replaceAll('\0', ' ')}`);
  }
  return out;
}

/** Every trace the harness and its pod may leave on the host, for a test to expect none of. */
async function leftovers(t: Traces): Promise<Record<string, unknown>> {
  const cgroups = [];
  for (const h of readdirSync('/sys/fs/cgroup')) {
    const parent = join('/sys/fs/cgroup', h, CRI_NAMESPACE);
    for (const c of await readdir(parent).catch(() => [])) if (c === t.podId) cgroups.push(join(parent, c));
  }
  const cmdlines = [];
  for (const pid of (await processNetns()).keys()) {
    if ((await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).includes(t.dir)) cmdlines.push(pid);
  }
  const shimSocket = createHash('sha256').update(join(t.socketPath, CRI_NAMESPACE, t.podId)).digest('hex');
  const subnet = t.podSubnet.split('/')[0]!;
  return {
    processes: await stillRunning(t),
    processesNamingDir: cmdlines,
    mounts: (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.includes(t.dir)),
    netns: (await exec('ip', ['netns', 'list'])).stdout.includes(t.netns),
    links: (await exec('ip', ['link', 'show'])).stdout.includes(t.netns),
    routes: (await execOk('ip', ['-4', 'route', 'show'])).includes(subnet),
    iptables: (await execOk('iptables-save', [])).includes(subnet),
    cgroups,
    cniCache: (await readdir('/var/lib/cni/results').catch(() => [])).filter((f) => f.includes(t.podId)),
    shimSocket: existsSync(join('/run/containerd/s', shimSocket)),
    dir: existsSync(t.dir),
  };
}

const NOTHING_LEFT = { processes: [], processesNamingDir: [], mounts: [], netns: false, links: false, routes: false, iptables: false, cgroups: [], cniCache: [], shimSocket: false, dir: false };

describe.skipIf(unavailable !== undefined)(`host containerd with CRI${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  let hc: HostContainerd;
  let cri: CriChannel;
  let startMs: number;
  const cniNetnsBefore = listNetns();

  beforeAll(async () => {
    const started = Date.now();
    hc = await startHostContainerd({ progress: createProgress(process.stderr, true) });
    startMs = Date.now() - started;
    console.log(`host containerd ready (CRI Status ready, pause image imported) in ${startMs} ms`);
    cri = await CriChannel.connect({ url: hc.endpoint }, { timeoutMs: 10_000, node: hc.node });
  }, 120_000);

  afterAll(async () => {
    cri?.close();
    await hc?.stop();
  });

  it('answers ctr, and CRI Version and Status over a bare gRPC client', async () => {
    expect(await execOk('ctr', ['--address', hc.socketPath, 'version'])).toMatch(/Server:\s+Version:\s+1\.6\./);
    expect(await execOk('ctr', ['--address', hc.socketPath, 'plugins', 'ls'])).toMatch(/io\.containerd\.grpc\.v1\s+cri\s+\S+\s+ok/);
    expect(await execOk('ctr', ['--address', hc.socketPath, '-n', CRI_NAMESPACE, 'images', 'ls', '-q'])).toContain(hc.sandboxImage);

    const version = await bareCall(hc.socketPath, 'Version');
    expect(version).toMatchObject({ runtime_name: 'containerd', runtime_api_version: 'v1' });
    expect(version.runtime_version).toMatch(/^1\.6\./);
    const status = (await bareCall(hc.socketPath, 'Status')) as unknown as StatusResponse;
    for (const type of ['RuntimeReady', 'NetworkReady']) expect(status.status?.conditions).toContainEqual(expect.objectContaining({ type, status: true }));
  });

  it('answers Version and Status through the cri channel, with the config the harness wrote', async () => {
    expect(cri.info).toMatchObject({ runtimeName: 'containerd', runtimeApiVersion: 'v1' });
    await cri.runtime<VersionResponse>('Version', { version: 'v1' });
    const status = await cri.runtime<StatusResponse>('Status', { verbose: true });
    const config = JSON.parse(status.info.config ?? '{}') as Record<string, unknown>;
    expect(config).toMatchObject({ sandboxImage: hc.sandboxImage, streamServerAddress: hc.engineIp, netnsMountsUnderStateDir: true });
    expect(config).toMatchObject({ registry: { configPath: hc.registryConfigDir }, containerd: { snapshotter: 'overlayfs', defaultRuntimeName: 'runc' } });
  });

  it('runs a pod from the pause image, a busybox container in it, exec, a CNI address and a host port', async () => {
    const busybox = await buildImage(IMAGE_DEFINITIONS.busybox, process.arch === 'arm64' ? 'aarch64' : 'x86_64', createProgress(process.stderr, true));
    await execOk('ctr', ['--address', hc.socketPath, '-n', CRI_NAMESPACE, 'images', 'import', busybox.archive]);
    const image = `docker.io/${busybox.ref}`;

    const sandboxConfig = {
      metadata: { name: 'hc-pod', uid: 'hc-pod-uid', namespace: 'tsuite' },
      hostname: 'hc-pod',
      log_directory: join(hc.dir, 'pod-logs'),
      port_mappings: [{ protocol: 'TCP', container_port: 80, host_port: HOST_PORT }],
      linux: {},
    };
    const started = Date.now();
    const { pod_sandbox_id: podId } = await cri.runtime<{ pod_sandbox_id: string }>('RunPodSandbox', { config: sandboxConfig });
    const runPodMs = Date.now() - started;
    const pod = (await cri.runtime<PodSandboxStatusResponse>('PodSandboxStatus', { pod_sandbox_id: podId, verbose: true })).status!;
    expect(pod.state).toBe('SANDBOX_READY');
    expect(inSubnet(pod.network!.ip, hc.podSubnet)).toBe(true);
    // The pod's namespace is mounted under the harness's dir (netns_mounts_under_state_dir), not /var/run/netns.
    expect(listNetns()).toEqual(cniNetnsBefore);
    const podNetns = await readdir(join(hc.dir, 'state', 'io.containerd.grpc.v1.cri', 'netns'));
    expect(podNetns).toHaveLength(1);

    const { container_id: ctrId } = await cri.runtime<{ container_id: string }>('CreateContainer', {
      pod_sandbox_id: podId,
      config: {
        metadata: { name: 'web' },
        image: { image },
        command: ['sh', '-c', `mkdir -p /www && echo ${PAGE} > /www/index.html && exec httpd -f -p 80 -h /www`],
        log_path: 'web.log',
        linux: {},
      },
      sandbox_config: sandboxConfig,
    });
    await cri.runtime('StartContainer', { container_id: ctrId });
    const status = (await cri.runtime<ContainerStatusResponse>('ContainerStatus', { container_id: ctrId })).status!;
    expect(status.state).toBe('CONTAINER_RUNNING');

    const hi = await cri.runtime<ExecSyncResponse>('ExecSync', { container_id: ctrId, cmd: ['echo', 'hi'], timeout: 10 });
    expect({ out: hi.stdout.toString(), code: hi.exit_code }).toEqual({ out: 'hi\n', code: 0 });
    const ip = await cri.runtime<ExecSyncResponse>('ExecSync', { container_id: ctrId, cmd: ['ip', '-4', '-o', 'addr', 'show', 'eth0'], timeout: 10 });
    expect(ip.stdout.toString()).toContain(`${pod.network!.ip}/24`);

    // The pod's IP is routed from the host through the engine; the host port is portmap's DNAT on the engine's address.
    await expect.poll(() => httpGet(pod.network!.ip, 80).catch((e: Error) => e.message), { timeout: 10_000 }).toBe(`${PAGE}\n`);
    expect(await httpGet(hc.engineIp, HOST_PORT)).toBe(`${PAGE}\n`);
    const nat = await execOk('nsenter', [`--net=/run/netns/${hc.netns}`, 'iptables', '-t', 'nat', '-S']);
    expect(nat).toContain('CNI-HOSTPORT-DNAT');
    console.log(`RunPodSandbox took ${runPodMs} ms; pod ${pod.network!.ip}`);

    await cri.runtime('StopContainer', { container_id: ctrId, timeout: 5 });
    await cri.runtime('RemoveContainer', { container_id: ctrId });
    await cri.runtime('StopPodSandbox', { pod_sandbox_id: podId });
    await cri.runtime('RemovePodSandbox', { pod_sandbox_id: podId });
    expect((await cri.runtime<{ items: unknown[] }>('ListPodSandbox', {})).items).toEqual([]);
  });

  it('stop() leaves no process, namespace, mount, route, rule, cgroup or file behind, with a pod running', async () => {
    // A pod left running on purpose: stop() must take it down.
    const sandboxConfig = { metadata: { name: 'left', uid: 'left-uid', namespace: 'tsuite' }, log_directory: join(hc.dir, 'left-logs'), linux: {} };
    const { pod_sandbox_id: podId } = await cri.runtime<{ pod_sandbox_id: string }>('RunPodSandbox', { config: sandboxConfig });
    const t = await traces(hc, podId);
    const pids = [...t.processes.keys()];
    expect(pids).toContain(hc.pid);
    const cmdlines = await Promise.all(pids.map((pid) => readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')));
    expect(cmdlines.filter((c) => c.startsWith('/pause'))).toHaveLength(1);
    cri.close();

    const stopped = Date.now();
    await hc.stop();
    console.log(`stop() with one pod running took ${Date.now() - stopped} ms`);
    expect(await leftovers(t)).toEqual(NOTHING_LEFT);
    expect(listNetns()).toEqual(cniNetnsBefore);
    await hc.stop(); // a second stop() is a no-op
  });

  it('the next start sweeps a harness whose test process was killed, pod and all', async () => {
    const script = join(tmpdir(), `tsuite-crash-hc-${process.pid}.ts`);
    await writeFile(script, [
      `import { startHostContainerd } from ${JSON.stringify(assetPath('test', 'support', 'host-containerd.ts'))};`,
      `import { CriChannel } from ${JSON.stringify(assetPath('src', 'channels', 'cri.ts'))};`,
      'const hc = await startHostContainerd();',
      'const cri = await CriChannel.connect({ url: hc.endpoint }, { timeoutMs: 10_000 });',
      "const pod = await cri.runtime('RunPodSandbox', { config: { metadata: { name: 'orphan', uid: 'orphan-uid', namespace: 'tsuite' }, log_directory: hc.dir + '/logs', linux: {} } });",
      'console.log(JSON.stringify({ ...hc, podId: pod.pod_sandbox_id }));',
      'setInterval(() => {}, 1_000);',
    ].join('\n'));
    const child = spawn(process.execPath, [assetPath('node_modules', 'jiti', 'lib', 'jiti-cli.mjs'), script], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (b: Buffer) => (out += b.toString()).includes('\n') && resolve(out.split('\n')[0]!));
        child.once('exit', (code) => reject(new Error(`the crash script exited (${code}) before starting a pod: ${out}`)));
      });
      const orphan = JSON.parse(line) as HostContainerd & { podId: string };
      const t = await traces(orphan, orphan.podId);
      // Killed: no stop(), no exit handlers; containerd, the shim and pause live on in their own process groups.
      child.kill('SIGKILL');
      await once(child, 'exit');
      expect(await stillRunning(t)).toContainEqual(expect.stringMatching(new RegExp(`^${orphan.pid} `)));
      expect(t.processes.size).toBeGreaterThanOrEqual(3); // containerd, the shim, pause

      const next = await startHostContainerd();
      try {
        expect(await leftovers(t)).toEqual(NOTHING_LEFT);
      } finally {
        await next.stop();
      }
    } finally {
      child.kill('SIGKILL');
      await rm(script, { force: true });
    }
  }, 120_000);
});
