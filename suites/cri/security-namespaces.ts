import { criTest } from './cri-test.js';
import { idleMarked, PROCESS_LIST, withSecurity } from './security-probes.js';
import type { CriScope, Pod } from './scope.js';

type Mode = 'POD' | 'CONTAINER' | 'NODE';
type NamespaceOptions = { pid?: Mode; ipc?: Mode; network?: Mode };

/** A pod whose sandbox has these namespace options (a kubelet sets them on the pod and on each container alike). */
const podWith = (scope: CriScope, ns: NamespaceOptions) => scope.runPod({ linux: { security_context: { namespace_options: ns } } });

/** A container in `pod` with the same namespace options, idling with `marker` on its command line. */
const containerWith = (scope: CriScope, pod: Pod, name: string, ns: NamespaceOptions, marker: string, extra: Record<string, unknown> = {}) =>
  scope.startContainer(pod, name, withSecurity({ namespace_options: ns, ...extra }, { command: idleMarked(marker) }));

/** The namespace a process exec'd in the container is in, as the kernel names it (`pid:[4026532…]`). */
async function nsOf(scope: CriScope, id: string, kind: string, pid = 'self'): Promise<string> {
  const link = await scope.sh(id, `readlink /proc/${pid}/ns/${kind}`);
  if (!link.startsWith(`${kind}:[`)) throw new Error(`readlink /proc/${pid}/ns/${kind} printed ${JSON.stringify(link)}`);
  return link;
}

/** The processes the container sees: pid → command line. */
async function processes(scope: CriScope, id: string): Promise<Map<number, string>> {
  const lines = (await scope.sh(id, PROCESS_LIST)).split('\n').filter(Boolean);
  return new Map(lines.map((l) => [Number(l.split('\t')[0]), l.split('\t')[1] ?? ''] as const));
}

const sees = (procs: Map<number, string>, marker: string) => [...procs.values()].some((c) => c.includes(marker));
/** For messages: how many processes, and the tests' marked ones (pid and the end of the command line, where the marker is); the node's others are nobody's business. */
const describe = (procs: Map<number, string>) => {
  const marked = [...procs].filter(([, c]) => c.includes('tsuite-mark-')).map(([p, c]) => `${p}:…${c.trim().slice(-40)}`);
  return `${procs.size} processes, marked ones: ${marked.join(' | ') || 'none'}`;
};

/** The network interfaces `ip -o link` lists: index → name (without the @peer suffix). */
async function links(scope: CriScope, id: string): Promise<Map<number, string>> {
  const out = await scope.sh(id, 'ip -o link');
  return new Map([...out.matchAll(/^(\d+): ([^:@\s]+)/gm)].map((m) => [Number(m[1]), m[2]!] as const));
}

