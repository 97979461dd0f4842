import type { protos } from '@google-cloud/compute';
import type { AcceleratorDef } from '../../src/core/accelerator.js';
import type { GcpTargetSettings } from '../../src/core/target.js';
import { gcpGuestAccelerators } from './gcp-accelerator.js';

export interface GcpInstanceRequest {
  name: string;
  labels: Record<string, string>;
  /** The imported image's name (global/images/<name>). */
  image: string;
  zone: string;
  machineType: string;
  settings: Pick<GcpTargetSettings, 'network' | 'subnetwork'>;
  accelerator?: AcceleratorDef;
}

/** The body of instances.insert for a test instance: pure, so what tsuite asks GCE for is unit-tested. */
export function gcpInstanceResource(r: GcpInstanceRequest): protos.google.cloud.compute.v1.IInstance {
  const nic: protos.google.cloud.compute.v1.INetworkInterface = { network: `global/networks/${r.settings.network ?? 'default'}` };
  if (r.settings.subnetwork) nic.subnetwork = `regions/${r.zone.replace(/-[a-z]$/, '')}/subnetworks/${r.settings.subnetwork}`;
  const guestAccelerators = gcpGuestAccelerators(r.zone, r.machineType, r.accelerator);
  return {
    name: r.name, labels: r.labels,
    machineType: `zones/${r.zone}/machineTypes/${r.machineType}`,
    disks: [{ boot: true, autoDelete: true, type: 'PERSISTENT', initializeParams: { sourceImage: `global/images/${r.image}`, labels: r.labels } }],
    // No accessConfigs: no external IP. No service account: the kernel under test gets no cloud credentials.
    networkInterfaces: [nic],
    serviceAccounts: [],
    metadata: { items: [{ key: 'serial-port-enable', value: 'TRUE' }] },
    // tsuite's GRUB is not signed for Secure Boot; a crash must stay down, not loop.
    shieldedInstanceConfig: { enableSecureBoot: false },
    ...(guestAccelerators.length > 0 && { guestAccelerators }),
    // TERMINATE: a crash stays down; and an instance with GPUs cannot live-migrate, so GCE requires it there.
    scheduling: { automaticRestart: false, onHostMaintenance: 'TERMINATE' },
  };
}
