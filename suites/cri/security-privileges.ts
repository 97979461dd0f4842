import { criTest } from './cri-test.js';
import { capSets, DEFAULT_CAPS, mustFail, PERSONALITY, privileged, selfStatus, setDifference, withSecurity } from './security-probes.js';

/** Capabilities well beyond the default set that a privileged container must hold (CRI: all capabilities are added). */
const ADMIN_CAPS = ['SYS_ADMIN', 'NET_ADMIN', 'SYS_PTRACE', 'SYS_MODULE', 'SYS_RAWIO', 'DAC_READ_SEARCH', 'SYS_TIME', 'SYS_BOOT', 'IPC_LOCK', 'SYS_NICE'];

/** The device nodes under /dev a container can see, as `path major:minor` (hex, as stat prints them). */
const DEVICES = 'find /dev -type c -o -type b | while read -r d; do echo "$d $(stat -c %t:%T "$d")"; done | sort';

/** Capabilities, added, dropped and by default, and what privileged mode grants. */
export const privilegeTests = [
  criTest({
    name: 'security-default-capabilities',
    title: "a root container that asks for nothing has the default capability set (containerd's and Docker's 14) effective, permitted and bounding",
    rpcs: ['CreateContainer', 'ExecSync'],
    async run({ scope }) {
      const { id } = await scope.podWithContainer();
      const caps = await capSets(scope, id);
      for (const [set, seen] of Object.entries(caps)) {
        const diff = setDifference(DEFAULT_CAPS, seen);
        if (diff !== 'none') throw new Error(`${set} differs from the default set (${DEFAULT_CAPS.join(', ')}): ${diff}`);
      }
    },
  }),
  criTest({
    name: 'security-capabilities-add',
    title: 'add_capabilities NET_ADMIN: the capability is effective and `ip addr add` on the pod loopback works; without it, EPERM',
    rpcs: ['CreateContainer', 'ExecSync'],
    async run({ scope }) {
      const pod = await scope.runPod();
      const admin = await scope.startContainer(pod, 'admin', withSecurity({ capabilities: { add_capabilities: ['NET_ADMIN'] } }));
      const eff = (await capSets(scope, admin)).CapEff;
      const diff = setDifference([...DEFAULT_CAPS, 'NET_ADMIN'], eff);
      if (diff !== 'none') throw new Error(`CapEff with NET_ADMIN added differs from the default set plus NET_ADMIN: ${diff}`);
      // The pod's own network namespace: the address goes with the pod.
      await scope.sh(admin, 'ip addr add 192.0.2.10/32 dev lo && ip -o addr show dev lo | grep -q 192.0.2.10');
      const plain = await scope.startContainer(pod, 'plain');
      await mustFail(scope, plain, 'ip addr add 192.0.2.11/32 dev lo', /Operation not permitted/, 'changing addresses needs NET_ADMIN, which the default set lacks');
    },
  }),
  criTest({
    name: 'security-capabilities-drop',
    title: 'drop_capabilities CHOWN: the capability is gone and chown fails with EPERM; with the default set, chown works',
    rpcs: ['CreateContainer', 'ExecSync'],
    async run({ scope }) {
      const pod = await scope.runPod();
      const dropped = await scope.startContainer(pod, 'dropped', withSecurity({ capabilities: { drop_capabilities: ['CHOWN'] } }));
      const { CapEff: eff, CapBnd: bnd } = await capSets(scope, dropped);
      if (eff.includes('CHOWN') || bnd.includes('CHOWN')) throw new Error(`CHOWN was dropped but is still in CapEff (${eff.join(',')}) or CapBnd (${bnd.join(',')})`);
      await mustFail(scope, dropped, 'touch /tmp/f && chown 1000 /tmp/f', /Operation not permitted/, 'chown to another user needs CHOWN, which was dropped');
      const plain = await scope.startContainer(pod, 'plain');
      await scope.sh(plain, 'touch /tmp/f && chown 1000 /tmp/f && [ "$(stat -c %u /tmp/f)" = 1000 ]');
    },
  }),
  criTest({
    name: 'security-capabilities-drop-all',
    title: 'drop_capabilities ALL: root keeps uid 0 but has no capability in any set, and chown fails with EPERM',
    rpcs: ['CreateContainer', 'ExecSync'],
    async run({ scope }) {
      const { id } = await scope.podWithContainer('main', withSecurity({ capabilities: { drop_capabilities: ['ALL'] } }));
      if ((await scope.sh(id, 'id -u')) !== '0') throw new Error('dropping capabilities changed the user: expected uid 0');
      const caps = await capSets(scope, id);
      for (const [set, seen] of Object.entries(caps)) if (seen.length > 0) throw new Error(`${set} holds ${seen.join(', ')} after drop ALL: expected none`);
      await mustFail(scope, id, 'touch /tmp/f && chown 1000 /tmp/f', /Operation not permitted/, 'root without CHOWN may not give a file away');
    },
  }),
  criTest({
    name: 'security-capabilities-drop-all-add-one',
    title: 'drop ALL with add NET_BIND_SERVICE leaves exactly NET_BIND_SERVICE (drops apply before adds)',
    rpcs: ['CreateContainer', 'ExecSync'],
    async run({ scope }) {
      const { id } = await scope.podWithContainer('main', withSecurity({ capabilities: { drop_capabilities: ['ALL'], add_capabilities: ['NET_BIND_SERVICE'] } }));
      const caps = await capSets(scope, id);
      for (const [set, seen] of Object.entries(caps)) {
        if (seen.join() !== 'NET_BIND_SERVICE') throw new Error(`${set} is ${JSON.stringify(seen.join(', '))} after drop ALL, add NET_BIND_SERVICE: expected exactly NET_BIND_SERVICE`);
      }
    },
  }),
  criTest({
    name: 'security-privileged-capabilities',
    title: 'privileged: every capability, admin ones included, is effective and bounding (CRI: all capabilities are added)',
    rpcs: ['RunPodSandbox', 'CreateContainer', 'ExecSync'],
    async run({ scope }) {
      const { id } = await privileged(scope);
      const { CapEff: eff, CapBnd: bnd } = await capSets(scope, id);
      const missing = [...DEFAULT_CAPS, ...ADMIN_CAPS].filter((c) => !eff.includes(c));
      if (missing.length > 0) throw new Error(`a privileged container lacks ${missing.join(', ')} (CapEff: ${eff.join(', ')})`);
      if (eff.join() !== bnd.join()) throw new Error(`a privileged container's CapEff and CapBnd differ: ${setDifference(bnd, eff)}`);
    },
  }),
  criTest({
    name: 'security-privileged-host-devices',
    title: "privileged: the node's device nodes appear under /dev, beyond the few a default container gets",
    rpcs: ['RunPodSandbox', 'CreateContainer', 'ExecSync'],
    async run({ scope }) {
      const { id } = await privileged(scope);
      const plain = (await scope.podWithContainer('plain')).id;
      const host = (await scope.sh(id, DEVICES)).split('\n');
      const dflt = (await scope.sh(plain, DEVICES)).split('\n');
      const extra = host.filter((d) => !dflt.includes(d));
      if (extra.length === 0) throw new Error(`a privileged container sees no device beyond a default container's (${dflt.join('; ')})`);
      // The default container's few devices (null, zero, random, tty...) are the node's too.
      const notInHost = dflt.filter((d) => !d.startsWith('/dev/pts/') && !host.includes(d));
      if (notInHost.length > 0) throw new Error(`a privileged container lacks devices a default container has: ${notInHost.join('; ')}`);
    },
  }),
  criTest({
    name: 'security-privileged-mount',
    title: 'privileged: mounting a tmpfs inside the container works; a default container is refused (no SYS_ADMIN)',
    rpcs: ['RunPodSandbox', 'CreateContainer', 'ExecSync'],
    async run({ scope }) {
      const { id } = await privileged(scope);
      await scope.sh(id, 'mkdir -p /tmp/m && mount -t tmpfs tsuite /tmp/m && echo x > /tmp/m/f && grep -q " /tmp/m tmpfs " /proc/self/mounts');
      const plain = (await scope.podWithContainer('plain')).id;
      await mustFail(scope, plain, 'mkdir -p /tmp/m && mount -t tmpfs tsuite /tmp/m', /permission denied|Operation not permitted/i, 'mounting needs SYS_ADMIN, which a default container lacks');
    },
  }),
  criTest({
    name: 'security-privileged-unconfined',
    title: 'privileged: seccomp is not applied even when RuntimeDefault is asked for (CRI): Seccomp: 0 and personality(ADDR_NO_RANDOMIZE) works',
    rpcs: ['RunPodSandbox', 'CreateContainer', 'ExecSync'],
    async run({ scope }) {
      const { id } = await privileged(scope, { seccomp: { profile_type: 'RuntimeDefault' } });
      const seccomp = (await selfStatus(scope, id)).Seccomp;
      if (seccomp !== '0') throw new Error(`a privileged container runs with Seccomp: ${seccomp}, expected 0 (CRI: seccomp restrictions are not applied)`);
      await scope.sh(id, PERSONALITY);
    },
  }),
];
