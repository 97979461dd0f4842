import { join } from 'node:path';
import type Dockerode from 'dockerode';
import { buildGpuProbes, InfraError, shellWord, type DockerChannel, type GuestAgent, type ProbeArch, type TestContext } from '../../src/index.js';
import { outputTail } from '../guest-upload.js';
import { reportKtapRun } from '../probe-runner.js';
import { CDI_KIND, vfioCdiSpec } from './cdi-spec.js';
import { ContainerRefused, NO_GPU_DRIVER, runInGpuContainer } from './container-run.js';
import { EDU_ID, GPU_PROBE_DIR, loadVfioModules } from './vfio-layer.js';

/** What a container needs to drive the device: the VFIO nodes, and enough locked memory for MAP_DMA. */
const MEMLOCK_BYTES = 64 * 1024 * 1024;

/** The device as bound to vfio-pci in the engine's host, ready to hand to a container. */
export interface BoundDevice {
  bdf: string;
  group: string;
}

/**
 * In the engine's host, over its agent: loads VFIO, binds the first `vendor:device` function to
 * vfio-pci (containers cannot write sysfs, so the host does what the probe does itself in layer 1).
 */
export async function bindInEngineHost(agent: GuestAgent, id = EDU_ID): Promise<BoundDevice> {
  const loadProblem = await loadVfioModules(agent);
  if (loadProblem) throw new InfraError(`the engine's host cannot load VFIO: ${loadProblem}`, 'boot the container host with the vfio modules (the reference node rootfs has them)');
  const [vendor, device] = id.split(':');
  const script = `for d in /sys/bus/pci/devices/*; do
  [ "$(cat $d/vendor)" = 0x${vendor} ] && [ "$(cat $d/device)" = 0x${device} ] || continue
  bdf=\${d##*/}
  [ -e $d/iommu_group ] || { echo "$bdf has no IOMMU group: the host was not booted with the IOMMU" >&2; exit 3; }
  [ -e $d/driver ] && [ "$(basename $(readlink $d/driver))" != vfio-pci ] && echo $bdf > $d/driver/unbind
  echo vfio-pci > $d/driver_override
  [ -e $d/driver ] || echo $bdf > /sys/bus/pci/drivers_probe
  echo "$bdf $(basename $(readlink $d/iommu_group))"; exit 0
done
echo "no PCI function ${id} in the engine's host" >&2; exit 2`;
  const res = await agent.exec(['/bin/sh', '-c', script], { timeoutMs: 30_000 });
  const m = /^(\S+) (\d+)$/m.exec(res.stdout.toString());
  if (res.exitCode !== 0 || !m) throw new InfraError(`could not bind ${id} to vfio-pci in the engine's host: ${outputTail(res.stderr, 3)}`, 'boot the container host with the IOMMU and the edu device (the gpu suite does on QEMU targets)');
  return { bdf: m[1]!, group: m[2]! };
}

/** Gives the device back: off vfio-pci, no driver override (edu has no driver of its own). */
export async function releaseInEngineHost(agent: GuestAgent, dev: BoundDevice): Promise<void> {
  const d = `/sys/bus/pci/devices/${dev.bdf}`;
  await agent.exec(['/bin/sh', '-c', `[ -e ${d}/driver ] && echo ${dev.bdf} > ${d}/driver/unbind; echo > ${d}/driver_override; echo ${dev.bdf} > /sys/bus/pci/drivers_probe; true`], { timeoutMs: 30_000 });
}

/**
 * A container has no /dev/kmsg, so the probe cannot see the kernel report the blocked DMA: the
 * engine host's console can. Linux's VT-d driver prints `DMAR: [DMA Write …] Request device [bus:dev.fn] fault addr …`.
 */
