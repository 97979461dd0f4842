import { Command } from 'commander';
import { BUILT_IN_TARGETS, findTarget, isCloudRunner } from '../../core/target.js';
import { loadContext } from '../load-context.js';
import { cloudProviderFor } from '../../../runners/index.js';
import { describePlace } from '../../../runners/cloud/cloud-provider.js';

export function targetsCommand(): Command {
  return new Command('targets')
    .description('list the targets: built-in ones and those in tsuite.config.ts')
    .option('-c, --config <file>', 'config file (default: ./tsuite.config.ts if present)')
    .option('--json', 'machine-readable output')
    .action(async (flags: { config?: string; json?: boolean }) => {
      const config = await loadContext(flags.config, {}, 'none');
      const names = [...new Set([...Object.keys(BUILT_IN_TARGETS), ...Object.keys(config.targets)])];
      const targets = names.map((name) => ({ name, builtIn: name in BUILT_IN_TARGETS, ...findTarget(name, config.targets) }));
      if (flags.json) {
        process.stdout.write(JSON.stringify(targets, null, 2) + '\n');
        return;
      }
      for (const t of targets) {
        process.stdout.write(`${t.name}${t.builtIn ? '' : ' (config)'} — ${t.description ?? ''}\n`);
        if (t.runner === 'docker') {
          const host = t.docker?.host ?? (process.env.DOCKER_HOST ? `DOCKER_HOST (${process.env.DOCKER_HOST})` : 'DOCKER_HOST, else unix:///var/run/docker.sock');
          process.stdout.write(`  runner docker, endpoint ${host}${t.docker?.certPath ? `, TLS client certs in ${t.docker.certPath}` : ''}, images for ${t.arch}\n`);
          continue;
        }
        if (t.runner === 'local') {
          process.stdout.write(`  runner local, this host (${t.arch}), kernel log as the console, agent here${t.allowDestructive ? ', destructive tests allowed' : ''}\n`);
          continue;
        }
        if (t.runner === 'ssh') {
          const pin = t.ssh?.hostKeyFingerprint ? `host key pinned to ${t.ssh.hostKeyFingerprint}` : `host key checked against ${t.ssh?.knownHosts ?? '~/.ssh/known_hosts'}`;
          process.stdout.write(`  runner ssh, ${t.ssh?.user}@${t.ssh?.host}:${t.ssh?.port ?? 22} (${t.arch}), ${t.ssh?.privateKey ? `key ${t.ssh.privateKey}` : 'keys of the SSH agent'}, ${pin}; agent over SSH, kernel log as the console${t.allowDestructive ? ', destructive tests allowed' : ''}\n`);
          continue;
        }
        if (t.runner === 'cri') {
          process.stdout.write(`  runner cri, endpoint ${t.cri?.endpoint ?? '--cri-endpoint <unix:///path | tcp://host:port>'}${t.cri?.certPath ? `, TLS material in ${t.cri.certPath}` : ''}, images for ${t.arch}\n`);
          continue;
        }
        const boots = t.image
          ? `image ${t.image} (${t.firmware ?? 'default'} firmware)`
          : t.kernelSrc
            ? `kernel built from ${t.kernelSrc} (${t.kernelArtifact})`
            : `kernel ${t.kernel}, ${t.rootfs ? `rootfs ${t.rootfs}` : `initrd ${t.initrd ?? 'none'}`}`;
        if (isCloudRunner(t.runner)) {
          // Where it creates things, and so spends money, comes first (the provider module says, without calling anyone).
          const provider = await cloudProviderFor(t.name, t);
          const disk = t.image ? `image ${t.image} as it is (raw GPT, UEFI)` : `${boots}, on a UEFI disk tsuite builds`;
          process.stdout.write(`  runner ${t.runner}, ${describePlace(provider.place)}, machine type ${provider.place.machineType}, ` +
            `boots ${disk}, boot timeout ${t.bootTimeoutMs} ms${t.ktap ? ', KTAP on the console' : ''}\n`);
          await provider.close();
          continue;
        }
        const extras = [t.ktap && 'KTAP on the console', t.exitSuccessValue !== undefined && `exit value ${t.exitSuccessValue} = success`,
          t.docker?.port && `Docker Engine API on guest port ${t.docker.port}`, t.cri?.port && `CRI v1 on guest port ${t.cri.port}`].filter(Boolean);
        process.stdout.write(`  runner ${t.runner}, arch ${t.arch}, ${boots}, ${t.cpus} CPUs, ${t.memoryMb} MiB, accel ${t.accel}, boot timeout ${t.bootTimeoutMs} ms${extras.length ? `, ${extras.join(', ')}` : ''}\n`);
      }
    });
}
