import type Dockerode from 'dockerode';
import type { TestDef } from '../../src/index.js';
import { shIn, startIdle } from './container-exec.js';
import { jsonReport } from './custom-images.js';
import { dockerTest, type Scope } from './scope.js';

/**
 * Each isolation test starts two containers, checks that neither sees what the other made
 * (processes, files, addresses, hostname, IPC objects) and that their namespaces differ, then
 * shares that namespace with a third container on purpose and checks it does see it: the
 * control that shows the check itself can see across when the kernel lets it.
 */

type Kind = 'pid' | 'mnt' | 'net' | 'uts' | 'ipc';

/** The namespace a container's processes are in, as `/proc/self/ns/<kind>` names it (`pid:[4026532…]`). */
const ns = async (s: Scope, c: Dockerode.Container, kind: Kind) => (await shIn(s, c, `readlink /proc/self/ns/${kind}`)).trim();

async function distinctNamespaces(s: Scope, kind: Kind, a: Dockerode.Container, b: Dockerode.Container): Promise<void> {
  const [na, nb] = [await ns(s, a, kind), await ns(s, b, kind)];
  if (!na.startsWith(`${kind}:[`)) throw new Error(`readlink /proc/self/ns/${kind} gave ${JSON.stringify(na)}`);
  if (na === nb) throw new Error(`both containers are in the same ${kind} namespace ${na}`);
}

/** The command lines of every process a container can see. */
const PS = 'for f in /proc/[0-9]*/cmdline; do tr "\\0" " " < $f 2>/dev/null; echo; done';

