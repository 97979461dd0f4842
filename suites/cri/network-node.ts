import type { CriChannel, TestContext, TestDef } from '../../src/index.js';
import { criTest } from './cri-test.js';
import { defaultGateway, ECHO_PORT, echoFromHost, startEchoServer } from './net-calls.js';
import type { CriScope, PodConfig } from './scope.js';

/** The first `n` node ports tests may use (pod host ports, host-network servers), or a skip naming why there are too few. */
export function testNodePorts(ctx: TestContext, cri: CriChannel, n: number): readonly number[] {
  const ports = cri.node.hostPorts;
  if (ports.length < n) ctx.skip(`${n} node ports for tests to map or listen on (the target's cri.hostPorts names ${ports.length})`);
  return ports.slice(0, n);
}

const hostNetwork: Partial<PodConfig> = { linux: { security_context: { namespace_options: { network: 'NODE' } } } };

/** A pod mapping host port `hostPort` to the echo server on ECHO_PORT in it; returns once the server is up. */
async function mappedEchoPod(scope: CriScope, hostPort: number) {
  const pod = await scope.runPod({ port_mappings: [{ protocol: 'TCP', container_port: ECHO_PORT, host_port: hostPort }] });
  await startEchoServer(scope, pod);
  return pod;
}

/** Fails if `msg` comes back from host:port in any of a few tries (it must not: nothing should be mapped there). */
async function expectNoEchoFromHost(ctx: TestContext, host: string, port: number, msg: string, what: string): Promise<void> {
  for (let i = 0; i < 3; i++) {
    // One try each (no retry window): a refusal or close comes at once, and so would a wrong echo.
    if ((await echoFromHost(ctx, host, port, msg, 0)) === undefined) throw new Error(`${what}: ${host}:${port} still echoes`);
  }
}

/** The addresses of every interface the container sees (`ip -o -4 addr`). */
async function addresses(scope: CriScope, id: string): Promise<string[]> {
  return [...(await scope.sh(id, 'ip -o -4 addr')).matchAll(/inet (\d+\.\d+\.\d+\.\d+)\//g)].map((m) => m[1]!);
}

/** The node's network as pods use it: host ports mapped into pods, and pods in the node's own network namespace. */
export const nodeNetworkTests: TestDef[] = [
  criTest({
    name: 'network-host-port',
    title: "A pod's port mapping (host port to container port 8080) reaches its echo server from the test host",
    rpcs: ['RunPodSandbox'],
    async run({ ctx, cri, scope }) {
      const [hostPort] = testNodePorts(ctx, cri, 1);
      await mappedEchoPod(scope, hostPort!);
      const at = cri.nodePort(hostPort!);
      const failed = await echoFromHost(ctx, at.host, at.port, `host-port-${scope.id}`);
      if (failed) throw new Error(`node port ${hostPort} (reached at ${at.host}:${at.port}), mapped to the pod's port ${ECHO_PORT}, gave no echo: ${failed}`);
    },
  }),
  criTest({
    name: 'network-host-port-released',
    title: 'Stopping a pod frees its host port: the port no longer reaches it, and a new pod mapping the same port is reached',
    rpcs: ['RunPodSandbox', 'StopPodSandbox'],
    async run({ ctx, cri, scope }) {
      const [hostPort] = testNodePorts(ctx, cri, 1);
      const at = cri.nodePort(hostPort!);
      const first = await mappedEchoPod(scope, hostPort!);
      const before = await echoFromHost(ctx, at.host, at.port, 'first');
      if (before) throw new Error(`node port ${hostPort} did not reach the first pod: ${before}`);
      await cri.runtime('StopPodSandbox', { pod_sandbox_id: first.id }, { timeoutMs: 60_000 });
      await expectNoEchoFromHost(ctx, at.host, at.port, 'stopped', `after the first pod was stopped, node port ${hostPort}`);
      await mappedEchoPod(scope, hostPort!);
      const after = await echoFromHost(ctx, at.host, at.port, 'second');
      if (after) throw new Error(`node port ${hostPort}, mapped again by a new pod, gave no echo: ${after}`);
    },
  }),
  criTest({
    name: 'network-host-network-server',
    title: 'A server in a host-network pod listens on the node itself: the test host reaches it at the node port',
    rpcs: ['RunPodSandbox'],
    async run({ ctx, cri, scope }) {
      const [, port] = testNodePorts(ctx, cri, 2);
      await startEchoServer(scope, await scope.runPod(hostNetwork), port!);
      const at = cri.nodePort(port!);
      const failed = await echoFromHost(ctx, at.host, at.port, `host-network-${scope.id}`);
      if (failed) throw new Error(`a host-network echo server on node port ${port} (reached at ${at.host}:${at.port}) gave no echo: ${failed}`);
    },
  }),
  criTest({
    name: 'network-host-network-interfaces',
    title: "A host-network container sees the node's interfaces, among them the pods' gateway; a pod-network container does not",
    rpcs: ['RunPodSandbox'],
    async run({ scope }) {
      const { id: podNet } = await scope.podWithContainer();
      const gateway = await defaultGateway(scope, podNet);
      if (!gateway) throw new Error(`a pod-network container has no default gateway:\n${await scope.sh(podNet, 'ip -4 route show')}`);
      const { id: nodeNet } = await scope.podWithContainer('main', {}, hostNetwork);
      const onNode = await addresses(scope, nodeNet);
      if (!onNode.includes(gateway)) throw new Error(`a host-network container lacks the pods' gateway ${gateway} (the node's side of the pod network); it has ${onNode.join(', ')}`);
      const inPod = await addresses(scope, podNet);
      if (inPod.includes(gateway)) throw new Error(`a pod-network container has the node's address ${gateway} too: ${inPod.join(', ')}`);
    },
  }),
  criTest({
    name: 'network-host-network-hostname',
    title: "A host-network pod with no hostname of its own has the node's hostname (`hostname` and /etc/hostname)",
    rpcs: ['RunPodSandbox'],
    async run({ ctx, fx, scope }) {
      const files = fx.files;
      if ('missing' in files) return ctx.skip(files.missing);
      const node = (await files.read('/proc/sys/kernel/hostname')).toString('utf8').trim();
      const { id } = await scope.podWithContainer('main', {}, hostNetwork);
      const seen = await scope.sh(id, 'hostname');
      const file = await scope.sh(id, 'cat /etc/hostname');
      if (seen !== node || file !== node) throw new Error(`the node's hostname is '${node}'; a host-network container has hostname '${seen}' and /etc/hostname '${file}'`);
    },
  }),
  criTest({
    name: 'network-host-network-dns-config',
    title: "A host-network pod's DNS config (servers, searches, options) is what its container's /etc/resolv.conf says, not the node's",
    rpcs: ['RunPodSandbox'],
    async run({ scope }) {
      const dns = { servers: ['10.0.0.63'], searches: [`n${scope.id}.tsuite.test`], options: ['ndots:2'] };
      const { id } = await scope.podWithContainer('main', {}, { ...hostNetwork, dns_config: dns });
      const text = await scope.sh(id, 'cat /etc/resolv.conf');
      const words = (key: string) => text.split('\n').map((l) => l.trim().split(/\s+/)).filter((w) => w[0] === key).flatMap((w) => w.slice(1));
      const seen = { servers: words('nameserver'), searches: words('search'), options: words('options') };
      if (JSON.stringify(seen) !== JSON.stringify(dns)) throw new Error(`a host-network pod's /etc/resolv.conf gives ${JSON.stringify(seen)}, expected ${JSON.stringify(dns)}:\n${text}`);
    },
  }),
];
