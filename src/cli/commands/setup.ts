import { Command } from 'commander';
import { spawn } from 'node:child_process';
import { InfraError } from '../../core/errors.js';
import { createProgress } from '../../core/progress.js';
import { findTarget } from '../../core/target.js';
import { resolveBoot } from '../../../kernel/resolve-boot.js';
import { refreshReferenceLists } from '../../../kernel/reference/reference-guest.js';
import { profileFor } from '../../../runners/qemu/profiles/index.js';
import { chooseAccel, probeKvm, recordKvmVerdict } from '../../../runners/qemu/accel.js';
import { installCommand, missingPackages } from '../host-check.js';

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
    .description('install what the host lacks (as root), fetch the reference kernel and build the initramfs; a second run does nothing')
    .option('-t, --target <name>', 'target to prepare', 'qemu-x86')
    .action(async (flags: { target: string }) => {
      const profile = profileFor(findTarget(flags.target).arch);
      const progress = createProgress();
      const { packages } = await missingPackages(profile);
      if (packages.length > 0) {
        if (process.getuid?.() !== 0) {
          throw new InfraError(`the host lacks: ${packages.join(', ')}`, `run as root: ${installCommand(packages)}`);
        }
        process.stderr.write(`Installing ${packages.join(', ')}\n`);
        await apt(['update', '-qq']);
        await apt(['install', '-y', '-qq', '--no-install-recommends', ...packages]);
      }
      // `apt-get download` needs package lists; a fresh container may have none yet.
      const target = findTarget(flags.target);
      // A foreign-arch reference guest has its own package lists in the cache; keep them fresh.
      if (target.kernel === 'reference') await refreshReferenceLists(profile, progress);
      const boot = await resolveBoot(target, profile, progress).catch(async (err: unknown) => {
        if (!(err instanceof InfraError) || process.getuid?.() !== 0 || !/apt/.test(err.message)) throw err;
        await apt(['update', '-qq']);
        return resolveBoot(target, profile, progress);
      });
      const choice = await chooseAccel('auto', profile);
      if (choice.tentative) {
        const verdict = await progress.step('Checking whether KVM really runs a guest here', () => probeKvm(profile, boot.kernel.path));
        await recordKvmVerdict(profile, verdict.usable, verdict.reason);
        process.stderr.write(`Accelerator: ${verdict.usable ? 'kvm' : 'tcg'} (${verdict.reason})\n`);
      } else {
        process.stderr.write(`Accelerator: ${choice.accel} (${choice.reason})\n`);
      }
      process.stderr.write(`Ready: npx tsuite run --target ${flags.target}\n`);
    });
}
