import { Command } from 'commander';
import { join } from 'node:path';
import { cacheDir } from '../../core/paths.js';
import { findTarget } from '../../core/target.js';
import { hostRequirements, installCommand } from '../host-check.js';
import { profileFor } from '../../../runners/qemu/profiles/index.js';
import { chooseAccel, probeKvm, qemuVersion } from '../../../runners/qemu/accel.js';
import { cachedDebianKernels } from '../../../kernel/reference/debian-kernel.js';

export function doctorCommand(): Command {
  return new Command('doctor')
    .description('show what the host has or lacks (QEMU, firmware, busybox, kernel cache, KVM), with the fix for each')
    .option('-t, --target <name>', 'target to check for', 'qemu-x86')
    .action(async (flags: { target: string }) => {
      const profile = profileFor(findTarget(flags.target).arch);
      // `!` marks what works but could be better (TCG instead of KVM); `✗` what must be fixed.
      const line = (ok: boolean, what: string, fix?: string, mark = '✗') =>
        process.stdout.write(`${ok ? '✓' : mark} ${what}${!ok && fix ? `\n    fix: ${fix}` : ''}\n`);
      let problems = 0;
      for (const req of hostRequirements(profile)) {
        const ok = await req.present();
        if (!ok) problems++;
        line(ok, req.what, installCommand([req.debianPackage]));
      }
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
      process.stdout.write(problems ? `\n${problems} problem(s): run \`npx tsuite setup\` to fix them.\n` : '\nThe host is ready.\n');
      process.exitCode = problems ? 3 : 0;
    });
}