async function checkFaultOnConsole(ctx: TestContext, stdout: string, dev: BoundDevice, fromLine: number, prefix: string): Promise<void> {
  if (!/^\s*ok \d+ unmapped_destination_unchanged\b/m.test(stdout) || !/# SKIP cannot read \/dev\/kmsg/.test(stdout)) return;
  const short = dev.bdf.replace(/^0000:/, '').replace(/[.]/g, '\\.');
  const fault = new RegExp(`DMAR: \\[DMA (?:Read|Write)[^\\]]*\\] Request device \\[${short}\\] fault addr|AMD-Vi: .*IO_PAGE_FAULT.*${short}`);
  const seen = await ctx.session.console.expect(fault, { timeoutMs: 5_000, fromLine, signal: ctx.signal }).then(() => true, () => false);
  ctx.emit(seen
    ? { name: `${prefix}blocked_dma/iommu_fault_on_console`, status: 'passed' }
    : { name: `${prefix}blocked_dma/iommu_fault_on_console`, status: 'failed', error: { message: `the DMA to an unmapped IOVA did not arrive, yet the engine host's console shows no IOMMU fault for ${dev.bdf}` } });
}

const vfioDevices = (group: string): Dockerode.DeviceMapping[] => ['/dev/vfio/vfio', `/dev/vfio/${group}`].map((p) => ({ PathOnHost: p, PathInContainer: p, CgroupPermissions: 'rwm' }));

async function vfioProbeFile(ctx: TestContext): Promise<{ from: string; to: string }> {
  const built = await buildGpuProbes(ctx.target.arch as ProbeArch);
  return { from: join(built.dir, 'vfio'), to: `${GPU_PROBE_DIR}/vfio` };
}

/**
 * Layer 2: the VFIO probe inside an unprivileged container given `/dev/vfio/vfio` and the group's
 * node through the Docker API's `Devices`, with the memlock MAP_DMA needs: the whole type1 flow and
 * the DMA round trip, on a device the engine's host bound to vfio-pci.
 */
export async function runVfioInContainer(ctx: TestContext, docker: DockerChannel, agent: GuestAgent): Promise<void> {
  const dev = await bindInEngineHost(agent);
  try {
    const fromLine = ctx.session.console.lines.length;
    const res = await runInGpuContainer(ctx, docker, {
      cmd: [`${GPU_PROBE_DIR}/vfio`, '--device', dev.bdf, '--bound'],
      files: [await vfioProbeFile(ctx)],
      hostConfig: { Devices: vfioDevices(dev.group), Ulimits: [{ Name: 'memlock', Soft: MEMLOCK_BYTES, Hard: MEMLOCK_BYTES }] },
      what: 'the vfio probe',
      timeoutMs: 120_000,
    });
    await checkFaultOnConsole(ctx, res.stdout.toString('utf8'), dev, fromLine, 'container-vfio/');
    reportKtapRun(ctx, res, 'vfio', 'container-vfio/', fromLine);
  } finally {
    await releaseInEngineHost(agent, dev);
  }
}


/**
 * Docker's `DeviceRequests` for every GPU: an engine without a GPU driver refuses it at start,
 * and the test skips with the engine's reason; one with a driver starts it, and `then` runs in it.
 */
export async function requestAllGpus(ctx: TestContext, docker: DockerChannel): Promise<void> {
  try {
    const res = await runInGpuContainer(ctx, docker, {
      cmd: ['sh', '-c', 'ls /dev/nvidia* && cat /proc/driver/nvidia/version'],
      files: [],
      hostConfig: { DeviceRequests: [{ Driver: '', Count: -1, DeviceIDs: [], Capabilities: [['gpu']], Options: {} }] },
      what: 'a container given every GPU',
      timeoutMs: 60_000,
    });
    if (res.exitCode !== 0) throw new Error(`the engine started a container with every GPU, but it sees no NVIDIA device nodes or driver: ${outputTail(res.stderr, 3)}`);
  } catch (err) {
    if (err instanceof ContainerRefused && NO_GPU_DRIVER.test(err.engineMessage)) ctx.skip(`the engine has no GPU driver: ${err.engineMessage}`);
    if (err instanceof ContainerRefused) throw new Error(`the engine refused a GPU device request for another reason than a missing GPU driver: ${err.engineMessage}`);
    throw err;
  }
}

/**
 * A CDI spec for the test device, written into a spec folder the engine reads, and the probe in a
 * container asking for `tsuite.dev/vfio=<name>`: needs an engine with CDI (Docker 25+ says where it
 * reads specs in `/info` as CDISpecDirs); one without says so and the test skips naming it.
 */
export async function runVfioThroughCdi(ctx: TestContext, docker: DockerChannel, agent: GuestAgent): Promise<void> {
  const info = (await docker.api.info()) as { CDISpecDirs?: string[]; ServerVersion?: string };
  const dirs = info.CDISpecDirs ?? [];
  if (dirs.length === 0) {
    ctx.skip(`the engine (Docker ${info.ServerVersion ?? '?'}) has no CDI support: it reports no CDISpecDirs in /info (CDI needs Docker 25+ with CDI enabled)`);
  }
  const dev = await bindInEngineHost(agent);
  const specPath = `${dirs[0]}/tsuite-vfio-${ctx.runId}.json`;
  try {
    const spec = JSON.stringify(vfioCdiSpec('edu', dev.group));
    await agent.exec(['/bin/sh', '-c', `mkdir -p ${shellWord(dirs[0]!)}`], { timeoutMs: 10_000 });
    await agent.writeFile(specPath, spec, 0o644);
    const fromLine = ctx.session.console.lines.length;
    const res = await runInGpuContainer(ctx, docker, {
      cmd: [`${GPU_PROBE_DIR}/vfio`, '--device', dev.bdf, '--bound'],
      files: [await vfioProbeFile(ctx)],
      hostConfig: { DeviceRequests: [{ Driver: 'cdi', DeviceIDs: [`${CDI_KIND}=edu`], Count: 0, Capabilities: [], Options: {} }], Ulimits: [{ Name: 'memlock', Soft: MEMLOCK_BYTES, Hard: MEMLOCK_BYTES }] },
      what: 'the vfio probe with its device injected through CDI',
      timeoutMs: 120_000,
    });
    await checkFaultOnConsole(ctx, res.stdout.toString('utf8'), dev, fromLine, 'container-cdi/');
    reportKtapRun(ctx, res, 'vfio', 'container-cdi/', fromLine);
  } finally {
    await agent.exec(['/bin/rm', '-f', specPath], { timeoutMs: 10_000 }).catch(() => undefined);
    await releaseInEngineHost(agent, dev);
  }
}
