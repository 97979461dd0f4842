import { CriRpcError, type TestDef } from '../../src/index.js';
import { criTest } from './cri-test.js';
import { listPods } from './lifecycle-calls.js';
import type { CriScope, PodConfig } from './scope.js';

const procPath = (name: string) => `/proc/sys/${name.replace(/\./g, '/')}`;

/** A pod with `sysctls` and two containers; fails unless both read each value back (the pod's namespaces are shared). */
async function expectApplied(scope: CriScope, sysctls: Record<string, string>): Promise<void> {
  const pod = await scope.runPod({ linux: { sysctls } });
  for (const name of ['first', 'second']) {
    const id = await scope.startContainer(pod, name);
    for (const [key, want] of Object.entries(sysctls)) {
      // Multi-value sysctls read back tab-separated.
      const got = (await scope.sh(id, `cat ${procPath(key)}`)).replace(/\s+/g, ' ');
      if (got !== want) throw new Error(`the pod asked for ${key}=${want}; its ${name} container reads '${got}' at ${procPath(key)}`);
    }
  }
}

/** The RunPodSandbox error, or undefined when the pod ran (its id then comes back). */
async function runPodOutcome(scope: CriScope, sysctls: Record<string, string>, extra: Partial<PodConfig> = {}): Promise<{ refused?: CriRpcError; podId?: string }> {
  try {
    return { podId: (await scope.runPod({ ...extra, linux: { ...(extra.linux ?? {}), sysctls } })).id };
  } catch (err) {
    if (err instanceof CriRpcError) return { refused: err };
    throw err;
  }
}

/** Fails unless RunPodSandbox with `sysctls` is refused with an error naming `leaf`, leaving no pod behind. */
async function expectRefusedNaming(scope: CriScope, sysctls: Record<string, string>, leaf: string, what: string): Promise<void> {
  const { refused } = await runPodOutcome(scope, sysctls);
  if (!refused) throw new Error(`RunPodSandbox with ${what} (${JSON.stringify(sysctls)}) was accepted`);
  if (!refused.details.includes(leaf)) throw new Error(`RunPodSandbox with ${what} was refused, but the error does not name ${leaf}: ${refused.message}`);
  const left = await listPods(scope);
  if (left.length > 0) throw new Error(`the refused RunPodSandbox left ${left.length} pod(s): ${left.map((p) => `${p.id.slice(0, 12)} ${p.state}`).join(', ')}`);
}

const hostNetwork: Partial<PodConfig> = { linux: { security_context: { namespace_options: { network: 'NODE' } } } };

/** Pod sysctls (LinuxPodSandboxConfig.sysctls): namespaced ones applied in the pod, others never on the node. */
export const sysctlTests: TestDef[] = [
  criTest({
    name: 'sysctl-net-namespaced',
    title: "A network-namespaced sysctl (net.ipv4.ip_unprivileged_port_start) is applied in the pod's containers; a pod without it keeps the default",
    rpcs: ['RunPodSandbox'],
    async run({ scope }) {
      const key = 'net.ipv4.ip_unprivileged_port_start';
      const plain = await scope.sh((await scope.podWithContainer('plain')).id, `cat ${procPath(key)}`);
      const want = plain === '53' ? '54' : '53';
      await expectApplied(scope, { [key]: want });
      const after = await scope.sh((await scope.podWithContainer('plain-after')).id, `cat ${procPath(key)}`);
      if (after !== plain) throw new Error(`a pod without ${key} read '${plain}' before and '${after}' after a pod set it to ${want}`);
    },
  }),
  criTest({
    name: 'sysctl-ipc-namespaced',
    title: "Two IPC-namespaced sysctls at once (kernel.shm_rmid_forced, kernel.msgmax) are both applied in each of the pod's containers",
    rpcs: ['RunPodSandbox'],
    async run({ scope }) {
      await expectApplied(scope, { 'kernel.shm_rmid_forced': '1', 'kernel.msgmax': '12345' });
    },
  }),
  criTest({
    name: 'sysctl-net-and-ipc',
    title: 'A network and an IPC sysctl at once (net.ipv4.ping_group_range, kernel.shm_rmid_forced) are both applied',
    rpcs: ['RunPodSandbox'],
    async run({ scope }) {
      await expectApplied(scope, { 'net.ipv4.ping_group_range': '0 2147483647', 'kernel.shm_rmid_forced': '1' });
    },
  }),
  criTest({
    name: 'sysctl-bad-value',
    title: 'A sysctl with a value the kernel refuses fails RunPodSandbox with an error naming it, and leaves no pod',
    rpcs: ['RunPodSandbox'],
    async run({ scope }) {
      await expectRefusedNaming(scope, { 'net.ipv4.ip_unprivileged_port_start': 'not-a-number' }, 'ip_unprivileged_port_start', 'a non-numeric value');
    },
  }),
  criTest({
    name: 'sysctl-unknown',
    title: 'A sysctl the kernel does not have fails RunPodSandbox with an error naming it, and leaves no pod',
    rpcs: ['RunPodSandbox'],
    async run({ scope }) {
      await expectRefusedNaming(scope, { 'net.ipv4.tsuite_no_such_sysctl': '1' }, 'tsuite_no_such_sysctl', 'an unknown sysctl');
    },
  }),
  criTest({
    name: 'sysctl-node-level-refused',
    title: "A node-level sysctl (vm.swappiness, in no namespace) never changes the node: RunPodSandbox refuses it, or the node's value stays",
    rpcs: ['RunPodSandbox'],
    async run({ ctx, fx, scope }) {
      const files = fx.files;
      if ('missing' in files) return ctx.skip(files.missing);
      const path = procPath('vm.swappiness');
      const read = async () => (await files.read(path)).toString('utf8').trim();
      const before = await read();
      const asked = before === '13' ? '14' : '13';
      const { refused } = await runPodOutcome(scope, { 'vm.swappiness': asked });
      const after = await read();
      if (after !== before) {
        await files.write(path, `${before}\n`);
        throw new Error(`a pod asking vm.swappiness=${asked} changed the node's value from ${before} to ${after} (restored)`);
      }
      if (refused && !refused.details.includes('swappiness')) throw new Error(`RunPodSandbox with vm.swappiness was refused, but the error does not name it: ${refused.message}`);
    },
  }),
  criTest({
    name: 'sysctl-host-network-refused',
    title: "A net.* sysctl in a host-network pod never changes the node's network: RunPodSandbox refuses it, or the node's value stays",
    rpcs: ['RunPodSandbox'],
    async run({ scope }) {
      const key = 'net.ipv4.ip_unprivileged_port_start';
      // The node's network namespace as a host-network container sees it: what tsuite reads there is the node's.
      const probe = (await scope.podWithContainer('probe', {}, hostNetwork)).id;
      const read = () => scope.sh(probe, `cat ${procPath(key)}`);
      const before = await read();
      const asked = before === '1000' ? '1001' : '1000';
      const { refused } = await runPodOutcome(scope, { [key]: asked }, hostNetwork);
      const after = await read();
      if (after !== before) {
        // The runtime writes what it is given into the node's namespace: give it the old value back.
        await runPodOutcome(scope, { [key]: before }, hostNetwork);
        throw new Error(`a host-network pod asking ${key}=${asked} changed the node's value from ${before} to ${after} (restore tried: now '${await read()}')`);
      }
      if (refused && !refused.details.includes('ip_unprivileged_port_start')) throw new Error(`RunPodSandbox with ${key} in a host-network pod was refused, but the error does not name it: ${refused.message}`);
    },
  }),
];
