import { GlobalOperationsClient, ImagesClient, InstancesClient, MachineTypesClient, ZoneOperationsClient } from '@google-cloud/compute';
import { Storage } from '@google-cloud/storage';
import type { GcpTargetSettings } from '../../src/core/target.js';

export interface GcpClients {
  images: ImagesClient;
  instances: InstancesClient;
  machineTypes: MachineTypesClient;
  zoneOperations: ZoneOperationsClient;
  globalOperations: GlobalOperationsClient;
  storage: Storage;
  close(): Promise<void>;
}

/**
 * Google's official clients. Credentials come from the standard chain the libraries implement
 * (GOOGLE_APPLICATION_CREDENTIALS, gcloud's application default credentials, workload identity
 * federation in CI, the metadata server on GCE): tsuite never reads or holds a credential itself.
 * An endpoint in the target (a private endpoint, or the test stand-in) replaces Google's.
 */
export function gcpClients(settings: GcpTargetSettings & { project: string }): GcpClients {
  const compute = settings.computeEndpoint ? endpointOptions(settings.computeEndpoint) : {};
  // The project is always named in each call; saying it here keeps the libraries from looking it up.
  const common = { projectId: settings.project, ...compute };
  const clients = {
    images: new ImagesClient(common),
    instances: new InstancesClient(common),
    machineTypes: new MachineTypesClient(common),
    zoneOperations: new ZoneOperationsClient(common),
    globalOperations: new GlobalOperationsClient(common),
    // Another endpoint gets the credentials too (the library sends none to a non-Google host unless told).
    storage: new Storage({ projectId: settings.project, ...(settings.storageEndpoint ? { apiEndpoint: settings.storageEndpoint.replace(/\/$/, ''), useAuthWithCustomEndpoint: true } : {}) }),
  };
  return {
    ...clients,
    async close() {
      await Promise.all([clients.images.close(), clients.instances.close(), clients.machineTypes.close(), clients.zoneOperations.close(), clients.globalOperations.close()]).catch(() => undefined);
    },
  };
}

/** Compute's REST transport takes host, port and protocol apart. */
function endpointOptions(url: string): { apiEndpoint: string; port: number; protocol: string } {
  const u = new URL(url);
  const protocol = u.protocol.replace(':', '');
  return { apiEndpoint: u.hostname, port: Number(u.port || (protocol === 'https' ? 443 : 80)), protocol };
}