export const isolationTests: TestDef[] = [
  dockerTest({
    name: 'isolation-pid',
    title: "pid: neither of two containers sees the other's processes; a third sharing the first's pid namespace sees them",
    timeoutMs: 150_000,
    async run(s) {
      const a = await startIdle(s, {}, 'tsuite-mark-a');
      const b = await startIdle(s, {}, 'tsuite-mark-b');
      const inA = await shIn(s, a, PS);
      const inB = await shIn(s, b, PS);
      if (!inA.includes('tsuite-mark-a') || !inB.includes('tsuite-mark-b')) throw new Error(`a container does not see its own init: ${JSON.stringify({ inA, inB })}`);
      if (inA.includes('tsuite-mark-b')) throw new Error(`container A sees B's process: ${JSON.stringify(inA)}`);
      if (inB.includes('tsuite-mark-a')) throw new Error(`container B sees A's process: ${JSON.stringify(inB)}`);
      await distinctNamespaces(s, 'pid', a, b);
      // procs lists /proc: on its own it is PID 1; in A's namespace it sees A's init as PID 1 and is not it.
      type Procs = { pid: number; visible_pids: number[]; ok: boolean };
      const alone = jsonReport<Procs>((await s.run(s.images.procs, ['2'])).stdout, 'procs');
      if (alone.pid !== 1 || alone.visible_pids.length !== 3) throw new Error(`procs in its own namespace: ${JSON.stringify(alone)}`);
      const shared = jsonReport<Procs>((await s.run(s.images.procs, ['2'], { HostConfig: { PidMode: `container:${a.id}` } })).stdout, 'procs');
      if (shared.pid === 1 || !shared.visible_pids.includes(1) || shared.visible_pids.length < 4) throw new Error(`procs sharing A's pid namespace: ${JSON.stringify(shared)}`);
    },
  }),
  dockerTest({
    name: 'isolation-mount',
    title: 'mount: a file one container writes (in /tmp and in /) is not in the other; different mount namespaces',
    timeoutMs: 150_000,
    async run(s) {
      const a = await startIdle(s);
      const b = await startIdle(s);
      await shIn(s, a, 'echo from-a > /tmp/tsuite-a && echo from-a > /tsuite-a');
      await shIn(s, b, 'echo from-b > /tmp/tsuite-b');
      const seenByB = await shIn(s, b, 'ls -a /tmp /');
      if (seenByB.includes('tsuite-a') || !seenByB.includes('tsuite-b')) throw new Error(`B lists ${JSON.stringify(seenByB)}: A's files there, or its own missing`);
      const seenByA = await shIn(s, a, 'ls -a /tmp /; cat /tmp/tsuite-a');
      if (seenByA.includes('tsuite-b') || !seenByA.includes('from-a')) throw new Error(`A lists ${JSON.stringify(seenByA)}: B's file there, or its own missing`);
      await distinctNamespaces(s, 'mnt', a, b);
    },
  }),
  dockerTest({
    name: 'isolation-net',
    title: "net: containers on two networks have different addresses, neither sees the other's; a third in A's namespace sees A's",
    timeoutMs: 150_000,
    async run(s) {
      const netA = (await (await s.network()).inspect()).Name as string;
      const netB = (await (await s.network()).inspect()).Name as string;
      const a = await startIdle(s, { HostConfig: { NetworkMode: netA } });
      const b = await startIdle(s, { HostConfig: { NetworkMode: netB } });
      const ipA = (await a.inspect()).NetworkSettings.Networks[netA]?.IPAddress ?? '';
      const ipB = (await b.inspect()).NetworkSettings.Networks[netB]?.IPAddress ?? '';
      if (!ipA || !ipB || ipA === ipB) throw new Error(`the containers' addresses are ${JSON.stringify([ipA, ipB])}`);
      const addrs = 'ip -4 -o addr show';
      const inA = await shIn(s, a, addrs);
      const inB = await shIn(s, b, addrs);
      if (!inA.includes(ipA) || inA.includes(ipB)) throw new Error(`A (${ipA}) sees addresses ${JSON.stringify(inA)}`);
      if (!inB.includes(ipB) || inB.includes(ipA)) throw new Error(`B (${ipB}) sees addresses ${JSON.stringify(inB)}`);
      await distinctNamespaces(s, 'net', a, b);
      const c = await startIdle(s, { HostConfig: { NetworkMode: `container:${a.id}` } });
      if (!(await shIn(s, c, addrs)).includes(ipA)) throw new Error(`a container sharing A's network namespace does not see ${ipA}`);
      if ((await ns(s, c, 'net')) !== (await ns(s, a, 'net'))) throw new Error("a container sharing A's network namespace reports another one");
    },
  }),
  dockerTest({
    name: 'isolation-uts',
    title: "uts: each container has its own hostname and UTS namespace; one in the host's UTS namespace gets the engine host's name",
    timeoutMs: 150_000,
    async run(s) {
      const a = await startIdle(s, { Hostname: 'tsuite-uts-a' });
      const b = await startIdle(s, { Hostname: 'tsuite-uts-b' });
      const [ha, hb] = [(await shIn(s, a, 'hostname')).trim(), (await shIn(s, b, 'hostname')).trim()];
      if (ha !== 'tsuite-uts-a' || hb !== 'tsuite-uts-b') throw new Error(`the containers' hostnames are ${JSON.stringify([ha, hb])}`);
      await distinctNamespaces(s, 'uts', a, b);
      const host = (await s.api.info()).Name as string;
      const h = await s.run(s.images.busybox, ['hostname'], { HostConfig: { UTSMode: 'host' } });
      if (h.stdout.trim() !== host) throw new Error(`a container in the host's UTS namespace has hostname ${JSON.stringify(h.stdout.trim())}, not the engine's ${host}`);
    },
  }),
  dockerTest({
    name: 'isolation-ipc',
    title: "ipc: a POSIX message queue made in one container is not in the other's /dev/mqueue; a third sharing A's IPC namespace sees it",
    timeoutMs: 150_000,
    async run(s) {
      // Shareable: a third container may join A's IPC namespace (the control).
      const a = await startIdle(s, { HostConfig: { IpcMode: 'shareable' } });
      const b = await startIdle(s);
      // Creating a file in the mqueue filesystem creates a queue (mq_open(O_CREAT) underneath).
      await shIn(s, a, 'touch /dev/mqueue/tsuite-a && grep -q QSIZE /dev/mqueue/tsuite-a');
      const inB = await shIn(s, b, 'ls /dev/mqueue');
      if (inB.includes('tsuite-a')) throw new Error(`B sees A's message queue: ${JSON.stringify(inB)}`);
      await distinctNamespaces(s, 'ipc', a, b);
      const c = await startIdle(s, { HostConfig: { IpcMode: `container:${a.id}` } });
      const inC = await shIn(s, c, 'ls /dev/mqueue');
      if (!inC.includes('tsuite-a')) throw new Error(`a container sharing A's IPC namespace does not see its queue: ${JSON.stringify(inC)}`);
    },
  }),
];