/** PID, IPC and network namespaces: per container, per pod, or the node's. */
export const namespaceTests = [
  criTest({
    name: 'security-pid-namespace-pod',
    title: "pid POD: two containers of a pod see each other's processes, and PID 1 is the sandbox's, not either container's",
    rpcs: ['RunPodSandbox', 'CreateContainer', 'ExecSync'],
    async run({ scope }) {
      const ns: NamespaceOptions = { pid: 'POD' };
      const pod = await podWith(scope, ns);
      const [ma, mb] = [`tsuite-mark-${scope.id}-a`, `tsuite-mark-${scope.id}-b`];
      const a = await containerWith(scope, pod, 'a', ns, ma);
      const b = await containerWith(scope, pod, 'b', ns, mb);
      const [pa, pb] = [await processes(scope, a), await processes(scope, b)];
      if (!sees(pa, mb) || !sees(pb, ma)) throw new Error(`the pod's containers do not see each other's processes: a sees ${describe(pa)}; b sees ${describe(pb)}`);
      const init = pa.get(1);
      if (init === undefined || init.includes(ma) || init.includes(mb)) throw new Error(`PID 1 in a shared pod namespace is ${JSON.stringify(init)}, expected the sandbox's process, not a container's`);
      if (pb.get(1) !== init) throw new Error(`the containers see different PID 1s: ${JSON.stringify(init)} and ${JSON.stringify(pb.get(1))}`);
      if ((await nsOf(scope, a, 'pid')) !== (await nsOf(scope, b, 'pid'))) throw new Error('the containers of a pid-POD pod are in different pid namespaces');
    },
  }),
  criTest({
    name: 'security-pid-namespace-container',
    title: "pid CONTAINER: each container of a pod is PID 1 in a namespace of its own and sees neither the other's processes nor the sandbox",
    rpcs: ['RunPodSandbox', 'CreateContainer', 'ExecSync'],
    async run({ scope }) {
      const ns: NamespaceOptions = { pid: 'CONTAINER' };
      const pod = await podWith(scope, ns);
      const [ma, mb] = [`tsuite-mark-${scope.id}-a`, `tsuite-mark-${scope.id}-b`];
      const a = await containerWith(scope, pod, 'a', ns, ma);
      const b = await containerWith(scope, pod, 'b', ns, mb);
      for (const [id, own, other] of [[a, ma, mb], [b, mb, ma]] as const) {
        const p = await processes(scope, id);
        if (!p.get(1)?.includes(own)) throw new Error(`PID 1 of the container marked ${own} is ${JSON.stringify(p.get(1))}, expected its own process`);
        if (sees(p, other)) throw new Error(`the container marked ${own} sees the other container's process: ${describe(p)}`);
      }
      if ((await nsOf(scope, a, 'pid')) === (await nsOf(scope, b, 'pid'))) throw new Error('two pid-CONTAINER containers share a pid namespace');
    },
  }),
  criTest({
    name: 'security-pid-namespace-node',
    title: "pid NODE: the container sees the node's processes (its PID 1, another pod's container) and is not PID 1; that other pod does not see it",
    rpcs: ['RunPodSandbox', 'CreateContainer', 'ExecSync'],
    async run({ fx, scope }) {
      const [mh, mo] = [`tsuite-mark-${scope.id}-host`, `tsuite-mark-${scope.id}-other`];
      const host = await containerWith(scope, await podWith(scope, { pid: 'NODE' }), 'host', { pid: 'NODE' }, mh);
      const other = await containerWith(scope, await podWith(scope, { pid: 'POD' }), 'other', { pid: 'POD' }, mo);
      const ph = await processes(scope, host);
      if (!sees(ph, mo)) throw new Error(`a pid-NODE container does not see another pod's container process (${describe(ph)})`);
      if (ph.get(1)?.includes(mh)) throw new Error('a pid-NODE container is PID 1 itself: it has a namespace of its own');
      const init = (await scope.sh(host, 'cat /proc/1/comm')).trim();
      // The node's own PID 1, read from the node (skipped where tsuite cannot read node files).
      if (!('missing' in fx.files)) {
        const nodeInit = (await fx.files.read('/proc/1/comm')).toString().trim();
        if (init !== nodeInit) throw new Error(`PID 1 in a pid-NODE container is ${JSON.stringify(init)}, but the node's PID 1 is ${JSON.stringify(nodeInit)}`);
      }
      const po = await processes(scope, other);
      if (sees(po, mh)) throw new Error(`a pid-POD container sees the pid-NODE container's process: ${describe(po)}`);
    },
  }),
  criTest({
    name: 'security-ipc-namespace-node',
    title: "ipc NODE: the container's /dev/shm is the node's (a file made there is on the node); two such pods share one IPC namespace, a default pod has its own",
    rpcs: ['RunPodSandbox', 'CreateContainer', 'ExecSync'],
    async run({ ctx, fx, scope }) {
      const files = fx.files;
      if ('missing' in files) return ctx.skip(`checking the node's /dev/shm needs ${files.missing}`);
      const ns: NamespaceOptions = { ipc: 'NODE' };
      const h1 = await containerWith(scope, await podWith(scope, ns), 'host1', ns, `tsuite-mark-${scope.id}-1`);
      const h2 = await containerWith(scope, await podWith(scope, ns), 'host2', ns, `tsuite-mark-${scope.id}-2`);
      const plain = (await scope.podWithContainer('plain')).id;
      const [n1, n2, np] = [await nsOf(scope, h1, 'ipc'), await nsOf(scope, h2, 'ipc'), await nsOf(scope, plain, 'ipc')];
      if (n1 !== n2) throw new Error(`two ipc-NODE pods are in different IPC namespaces (${n1}, ${n2})`);
      if (n1 === np) throw new Error(`a default pod shares the ipc-NODE pods' namespace ${n1}`);
      // POSIX shared memory lives in /dev/shm: sharing the node's IPC means sharing the node's.
      const name = `tsuite-ipc-${ctx.runId}-${scope.id}`;
      await scope.sh(h1, `echo ${scope.id} > /dev/shm/${name}`);
      try {
        const onNode = await files.read(`/dev/shm/${name}`).then((b) => b.toString().trim(), (err: Error) => `unreadable (${err.message})`);
        if (onNode !== scope.id) throw new Error(`a file an ipc-NODE container made in /dev/shm is ${onNode} in the node's /dev/shm/${name}`);
        const inPlain = await scope.exec(plain, ['cat', `/dev/shm/${name}`]);
        if (inPlain.exitCode === 0) throw new Error("a default pod's container sees the node's /dev/shm file");
      } finally {
        await scope.exec(h1, ['rm', '-f', `/dev/shm/${name}`]);
      }
    },
  }),
  criTest({
    name: 'security-ipc-namespace-pod',
    title: "ipc POD: a message queue one container of a pod makes is seen by the other, not by another pod's container",
    rpcs: ['RunPodSandbox', 'CreateContainer', 'ExecSync'],
    async run({ scope }) {
      const pod = await scope.runPod();
      const a = await scope.startContainer(pod, 'a');
      const b = await scope.startContainer(pod, 'b');
      const c = (await scope.podWithContainer('c')).id;
      // A file made in the mqueue filesystem is a POSIX message queue of the mounting IPC namespace.
      await scope.sh(a, 'touch /dev/mqueue/tsuite-q && grep -q QSIZE /dev/mqueue/tsuite-q');
      const [inB, inC] = [await scope.sh(b, 'ls /dev/mqueue'), await scope.sh(c, 'ls /dev/mqueue')];
      if (!inB.split('\n').includes('tsuite-q')) throw new Error(`a container does not see the queue its pod mate made (/dev/mqueue: ${JSON.stringify(inB)})`);
      if (inC.split('\n').includes('tsuite-q')) throw new Error(`another pod's container sees the queue: ${JSON.stringify(inC)}`);
      if ((await nsOf(scope, a, 'ipc')) !== (await nsOf(scope, b, 'ipc'))) throw new Error("a pod's containers are in different IPC namespaces");
    },
  }),
  criTest({
    name: 'security-network-namespace-node',
    title: "network NODE: the container sees the node's interfaces, among them the one a pod's eth0 links to; two such pods share one namespace, a default pod has its own",
    rpcs: ['RunPodSandbox', 'CreateContainer', 'ExecSync'],
    async run({ scope }) {
      const ns: NamespaceOptions = { network: 'NODE' };
      const [h1, h2] = [
        await containerWith(scope, await podWith(scope, ns), 'host1', ns, `tsuite-mark-${scope.id}-1`),
        await containerWith(scope, await podWith(scope, ns), 'host2', ns, `tsuite-mark-${scope.id}-2`),
      ];
      const plain = (await scope.podWithContainer('plain')).id;
      const [n1, n2, np] = [await nsOf(scope, h1, 'net'), await nsOf(scope, h2, 'net'), await nsOf(scope, plain, 'net')];
      if (n1 !== n2) throw new Error(`two network-NODE pods are in different network namespaces (${n1}, ${n2})`);
      if (n1 === np) throw new Error(`a default pod shares the network-NODE pods' namespace ${n1}`);
      const [node, own] = [await links(scope, h1), await links(scope, plain)];
      const ownNames = [...own.values()];
      if (!ownNames.includes('eth0') || !ownNames.includes('lo')) throw new Error(`a default pod's container lists ${ownNames.join(', ')}: expected lo and eth0`);
      // eth0's link (a veth's peer, or a macvlan/ipvlan parent) is an interface of the node's namespace.
      const peer = Number(await scope.sh(plain, 'cat /sys/class/net/eth0/iflink'));
      if (!node.has(peer)) throw new Error(`the pod's eth0 links to interface ${peer} on the node, which a network-NODE container does not list (${[...node].map(([i, n]) => `${i}:${n}`).join(', ')})`);
    },
  }),
];
