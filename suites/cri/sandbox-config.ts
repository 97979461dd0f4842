import { isIP } from 'node:net';
import type { Cri, TestDef } from '../../src/index.js';
import { criTest } from './cri-test.js';
import { listPods, podStatus, refused } from './lifecycle-calls.js';
import type { CriScope, PodConfig } from './scope.js';

type Namespaces = { network: Cri.NamespaceMode; pid: Cri.NamespaceMode; ipc: Cri.NamespaceMode };

const withNamespaces = (ns: Namespaces): Partial<PodConfig> => ({ linux: { security_context: { namespace_options: ns } } });
/** The container side of the same choice (the kubelet sets both; a runtime reads the container's for its own process). */
const containerNamespaces = (ns: Partial<Namespaces>) => ({ linux: { security_context: { namespace_options: ns } } });

async function expectNamespacesReported(scope: CriScope, ns: Namespaces): Promise<void> {
  const pod = await scope.runPod(withNamespaces(ns));
  const got = (await podStatus(scope, pod.id)).status.linux?.namespaces?.options;
  const wrong = (Object.keys(ns) as (keyof Namespaces)[]).filter((k) => got?.[k] !== ns[k]);
  if (!got || wrong.length > 0) throw new Error(`status linux.namespaces.options is ${JSON.stringify(got)}; expected ${wrong.map((k) => `${k} ${ns[k]}`).join(', ') || JSON.stringify(ns)}`);
}

