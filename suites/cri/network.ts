import { createServer, type AddressInfo } from 'node:net';
import type { TestDef } from '../../src/index.js';
import { criTest } from './cri-test.js';
import { defaultGateway, ECHO_PORT, expectEcho, expectNoEcho, podIp, startEchoServer, startNetClient } from './net-calls.js';
import { nodeNetworkTests, testNodePorts } from './network-node.js';
import type { CriScope } from './scope.js';

/** The IPv4 address and prefix length on the container's eth0 (`ip -o -4 addr show eth0`), or undefined. */
async function eth0(scope: CriScope, id: string): Promise<{ ip: string; prefix: number } | undefined> {
  const m = /inet (\d+\.\d+\.\d+\.\d+)\/(\d+)/.exec(await scope.sh(id, 'ip -o -4 addr show eth0'));
  return m ? { ip: m[1]!, prefix: Number(m[2]) } : undefined;
}

const toInt = (ip: string) => ip.split('.').reduce((n, part) => n * 256 + Number(part), 0);
const sameSubnet = (a: string, b: string, prefix: number) => Math.floor(toInt(a) / 2 ** (32 - prefix)) === Math.floor(toInt(b) / 2 ** (32 - prefix));

/** A pod's own network (namespace POD, the CNI plugin's): its address, its route, and who it reaches. */
export const networkTests: TestDef[] = [
  criTest({
    name: 'network-pod-ips-unique',
    title: "Three pods get three different IPs; each pod's containers have its IP on eth0, the same in every container of the pod",
    rpcs: ['RunPodSandbox', 'PodSandboxStatus'],
    async run({ scope }) {
      const seen = new Map<string, string>();
      for (let n = 0; n < 3; n++) {
        const { pod, id } = await scope.podWithContainer();
        const ip = await podIp(scope, pod);
        const other = seen.get(ip);
        if (other) throw new Error(`pods ${other.slice(0, 12)} and ${pod.id.slice(0, 12)} both report IP ${ip}`);
        seen.set(ip, pod.id);
        const second = await scope.startContainer(pod, 'second');
        for (const [which, c] of [['first', id], ['second', second]] as const) {
          const got = await eth0(scope, c);
          if (got?.ip !== ip) throw new Error(`the pod's status IP is ${ip}, but its ${which} container has ${got ? got.ip : 'no IPv4 address'} on eth0`);
        }
      }
    },
  }),
  criTest({
    name: 'network-default-route',
    title: "A pod's container has a default route through eth0 to a gateway on eth0's own subnet",
    rpcs: ['RunPodSandbox'],
    async run({ scope }) {
      const { id } = await scope.podWithContainer();
      const routes = await scope.sh(id, 'ip -4 route show');
      const m = /^default via (\d+\.\d+\.\d+\.\d+) dev (\S+)/m.exec(routes);
      if (!m) throw new Error(`the container has no default route through a gateway:\n${routes}`);
      if (m[2] !== 'eth0') throw new Error(`the default route goes through ${m[2]}, not eth0:\n${routes}`);
      const own = await eth0(scope, id);
      if (!own) throw new Error('the container has no IPv4 address on eth0');
      if (!sameSubnet(own.ip, m[1]!, own.prefix)) throw new Error(`the gateway ${m[1]} is not on eth0's subnet ${own.ip}/${own.prefix}`);
    },
  }),
  criTest({
    name: 'network-localhost-shared',
    title: "Containers of one pod share localhost: a server in one is reached at 127.0.0.1 from the other, not from another pod",
    rpcs: ['RunPodSandbox', 'CreateContainer', 'ExecSync'],
    async run({ scope }) {
      const pod = await scope.runPod();
      await startEchoServer(scope, pod);
      const neighbour = await startNetClient(scope, pod);
      await expectEcho(scope, neighbour, '127.0.0.1', ECHO_PORT, 'same-pod', "from the server's neighbour in its pod");
      const stranger = await startNetClient(scope, await scope.runPod());
      await expectNoEcho(scope, stranger, '127.0.0.1', ECHO_PORT, 'other-pod', "from another pod's localhost");
    },
  }),
  criTest({
    name: 'network-pod-to-pod',
    title: 'A container reaches a server in another pod at the pod IP PodSandboxStatus reports',
    rpcs: ['RunPodSandbox', 'PodSandboxStatus'],
    async run({ scope }) {
      const server = await scope.runPod();
      await startEchoServer(scope, server);
      const ip = await podIp(scope, server);
      const client = await startNetClient(scope, await scope.runPod());
      await expectEcho(scope, client, ip, ECHO_PORT, 'pod-to-pod', `from another pod to ${ip}`);
    },
  }),
  criTest({
    name: 'network-pod-reaches-node',
    title: "A container reaches a server on its node (host network, on a node port) at its default gateway",
    rpcs: ['RunPodSandbox'],
    async run({ ctx, cri, scope }) {
      const [port] = testNodePorts(ctx, cri, 3).slice(2);
      const node = await scope.runPod({ linux: { security_context: { namespace_options: { network: 'NODE' } } } });
      await startEchoServer(scope, node, port!);
      const client = await startNetClient(scope, await scope.runPod());
      const gateway = await defaultGateway(scope, client);
      if (!gateway) throw new Error(`the pod has no default gateway:\n${await scope.sh(client, 'ip -4 route show')}`);
      await expectEcho(scope, client, gateway, port!, 'to-node', `from a pod to its node at ${gateway}:${port}`);
    },
  }),
  criTest({
    name: 'network-pod-reaches-outside',
    title: 'A container reaches a server outside its node (on the test host, where the runtime reaches the host)',
    rpcs: ['RunPodSandbox'],
    async run({ cri, scope }) {
      // An echo server here, where the node's own traffic to this host arrives (the local registry listens the same way).
      const server = createServer((sock) => sock.pipe(sock).on('error', () => sock.destroy()));
      await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, cri.node.hostListen ?? cri.node.hostAddress, resolve));
      try {
        const { port } = server.address() as AddressInfo;
        const client = await startNetClient(scope, await scope.runPod());
        await expectEcho(scope, client, cri.node.hostAddress, port, 'outside', `from a pod to the test host at ${cri.node.hostAddress}:${port}`);
      } finally {
        server.close();
      }
    },
  }),
  criTest({
    name: 'network-ip-released',
    title: "Once its pod is stopped and removed, a pod's IP no longer answers: the server that was reached there is gone",
    rpcs: ['StopPodSandbox', 'RemovePodSandbox'],
    async run({ cri, scope }) {
      const server = await scope.runPod();
      await startEchoServer(scope, server);
      const ip = await podIp(scope, server);
      const client = await startNetClient(scope, await scope.runPod());
      await expectEcho(scope, client, ip, ECHO_PORT, 'before', `before the removal, from another pod to ${ip}`);
      await cri.runtime('StopPodSandbox', { pod_sandbox_id: server.id }, { timeoutMs: 60_000 });
      await cri.runtime('RemovePodSandbox', { pod_sandbox_id: server.id }, { timeoutMs: 60_000 });
      await expectNoEcho(scope, client, ip, ECHO_PORT, 'after', `after the pod at ${ip} was stopped and removed`);
    },
  }),
  ...nodeNetworkTests,
];
