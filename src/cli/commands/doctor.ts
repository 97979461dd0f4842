import { Command } from 'commander';
import { join } from 'node:path';
import { CriChannel } from '../../channels/cri.js';
import { DockerChannel } from '../../channels/docker.js';
import { describeError } from '../../core/errors.js';
import { cacheDir } from '../../core/paths.js';
import { installCommand, targetRequirements } from '../host-check.js';
import { gpuDoctorLines } from '../doctor-gpu.js';
import { collect } from '../machine-flags.js';
import { loadContext } from '../load-context.js';
import { resolveTarget } from '../target-options.js';
import { profileFor } from '../../../runners/qemu/profiles/index.js';
import { chooseAccel, probeKvm, qemuVersion } from '../../../runners/qemu/accel.js';
import { cachedDebianKernels } from '../../../kernel/reference/debian-kernel.js';

/** `!` marks what works but could be better (TCG instead of KVM); `✗` what must be fixed. */
const line = (ok: boolean, what: string, fix?: string, mark = '✗') =>
  process.stdout.write(`${ok ? '✓' : mark} ${what}${!ok && fix ? `\n    fix: ${fix}` : ''}\n`);

export function doctorCommand(): Command {
  return new Command('doctor')
    .description('show what the host has or lacks for a target (QEMU, firmware, busybox, kernel cache, KVM, GPU passthrough; or a Docker endpoint), with the fix for each')
    .option('-t, --target <name>', 'target to check for', 'qemu-x86')
    .option('--docker-host <url>', 'for the docker target: the endpoint to check (default: DOCKER_HOST)')
    .option('--docker-cert-path <dir>', 'for the docker target: TLS client certificates (ca.pem, cert.pem, key.pem)')
    .option('--cri-endpoint <url>', 'for the cri target: the runtime to check (unix:///path or tcp://host:port)')
    .option('--cri-cert-path <dir>', 'for the cri target: TLS material (ca.pem, and cert.pem + key.pem)')
    .option('--host-device <address>', 'also check that this host PCI function can be passed through (repeatable), as run --host-device', collect)
    .option('-c, --config <file>', 'config file (default: ./tsuite.config.ts if present)')
    .action(async (flags: { target: string; dockerHost?: string; dockerCertPath?: string; criEndpoint?: string; criCertPath?: string; hostDevice?: string[]; config?: string }) => {
      const { def } = resolveTarget(await loadContext(flags.config, {}, 'none'), flags);
      let problems = 0;
      for (const req of targetRequirements(def)) {
        const ok = await req.present();
        if (!ok) problems++;
        line(ok, req.what, installCommand([req.debianPackage]));
      }
      if (def.runner === 'docker') problems += await checkEndpoint(def.docker?.host ?? '', def.docker?.certPath);
      else if (def.runner === 'cri') problems += await checkCriEndpoint(def.cri?.endpoint ?? '', def.cri?.certPath);
      else problems += await checkMachine(def.arch);
      if (def.runner === 'qemu') problems += checkGpuPassthrough(def.machine?.hostDevices, def.memoryMb);
      process.stdout.write(problems ? `\n${problems} problem(s): see the fix under each (\`npx tsuite setup\` installs and builds what is missing).\n` : '\nThe host is ready.\n');
      process.exitCode = problems ? 3 : 0;
    });
}

/** QEMU, the reference kernel cache and the accelerator; returns the number of problems. */
async function checkMachine(arch: string): Promise<number> {
  const profile = profileFor(arch);
  let problems = 0;
  const version = await qemuVersion(profile.qemuBinary);
  if (version) line(true, `QEMU version ${version}`);
  const cached = await cachedDebianKernels();
  const names = cached.map((k) => `${k.package} ${k.version}`).join(', ');
  line(cached.length > 0, `reference kernel cache in ${join(cacheDir(), 'kernels')}${names ? `: ${names}` : ''}`, 'npx tsuite setup');
  if (cached.length === 0) problems++;
  const choice = await chooseAccel('auto', profile);
  if (choice.tentative && version && cached[0]) {
    const verdict = await probeKvm(profile, cached[0].vmlinuz);
    line(verdict.usable, `KVM: ${verdict.reason}`, 'none needed: tsuite falls back to TCG (slower)', '!');
  } else {
    line(choice.accel === 'kvm', `accelerator: ${choice.accel} (${choice.reason})`, 'none needed: tsuite uses TCG (slower)', '!');
  }
  return problems;
}

/** The GPU / VFIO section; only the target's own host devices count as problems. */
function checkGpuPassthrough(hostDevices: readonly string[] | undefined, memoryMb: number): number {
  process.stdout.write('\nGPU passthrough (VFIO):\n');
  const lines = gpuDoctorLines(hostDevices ?? [], undefined, memoryMb);
  for (const l of lines) process.stdout.write(`${l.mark} ${l.what}${l.mark !== '✓' && l.fix ? `\n    fix: ${l.fix}` : ''}\n`);
  return lines.filter((l) => l.mark === '✗').length;
}

/** Whether the CRI runtime answers Version, and what it is; returns the number of problems. */
async function checkCriEndpoint(url: string, certPath: string | undefined): Promise<number> {
  try {
    const channel = await CriChannel.connect({ url, certPath }, { timeoutMs: 5_000 });
    const i = channel.info;
    line(true, `CRI endpoint ${url}: ${i.runtimeName} ${i.runtimeVersion} (CRI ${i.runtimeApiVersion})`);
    channel.close();
    return 0;
  } catch (err) {
    line(false, `CRI endpoint ${url}: ${describeError(err)}`, 'start the runtime, or point --cri-endpoint at its socket or TCP address (and --cri-cert-path for TLS)');
    return 1;
  }
}

/** Whether the Docker endpoint answers, and what engine and API version it speaks; returns the number of problems. */
async function checkEndpoint(url: string, certPath: string | undefined): Promise<number> {
  try {
    const channel = await DockerChannel.connect({ url, certPath }, { timeoutMs: 5_000 });
    const i = channel.info;
    line(true, `Docker endpoint ${url}: engine ${i.engineVersion} (${i.os}/${i.arch}, kernel ${i.kernelVersion ?? 'unknown'}), API ${i.apiVersion} (server ${i.serverApiVersion})`);
    channel.close();
    return 0;
  } catch (err) {
    line(false, `Docker endpoint ${url}: ${describeError(err)}`, 'start the engine, or point --docker-host / DOCKER_HOST at it (and --docker-cert-path for TLS)');
    return 1;
  }
}
