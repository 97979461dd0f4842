import { UsageError } from '../src/core/errors.js';
import type { Runner } from '../src/core/runner.js';
import type { CloudProvider } from './cloud/cloud-provider.js';
import { CLOUD_PROVIDERS, isCloudRunner, type CloudProviderName, type TargetDef } from '../src/core/target.js';
import { qemuRunner } from './qemu/qemu-runner.js';

type ProviderModule = (def: TargetDef) => CloudProvider & { close(): Promise<void> };

/**
 * Every runner but QEMU's is loaded when it is first used. The cloud SDKs take seconds to import
 * (@google-cloud/compute alone about 3 s on a 2-core host), and ssh2 a few hundred ms; the docker,
 * cri and local runners bring their engines' clients: a QEMU run pays for none of them before its
 * machine starts.
 */
function lazyRunner(name: string, load: () => Promise<Runner>): Runner {
  return {
    name,
    provision: async (request, signal) => (await load()).provision(request, signal),
    sweepOrphans: async () => (await (await load()).sweepOrphans?.()) ?? [],
  };
}

export const runners: Readonly<Record<string, Runner>> = Object.freeze({
  qemu: qemuRunner,
  docker: lazyRunner('docker', async () => (await import('./docker/docker-runner.js')).dockerRunner),
  cri: lazyRunner('cri', async () => (await import('./cri/cri-runner.js')).criRunner),
  gcp: lazyRunner('gcp', async () => (await import('./gcp/gcp-runner.js')).gcpRunner),
  aws: lazyRunner('aws', async () => (await import('./aws/aws-runner.js')).awsRunner),
  azure: lazyRunner('azure', async () => (await import('./azure/azure-runner.js')).azureRunner),
  local: lazyRunner('local', async () => (await import('./local/local-runner.js')).localRunner),
  ssh: lazyRunner('ssh', async () => (await import('./ssh/ssh-runner.js')).sshRunner),
});

/** Each cloud provider's module, from a target's settings, loaded on first use (see {@link lazyRunner}). */
const cloudProviders: Readonly<Record<CloudProviderName, () => Promise<ProviderModule>>> = {
  gcp: async () => (await import('./gcp/gcp-provider.js')).gcpProvider,
  aws: async () => (await import('./aws/aws-provider.js')).awsProvider,
  azure: async () => (await import('./azure/azure-provider.js')).azureProvider,
};

export function runnerFor(name: string): Runner {
  const r = runners[name];
  if (!r) throw new UsageError(`unknown runner '${name}'`, `use one of: ${Object.keys(runners).join(', ')}`);
  return r;
}

/** The provider module of a cloud target, for commands that manage its account (`tsuite cloud gc|ls`). */
export async function cloudProviderFor(name: string, def: TargetDef): Promise<CloudProvider & { close(): Promise<void> }> {
  if (!isCloudRunner(def.runner)) throw new UsageError(`target '${name}' is not a cloud target (runner ${def.runner})`, `use a target whose runner is ${CLOUD_PROVIDERS.join(', ')} from tsuite.config.ts`);
  return (await cloudProviders[def.runner]())(def);
}
