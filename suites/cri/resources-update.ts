import type { Cri, TestDef } from '../../src/index.js';
import { ContainerCgroup, MEMORY_LIMIT } from './container-cgroup.js';
import { criTest } from './cri-test.js';
import { MiB, withResources } from './resource-requests.js';
import type { CriScope } from './scope.js';
import { expectNotFound } from './stats-calls.js';

/** UpdateContainerResources with the whole set, as the kubelet sends it (a field left 0 means "unset", not "keep"). */
async function update(scope: CriScope, id: string, linux: Cri.LinuxContainerResources): Promise<void> {
  await scope.cri.runtime('UpdateContainerResources', { container_id: id, linux });
}

async function expectMemory(cg: ContainerCgroup, want: number, when: string): Promise<void> {
  const got = await cg.memoryLimit();
  if (got !== want) throw new Error(`${when}: ${cg.path(MEMORY_LIMIT)} reads ${got ?? 'no limit'}, expected ${want} (${want / MiB} MiB)`);
}

/** UpdateContainerResources: limits changed on a running (or not yet started) container, in its cgroup and in its status. */
export const updateResourceTests: TestDef[] = [
  criTest({
    name: 'resources-update-memory',
    title: "UpdateContainerResources on a running container raises its memory limit from 64 to 128 MiB, then lowers it to 48 MiB: its cgroup follows each time",
    rpcs: ['UpdateContainerResources'],
    async run({ scope }) {
      const start = { memory_limit_in_bytes: 64 * MiB, memory_swap_limit_in_bytes: 64 * MiB };
      const { id } = await scope.podWithContainer('main', withResources(start));
      const cg = await ContainerCgroup.open(scope, id);
      await expectMemory(cg, 64 * MiB, 'before the update');
      for (const mib of [128, 48]) {
        await update(scope, id, { memory_limit_in_bytes: mib * MiB, memory_swap_limit_in_bytes: mib * MiB });
        await expectMemory(cg, mib * MiB, `after UpdateContainerResources to ${mib} MiB`);
      }
    },
  }),
  criTest({
    name: 'resources-update-cpu',
    title: 'UpdateContainerResources on a running container changes its CPU quota (20000 → 50000 per 100000) and shares (512 → 1024) in its cgroup',
    rpcs: ['UpdateContainerResources'],
    async run({ scope }) {
      const { id } = await scope.podWithContainer('main', withResources({ cpu_quota: 20000, cpu_period: 100000, cpu_shares: 512 }));
      const cg = await ContainerCgroup.open(scope, id);
      const before = await cg.cpuMax();
      const shareBefore = await cg.cpuShare();
      if (before.quota !== 20000) throw new Error(`before the update the CFS bandwidth is ${before.raw}, expected quota 20000`);
      await update(scope, id, { cpu_quota: 50000, cpu_period: 100000, cpu_shares: 1024 });
      const after = await cg.cpuMax();
      if (after.quota !== 50000 || after.period !== 100000) throw new Error(`after UpdateContainerResources to 50000/100000 the CFS bandwidth is ${after.raw}`);
      const share = await cg.cpuShare();
      // Whatever the v2 mapping, doubling the shares must raise the weight; on v1 the file is the shares.
      const ok = cg.version === 1 ? share.value === 1024 : share.value > shareBefore.value;
      if (!ok) throw new Error(`after updating cpu_shares 512 → 1024, ${share.file} went ${shareBefore.value} → ${share.value}`);
    },
  }),
  criTest({
    name: 'resources-update-status',
    title: 'ContainerStatus.resources reports the limits asked at creation, and the updated ones after UpdateContainerResources',
    rpcs: ['ContainerStatus', 'UpdateContainerResources'],
    async run({ scope, ctx }) {
      const asked = { memory_limit_in_bytes: 64 * MiB, cpu_quota: 20000, cpu_period: 100000, cpu_shares: 512 };
      const { id } = await scope.podWithContainer('main', withResources(asked));
      const check = async (want: Cri.LinuxContainerResources, when: string) => {
        const r = (await scope.status(id)).resources?.linux;
        if (!r) return ctx.skip('the runtime leaves ContainerStatus.resources empty (an optional field of CRI v1)');
        const wrong = Object.entries(want).filter(([k, v]) => r[k as keyof Cri.LinuxContainerResources] !== v);
        if (wrong.length > 0) throw new Error(`${when}: ContainerStatus.resources.linux has ${wrong.map(([k]) => `${k} ${JSON.stringify(r[k as keyof Cri.LinuxContainerResources])}`).join(', ')}; expected ${wrong.map(([k, v]) => `${k} ${v}`).join(', ')}`);
      };
      await check(asked, 'after creation');
      const changed = { memory_limit_in_bytes: 96 * MiB, cpu_quota: 40000, cpu_period: 100000, cpu_shares: 768 };
      await update(scope, id, changed);
      await check(changed, 'after UpdateContainerResources');
    },
  }),
  criTest({
    name: 'resources-update-created',
    title: 'UpdateContainerResources on a created, not yet started container: the limit it set is the one in the cgroup once started',
    rpcs: ['UpdateContainerResources', 'StartContainer'],
    async run({ scope }) {
      const pod = await scope.runPod();
      const id = await scope.createContainer(pod, 'main', withResources({ memory_limit_in_bytes: 64 * MiB, memory_swap_limit_in_bytes: 64 * MiB }));
      await update(scope, id, { memory_limit_in_bytes: 96 * MiB, memory_swap_limit_in_bytes: 96 * MiB });
      await scope.cri.runtime('StartContainer', { container_id: id });
      await expectMemory(await ContainerCgroup.open(scope, id), 96 * MiB, 'started after UpdateContainerResources to 96 MiB');
    },
  }),
  criTest({
    name: 'resources-update-removed',
    title: 'UpdateContainerResources on a removed container fails with NOT_FOUND',
    rpcs: ['UpdateContainerResources', 'RemoveContainer'],
    async run({ scope }) {
      const { id } = await scope.podWithContainer('main');
      await scope.cri.runtime('StopContainer', { container_id: id, timeout: 10 }, { timeoutMs: 30_000 });
      await scope.cri.runtime('RemoveContainer', { container_id: id });
      await expectNotFound(() => update(scope, id, { memory_limit_in_bytes: 64 * MiB }), 'UpdateContainerResources on a removed container');
    },
  }),
];
