import { UsageError } from '../src/core/errors.js';
import type { Runner } from '../src/core/runner.js';
import { criRunner } from './cri/cri-runner.js';
import { dockerRunner } from './docker/docker-runner.js';
import { awsProvider } from './aws/aws-provider.js';
import { awsRunner } from './aws/aws-runner.js';
import { azureProvider } from './azure/azure-provider.js';
import { azureRunner } from './azure/azure-runner.js';
import { gcpRunner } from './gcp/gcp-runner.js';
import { gcpProvider } from './gcp/gcp-provider.js';
import type { CloudProvider } from './cloud/cloud-provider.js';
import { CLOUD_PROVIDERS, isCloudRunner, type CloudProviderName, type TargetDef } from '../src/core/target.js';
import { qemuRunner } from './qemu/qemu-runner.js';
import { localRunner } from './local/local-runner.js';

export const runners: Readonly<Record<string, Runner>> = Object.freeze({ qemu: qemuRunner, docker: dockerRunner, cri: criRunner, gcp: gcpRunner, aws: awsRunner, azure: azureRunner, local: localRunner });

/** Each cloud provider's module, from a target's settings. */
const cloudProviders: Readonly<Record<CloudProviderName, (def: TargetDef) => CloudProvider & { close(): Promise<void> }>> = { gcp: gcpProvider, aws: awsProvider, azure: azureProvider };

export function runnerFor(name: string): Runner {
  const r = runners[name];
  if (!r) throw new UsageError(`unknown runner '${name}'`, `use one of: ${Object.keys(runners).join(', ')}`);
  return r;
}

/** The provider module of a cloud target, for commands that manage its account (`tsuite cloud gc|ls`). */
export function cloudProviderFor(name: string, def: TargetDef): CloudProvider & { close(): Promise<void> } {
  if (!isCloudRunner(def.runner)) throw new UsageError(`target '${name}' is not a cloud target (runner ${def.runner})`, `use a target whose runner is ${CLOUD_PROVIDERS.join(', ')} from tsuite.config.ts`);
  return cloudProviders[def.runner](def);
}
