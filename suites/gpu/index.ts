import { defineSuite, InfraError, type GuestAgent, type TestContext } from '../../src/index.js';
import { runDevicePluginChecks } from './device-plugin-test.js';
import { requestAllGpus, runVfioInContainer, runVfioThroughCdi } from './container-layer.js';
import { runNvidiaInContainer, runNvidiaLayer } from './nvidia-layer.js';
import { EDU_ID, runVfioLayer } from './vfio-layer.js';

/** The machine the agent drives is not the session's own (the local target): only what cannot harm it. */
const hostIsShared = (agent: GuestAgent) => agent.scratchRoot !== undefined;

function agentOf(ctx: TestContext): GuestAgent {
  const agent = ctx.session.agent;
  if (!agent) throw new InfraError('the session has no agent channel', 'boot a target whose guest runs qemu-ga');
  return agent;
}

/**
 * Which PCI function layer 1 drives: QEMU's edu where the machine has it (every QEMU target, the
 * suite adds it), else the first NVIDIA function (a GPU host or a VM with a passed-through GPU).
 */
async function vfioDevice(agent: GuestAgent): Promise<string | undefined> {
  const res = await agent.exec(['/bin/sh', '-c', `cd /sys/bus/pci/devices && for d in *; do echo "$d $(cat $d/vendor):$(cat $d/device)"; done`], { timeoutMs: 10_000 });
  const functions = res.stdout.toString().trim().split('\n').map((l) => l.split(' ')).map(([bdf, id]) => ({ bdf: bdf!, id: (id ?? '').replaceAll('0x', '') }));
  return functions.find((f) => f.id === EDU_ID)?.bdf ?? functions.find((f) => f.id.startsWith('10de:'))?.bdf;
}

export default defineSuite({
  name: 'gpu',
  description: 'GPU passthrough: IOMMU and VFIO in the kernel (real DMA through an emulated IOMMU), passthrough into containers, the NVIDIA stack where a GPU exists',
  // Its machine differs from the other suites' (q35, an IOMMU, a test device): a boot of its own, so only when named.
  explicit: true,
  machine: { iommu: true, devices: ['edu'] },
  tests: [
    {
      name: 'vfio',
      title: 'IOMMU groups, a device bound to vfio-pci, the VFIO type1 flow, config space and BAR access, a DMA round trip through a mapped IOVA, a DMA to an unmapped IOVA blocked, the device given back',
      requires: ['agent'],
      timeoutMs: 180_000,
      async run(ctx) {
        const agent = agentOf(ctx);
        const readOnly = hostIsShared(agent) && !ctx.target.allowDestructive;
        const device = await vfioDevice(agent);
        if (!device) ctx.skip(`no PCI function to drive: neither QEMU's edu (${EDU_ID}) nor an NVIDIA GPU is on this machine`);
        await runVfioLayer(ctx, { readOnly, device, prefix: 'vfio/' });
      },
      describeChildren: () => ({ ids: ['vfio/…'], notes: ['on the local target without --allow-destructive: read-only checks only (no rebinding, no DMA)'] }),
    },
    {
      name: 'container-vfio',
      title: "the VFIO probe inside an unprivileged container given /dev/vfio nodes through the Docker API's Devices, with the memlock MAP_DMA needs",
      requires: ['docker', 'agent'],
      timeoutMs: 240_000,
      run: (ctx) => runVfioInContainer(ctx, ctx.session.docker!, agentOf(ctx)),
    },
    {
      name: 'container-cdi',
      title: 'the same device injected through a CDI spec (Container Device Interface) by an engine that supports CDI',
      requires: ['docker', 'agent'],
      timeoutMs: 240_000,
      run: (ctx) => runVfioThroughCdi(ctx, ctx.session.docker!, agentOf(ctx)),
    },
    {
      name: 'container-gpu-request',
      title: "Docker's DeviceRequests for every GPU: refused with the engine's reason where it has no GPU driver, NVIDIA nodes and driver visible where it has one",
      requires: ['docker'],
      timeoutMs: 120_000,
      run: (ctx) => requestAllGpus(ctx, ctx.session.docker!),
    },
    {
      name: 'nvidia',
      title: 'the NVIDIA stack: PCI function, driver and device nodes, NVML facts, a CUDA vector add JIT-compiled from PTX and a device-to-device copy bandwidth',
      requires: ['agent'],
      timeoutMs: 300_000,
      run: (ctx) => runNvidiaLayer(ctx, agentOf(ctx)),
    },
    {
      name: 'container-nvidia',
      title: "the NVIDIA probes inside a container given every GPU through Docker's DeviceRequests",
      requires: ['docker'],
      timeoutMs: 300_000,
      run: (ctx) => runNvidiaInContainer(ctx, ctx.session.docker!),
    },
    {
      name: 'device-plugin',
      title: "a Kubernetes device plugin against the device plugin API v1beta1, tsuite in the kubelet's place: registration, options, ListAndWatch with health, Allocate's device nodes, mounts, env and CDI names, re-registration",
      requires: ['agent'],
      timeoutMs: 180_000,
      run: runDevicePluginChecks,
    },
  ],
});
