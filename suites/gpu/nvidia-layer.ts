import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildNvidiaProbes, InfraError, type DockerChannel, type GuestAgent, type ProbeArch, type TestContext } from '../../src/index.js';
import { outputTail, uploadOnce } from '../guest-upload.js';
import { reportKtapRun } from '../probe-runner.js';
import { ContainerRefused, NO_GPU_DRIVER, runInGpuContainer, type ContainerFile } from './container-run.js';
import { parseNvidiaFacts } from './nvidia-facts.js';

/** Where the NVIDIA probes (fixtures/gpu/nvidia, dynamic: they dlopen the driver's libraries) go in the guest. */
export const NVIDIA_PROBE_DIR = '/opt/tsuite/nvidia';

/** From the bus up: each program's checks assume the ones before it. */
export const NVIDIA_PROGRAMS = ['nvidia-pci', 'nvidia-driver', 'nvidia-nvml', 'nvidia-cuda'] as const;

/** What the NVIDIA container runtime must mount for the probes: the driver's compute and management libraries. */
const GPU_ENV = ['NVIDIA_VISIBLE_DEVICES=all', 'NVIDIA_DRIVER_CAPABILITIES=compute,utility', 'LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu:/usr/lib/aarch64-linux-gnu:/usr/lib64:/usr/lib:/lib'];

/**
 * Records what the probes said of the stack: each `# metric:` as a metric of the test (the copy
 * bandwidth is a benchmark figure, measured on the device's clock) and the facts (GPU name, memory,
 * driver and CUDA versions) as one child whose title carries them, so every report shows them.
 */
function recordFacts(ctx: TestContext, stdout: string, prefix: string): void {
  const { facts, metrics, warnings } = parseNvidiaFacts(stdout.split('\n'));
  for (const m of metrics) ctx.metric({ name: `${prefix}${m.name}`, unit: m.unit, value: m.value, better: 'higher', clock: 'time' });
  const keys = Object.keys(facts).sort();
  if (keys.length > 0) {
    ctx.emit({ name: `${prefix}facts`, title: keys.map((k) => `${k}=${facts[k]}`).join('; '), status: 'passed', ...(warnings.length ? { warnings } : {}) });
  }
}

/**
 * Layer 3 where the kernel's own user space runs (the guest over its agent, or this host for the
 * local target): each program's behaviours as children, facts and the copy bandwidth recorded. On a
 * machine without an NVIDIA function every program reports the skip "no NVIDIA device on this machine".
 */
export async function runNvidiaLayer(ctx: TestContext, agent: GuestAgent): Promise<void> {
  const dir = await uploadOnce(ctx.session, agent, NVIDIA_PROBE_DIR, async () => {
    const built = await buildNvidiaProbes(ctx.target.arch as ProbeArch);
    return { dir: built.dir, names: built.programs };
  });
  let out = '';
  for (const program of NVIDIA_PROGRAMS) {
    const fromLine = ctx.session.console.lines.length;
    const res = await agent.exec([`${dir}/${program}`], { timeoutMs: 120_000 });
    if (res.exitCode === 127) {
      throw new InfraError(`${program} cannot start in the guest (${outputTail(res.stderr, 2)})`, 'the NVIDIA probes are dynamic programs: the guest needs glibc and its loader (the reference guest has them for its agent)');
    }
    out += res.stdout.toString('utf8');
    reportKtapRun(ctx, res, program, 'nvidia/', fromLine);
  }
  recordFacts(ctx, out, 'nvidia/');
}

/** The probes and the C library they link against, as found on this host (the engine's arch is the host's). */
async function probeFilesWithLibc(ctx: TestContext): Promise<ContainerFile[]> {
  const built = await buildNvidiaProbes(ctx.target.arch as ProbeArch);
  const files: ContainerFile[] = built.programs.map((p) => ({ from: join(built.dir, p), to: `${NVIDIA_PROBE_DIR}/${p}` }));
  const { stdout } = await promisify(execFile)('ldd', [join(built.dir, built.programs[0]!)]);
  // `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)` and the loader's own absolute line.
  for (const m of stdout.matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x/g)) files.push({ from: m[1]!, to: m[1]! });
  return files;
}

/**
 * Layer 3 in a container given every GPU through Docker's DeviceRequests: the NVIDIA runtime mounts
 * the driver's libraries and device nodes; an engine without a GPU driver refuses, and the test
 * skips with the engine's own reason.
 */
export async function runNvidiaInContainer(ctx: TestContext, docker: DockerChannel): Promise<void> {
  const files = await probeFilesWithLibc(ctx);
  let out = '';
  for (const program of NVIDIA_PROGRAMS) {
    const fromLine = ctx.session.console.lines.length;
    try {
      const res = await runInGpuContainer(ctx, docker, {
        cmd: [`${NVIDIA_PROBE_DIR}/${program}`],
        files,
        hostConfig: { DeviceRequests: [{ Driver: '', Count: -1, DeviceIDs: [], Capabilities: [['gpu']], Options: {} }] },
        env: GPU_ENV,
        what: program,
        timeoutMs: 120_000,
      });
      out += res.stdout.toString('utf8');
      reportKtapRun(ctx, res, program, 'container-nvidia/', fromLine);
    } catch (err) {
      if (err instanceof ContainerRefused && NO_GPU_DRIVER.test(err.engineMessage)) ctx.skip(`the engine has no GPU driver: ${err.engineMessage}`);
      throw err;
    }
  }
  recordFacts(ctx, out, 'container-nvidia/');
}
