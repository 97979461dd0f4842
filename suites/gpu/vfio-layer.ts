import { buildGpuProbes, loadOptionalModulesCommand, OPTIONAL_MODULES_DIR, VFIO_MODULES, InfraError, type GuestAgent, type ProbeArch, type TestContext } from '../../src/index.js';
import { outputTail, uploadOnce } from '../guest-upload.js';
import { reportKtapRun } from '../probe-runner.js';

/** Where the GPU probes (fixtures/gpu, static) are copied in the guest. */
export const GPU_PROBE_DIR = '/opt/tsuite/gpu';

/** QEMU's `edu` device: the emulated PCI function with a DMA engine the VFIO probe drives. */
export const EDU_ID = '1234:11e8';


/** Copies the GPU probes into the guest once per session; returns the folder they are in. */
export function uploadGpuProbes(ctx: TestContext, agent: GuestAgent): Promise<string> {
  return uploadOnce(ctx.session, agent, GPU_PROBE_DIR, async () => {
    const built = await buildGpuProbes(ctx.target.arch as ProbeArch);
    return { dir: built.dir, names: built.probes };
  });
}

/**
 * Loads the VFIO modules the way the guest can: `modprobe` where the guest has a module tree (the
 * container host), else the reference initramfs's own loader for the modules it carries unloaded.
 * A kernel with VFIO built in has nothing to load: the probe itself then says what is missing.
 */
export async function loadVfioModules(agent: GuestAgent): Promise<string> {
  const script = [
    'if [ -e /dev/vfio/vfio ] && [ -d /sys/bus/pci/drivers/vfio-pci ]; then echo built-in-or-loaded; exit 0; fi',
    `if command -v modprobe >/dev/null 2>&1 && modprobe -a ${VFIO_MODULES.join(' ')} 2>/dev/null; then echo modprobe; exit 0; fi`,
    `if [ -f ${OPTIONAL_MODULES_DIR}/load-order ]; then ${loadOptionalModulesCommand()} && echo initramfs && exit 0; exit 1; fi`,
    `echo "no way to load the vfio modules: no module tree for modprobe, no ${OPTIONAL_MODULES_DIR}/load-order" >&2; exit 1`,
  ].join('\n');
  const res = await agent.exec(['/bin/sh', '-c', script], { timeoutMs: 60_000 });
  if (res.exitCode !== 0) return `could not load ${VFIO_MODULES.join(', ')}: ${outputTail(res.stderr, 3) || `exit ${res.exitCode}`}`;
  return '';
}

export interface VfioRunOptions {
  /** `--read-only`: no rebinding, no DMA (the local target without --allow-destructive). */
  readOnly: boolean;
  /** The device: a PCI address or vendor:device; default the probe's own (QEMU's edu). */
  device?: string;
  /** Child result prefix. */
  prefix: string;
}

/**
 * Layer 1: the VFIO probe in the kernel under test over the agent, as root. Each KTAP behaviour
 * is a child result (the probe itself finds the kernel's IOMMU fault report in /dev/kmsg).
 */
export async function runVfioLayer(ctx: TestContext, opts: VfioRunOptions): Promise<void> {
  const agent = ctx.session.agent;
  if (!agent) throw new InfraError('the session has no agent channel', 'boot a target whose guest runs qemu-ga');
  const dir = await uploadGpuProbes(ctx, agent);
  if (!opts.readOnly) {
    const problem = await loadVfioModules(agent);
    if (problem) ctx.emit({ name: `${opts.prefix}modules/loaded`, status: 'failed', error: { message: problem } });
    else ctx.emit({ name: `${opts.prefix}modules/loaded`, status: 'passed' });
  }
  const args = [...(opts.device ? ['--device', opts.device] : []), ...(opts.readOnly ? ['--read-only'] : [])];
  const fromLine = ctx.session.console.lines.length;
  const res = await agent.exec([`${dir}/vfio`, ...args], { timeoutMs: 120_000 });
  if (res.exitCode === 127) throw new InfraError(`the vfio probe is not in the guest (${outputTail(res.stderr, 2)})`, `copy it to ${GPU_PROBE_DIR}`);
  reportKtapRun(ctx, res, 'vfio', opts.prefix, fromLine);
}
