import { ComputeManagementClient } from '@azure/arm-compute';
import { NetworkManagementClient } from '@azure/arm-network';
import { ResourceManagementClient } from '@azure/arm-resources';
import { DefaultAzureCredential } from '@azure/identity';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import type { AzureTargetSettings } from '../../src/core/target.js';

export interface AzureClients {
  credential: DefaultAzureCredential;
  /** The token scope Resource Manager accepts at the configured endpoint. */
  armScope: string;
  compute: ComputeManagementClient;
  network: NetworkManagementClient;
  resources: ResourceManagementClient;
  container: ContainerClient;
}

const PUBLIC_ARM_SCOPE = 'https://management.azure.com/.default';
/** Sovereign clouds' Resource Manager hosts: each accepts tokens for its own endpoint. */
const SOVEREIGN_ARM = /\.(usgovcloudapi\.net|chinacloudapi\.cn)$/;

/**
 * Microsoft's official clients. Credentials come from DefaultAzureCredential's chain (environment
 * variables, workload identity federation in CI, managed identity, the az CLI's login): tsuite
 * never reads or holds a credential itself. Endpoints in the target (a sovereign cloud, a private
 * endpoint, or the test stand-in) replace the public cloud's.
 */
export function azureClients(settings: AzureTargetSettings & { subscriptionId: string; storageAccount: string; container: string }): AzureClients {
  // A configured authority is trusted as given: MSAL's instance discovery knows only Microsoft's hosts.
  const credential = new DefaultAzureCredential(settings.authorityHost ? { authorityHost: settings.authorityHost, disableInstanceDiscovery: true } : {});
  const arm = settings.armEndpoint?.replace(/\/$/, '');
  const scope = arm && SOVEREIGN_ARM.test(new URL(arm).hostname) ? `${arm}/.default` : PUBLIC_ARM_SCOPE;
  const blobEndpoint = (settings.blobEndpoint ?? `https://${settings.storageAccount}.blob.core.windows.net`).replace(/\/$/, '');
  return {
    credential,
    armScope: scope,
    // arm-compute 24 is generated from TypeSpec: its options name the endpoint and scopes differently.
    compute: new ComputeManagementClient(credential, settings.subscriptionId, { ...(arm ? { endpoint: arm } : {}), credentials: { scopes: [scope] } }),
    network: new NetworkManagementClient(credential, settings.subscriptionId, { ...(arm ? { endpoint: arm } : {}), credentialScopes: [scope] }),
    resources: new ResourceManagementClient(credential, settings.subscriptionId, { ...(arm ? { endpoint: arm } : {}), credentialScopes: [scope] }),
    container: new BlobServiceClient(blobEndpoint, credential).getContainerClient(settings.container),
  };
}