/** What a pod's config asks of the node (hostname, DNS, namespaces, runtime handler), as seen from its containers and its status. */
export const sandboxConfigTests: TestDef[] = [
  criTest({
    name: 'sandbox-hostname',
    title: "The pod's hostname is what `hostname` prints and /etc/hostname holds in its container",
    rpcs: ['RunPodSandbox'],
    async run({ scope }) {
      const hostname = `tsuite-host-${scope.id}`;
      const { id } = await scope.podWithContainer('main', {}, { hostname });
      const seen = await scope.sh(id, 'hostname');
      if (seen !== hostname) throw new Error(`hostname in the container is '${seen}', expected '${hostname}'`);
      const file = await scope.sh(id, 'cat /etc/hostname');
      if (file !== hostname) throw new Error(`/etc/hostname in the container holds '${file}', expected '${hostname}'`);
    },
  }),
  criTest({
    name: 'sandbox-dns-config',
    title: "The pod's DNS servers, searches and options are written to its container's /etc/resolv.conf, in order",
    rpcs: ['RunPodSandbox'],
    async run({ scope }) {
      const dns = { servers: ['10.0.0.53', '10.0.0.54'], searches: ['tsuite.test', 'svc.tsuite.test'], options: ['ndots:3', 'timeout:2'] };
      const { id } = await scope.podWithContainer('main', {}, { dns_config: dns });
      const text = await scope.sh(id, 'cat /etc/resolv.conf');
      const words = (key: string) => text.split('\n').map((l) => l.trim().split(/\s+/)).filter((w) => w[0] === key).flatMap((w) => w.slice(1));
      const seen = { servers: words('nameserver'), searches: words('search'), options: words('options') };
      if (JSON.stringify(seen) !== JSON.stringify(dns)) throw new Error(`/etc/resolv.conf gives ${JSON.stringify(seen)}, expected ${JSON.stringify(dns)}:\n${text}`);
    },
  }),
  criTest({
    name: 'sandbox-namespaces-reported',
    title: "PodSandboxStatus reports the pod's namespace modes: network and IPC of the pod, PID per container",
    rpcs: ['PodSandboxStatus'],
    async run({ scope }) {
      await expectNamespacesReported(scope, { network: 'POD', pid: 'CONTAINER', ipc: 'POD' });
    },
  }),
  criTest({
    name: 'sandbox-namespaces-node-reported',
    title: "PodSandboxStatus reports NODE for a pod sharing the node's network, PID and IPC namespaces",
    rpcs: ['PodSandboxStatus'],
    async run({ scope }) {
      await expectNamespacesReported(scope, { network: 'NODE', pid: 'NODE', ipc: 'NODE' });
    },
  }),
  criTest({
    name: 'sandbox-pid-namespace-shared',
    title: "With PID mode POD a container sees its pod neighbour's processes; with CONTAINER it does not",
    rpcs: ['RunPodSandbox', 'CreateContainer'],
    async run({ scope }) {
      // A marker argument no other process on the node has: seen in `ps` only across a shared namespace.
      const marker = `${3600 + Math.floor(Math.random() * 1000)}`;
      for (const mode of ['POD', 'CONTAINER'] as const) {
        const pod = await scope.runPod(withNamespaces({ network: 'POD', pid: mode, ipc: 'POD' }));
        await scope.startContainer(pod, 'sleeper', { command: ['sleep', marker], ...containerNamespaces({ pid: mode }) });
        const looker = await scope.startContainer(pod, 'looker', containerNamespaces({ pid: mode }));
        const ps = await scope.sh(looker, 'ps -o args');
        const sees = ps.split('\n').some((l) => l.trim() === `sleep ${marker}`);
        if (mode === 'POD' && !sees) throw new Error(`with PID mode POD, a container does not see its neighbour's 'sleep ${marker}':\n${ps}`);
        if (mode === 'CONTAINER' && sees) throw new Error(`with PID mode CONTAINER, a container sees its neighbour's 'sleep ${marker}':\n${ps}`);
      }
    },
  }),
  criTest({
    name: 'sandbox-pod-ip',
    title: "PodSandboxStatus reports an IP for a pod with its own network, and the pod's container has that address",
    rpcs: ['PodSandboxStatus'],
    async run({ scope }) {
      const { pod, id } = await scope.podWithContainer();
      const ip = (await podStatus(scope, pod.id)).status.network?.ip ?? '';
      if (!isIP(ip)) throw new Error(`the pod's status network.ip is '${ip}', not an IP address`);
      const addrs = await scope.sh(id, 'ip -o addr show');
      if (!addrs.split('\n').some((l) => l.includes(` ${ip}/`))) throw new Error(`the pod's IP ${ip} is on no interface of its container:\n${addrs}`);
    },
  }),
  criTest({
    name: 'sandbox-runtime-handler-unknown',
    title: 'RunPodSandbox with a runtime handler the runtime does not know is refused, leaving no pod (CRI: "should be rejected")',
    rpcs: ['RunPodSandbox', 'ListPodSandbox'],
    async run({ scope }) {
      const config = scope.podConfig();
      await refused(scope.cri.runtime('RunPodSandbox', { config, runtime_handler: `tsuite-no-such-handler-${scope.id}` }, { timeoutMs: 120_000 }), 'RunPodSandbox with an unknown runtime handler');
      const left = await listPods(scope);
      if (left.length > 0) throw new Error(`the refused RunPodSandbox left ${left.length} pod(s): ${left.map((p) => `${p.id.slice(0, 12)} ${p.state}`).join(', ')}`);
    },
  }),
  criTest({
    name: 'sandbox-runtime-handler-named',
    title: 'A pod run with a named runtime handler reports that handler in its status and list, and runs containers',
    rpcs: ['RunPodSandbox', 'PodSandboxStatus', 'ListPodSandbox'],
    async run({ ctx, cri, scope }) {
      const handler = await someHandler(cri);
      if (!handler) ctx.skip("the runtime's verbose Status info names no runtime handlers (containerd: config.containerd.runtimes); CRI v1 here has no other way to learn them");
      const config = scope.podConfig();
      const { pod_sandbox_id: id } = await cri.runtime<{ pod_sandbox_id: string }>('RunPodSandbox', { config, runtime_handler: handler }, { timeoutMs: 120_000 });
      const { status } = await podStatus(scope, id);
      if (status.runtime_handler !== handler) throw new Error(`the pod was run with handler '${handler}'; its status says '${status.runtime_handler}'`);
      const [item] = await listPods(scope, { id });
      if (item?.runtime_handler !== handler) throw new Error(`the pod was run with handler '${handler}'; the list says '${item?.runtime_handler}'`);
      const c = await scope.startContainer({ id, config }, 'main');
      await scope.sh(c, 'true');
    },
  }),
];

/** A runtime handler the runtime says it has: containerd lists them in its verbose Status config (the default first). */
async function someHandler(cri: CriScope['cri']): Promise<string | undefined> {
  const s = await cri.runtime<Cri.StatusResponse>('Status', { verbose: true });
  try {
    const c = JSON.parse(s.info.config ?? '{}') as { containerd?: { defaultRuntimeName?: string; runtimes?: Record<string, unknown> } };
    const names = Object.keys(c.containerd?.runtimes ?? {});
    const preferred = c.containerd?.defaultRuntimeName;
    return preferred && names.includes(preferred) ? preferred : names[0];
  } catch {
    return undefined;
  }
}
