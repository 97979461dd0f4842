import { Command } from 'commander';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { InfraError } from '../../core/errors.js';
import { createProgress, type Progress } from '../../core/progress.js';
import { BUILT_IN_TARGETS, findTarget, type TargetDef } from '../../core/target.js';
import { resolveBoot } from '../../../kernel/resolve-boot.js';
import { buildBench, buildProbes } from '../../../kernel/probes/build-probes.js';
import type { ProbeArch } from '../../../kernel/probes/toolchain.js';
import { refreshReferenceLists } from '../../../kernel/reference/reference-guest.js';
import { clearResolutions } from '../../../kernel/reference/resolution-cache.js';
import { profileFor } from '../../../runners/qemu/profiles/index.js';
import { chooseAccel, probeKvm, recordKvmVerdict } from '../../../runners/qemu/accel.js';
import { installCommand, missingPackages } from '../host-check.js';
import { splitList } from '../load-context.js';
import { buildTestImages } from '../../../oci-images/index.js';

/** Runs apt-get with its output shown: installs are long and their progress is the user's to see. */
function apt(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('apt-get', args, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    child.on('error', (e) => reject(new InfraError(`cannot run apt-get: ${e.message}`, 'tsuite setup needs a Debian-based host')));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new InfraError(`apt-get ${args.join(' ')} failed with status ${code}`))));
  });
}

export function setupCommand(): Command {
  return new Command('setup')
    .description('install what the host lacks (as root), fetch the reference kernels and build the initramfs images; a second run does nothing')
    .option('-t, --target <names>', 'targets to prepare, comma-separated (default: every built-in target)', splitList)
    .action(async (flags: { target?: string[] }) => {
      const names = flags.target ?? Object.keys(BUILT_IN_TARGETS);
      const targets = names.map((name) => ({ name, def: findTarget(name) }));
      const progress = createProgress();
      await installMissing(targets.map((t) => t.def));
      // Runs reuse what apt resolved (the reference kernel, qemu-ga) until setup runs again: resolve afresh now.
      await clearResolutions();
      // One target that cannot be prepared (the container host needs root to build) does not stop the others.
      const failed: string[] = [];
      for (const { name, def } of targets) {
        try {
          await prepareTarget(name, def, progress);
        } catch (err) {
          if (!(err instanceof InfraError) || targets.length === 1) throw err;
          failed.push(name);
          process.stderr.write(`Not ready: ${name}: ${err.message}${err.fix ? `\n  fix: ${err.fix}` : ''}\n`);
        }
      }
      if (failed.length > 0) throw new InfraError(`could not prepare ${failed.join(', ')} (see above)`, `fix what is said above, then run \`npx tsuite setup --target ${failed.join(',')}\``);
    });
}

/** Installs every package the targets' hosts lack in one apt run, or names the command when not root. */
async function installMissing(defs: readonly TargetDef[]): Promise<void> {
  const packages = [...new Set((await Promise.all(defs.map(missingPackages))).flatMap((m) => m.packages))];
  if (packages.length === 0) return;
  if (process.getuid?.() !== 0) {
    throw new InfraError(`the host lacks: ${packages.join(', ')}`, `run as root: ${installCommand(packages)}`);
  }
  process.stderr.write(`Installing ${packages.join(', ')}\n`);
  await apt(['update', '-qq']);
  await apt(['install', '-y', '-qq', '--no-install-recommends', ...packages]);
  // Debian's docker-registry enables a system-wide registry on :5000 with no authentication; tsuite
  // only wants the program (it starts its own registries per run), so that service is turned off.
  if (packages.includes('docker-registry') && existsSync('/run/systemd/system')) {
    await new Promise<void>((resolve) => spawn('systemctl', ['disable', '--now', 'docker-registry'], { stdio: 'inherit' }).on('close', () => resolve()).on('error', () => resolve()));
  }
}

/** Fetches the target's kernel, builds its initramfs, and settles KVM or TCG once for this host. */
async function prepareTarget(name: string, target: TargetDef, progress: Progress): Promise<void> {
  if (target.runner === 'docker') {
    // An existing endpoint: nothing to fetch or boot, only the test images the suite loads into it.
    await buildTestImages(target.arch, progress);
    process.stderr.write(`Ready: npx tsuite run --target ${name} --docker-host <tcp://host:port | unix:///path>  [or DOCKER_HOST]\n`);
    return;
  }
  if (target.runner === 'cri') {
    // An existing runtime: the suite pulls its images from the registry tsuite starts, built here.
    await buildTestImages(target.arch, progress);
    process.stderr.write(`Ready: npx tsuite run --target ${name} --cri-endpoint <unix:///path | tcp://host:port>\n`);
    return;
  }
  if (target.runner === 'local') {
    // This host itself: nothing to fetch or boot; the probes the agent-based suites run here are built now.
    await buildProbes(target.arch as ProbeArch, progress);
    process.stderr.write(`Ready: npx tsuite run --target ${name}  [this host, no machine booted; --allow-destructive for tests that change it]\n`);
    return;
  }
  const profile = profileFor(target.arch);
  // A foreign-arch reference guest has its own package lists in the cache; keep them fresh.
  if (target.kernel === 'reference') await refreshReferenceLists(profile, progress);
  // `apt-get download` needs package lists; a fresh container may have none yet.
  const boot = await resolveBoot(target, profile, progress).catch(async (err: unknown) => {
    if (!(err instanceof InfraError) || process.getuid?.() !== 0 || !/apt/.test(err.message)) throw err;
    await apt(['update', '-qq']);
    return resolveBoot(target, profile, progress);
  });
  // The syscall and isolation probes and the benchmarks for this arch, so a run only copies them into the guest.
  if (target.agent) {
    await buildProbes(profile.arch as ProbeArch, progress);
    await buildBench(profile.arch as ProbeArch, progress);
  }
  if (target.docker) await buildTestImages(target.arch, progress);
  const choice = await chooseAccel('auto', profile);
  let accel = `${choice.accel} (${choice.reason})`;
  if (choice.tentative) {
    const verdict = await progress.step('Checking whether KVM really runs a guest here', () => probeKvm(profile, boot.kernel.path));
    await recordKvmVerdict(profile, verdict.usable, verdict.reason);
    accel = `${verdict.usable ? 'kvm' : 'tcg'} (${verdict.reason})`;
  }
  process.stderr.write(`Ready: npx tsuite run --target ${name}  [accelerator: ${accel}]\n`);
}
