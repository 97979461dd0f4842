import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load-config.js';
import { AWS_DEFAULT_INSTANCE_TYPE } from '../../runners/aws/aws-provider.js';
import { AZURE_DEFAULT_VM_SIZE } from '../../runners/azure/azure-provider.js';
import { DEFAULT_INSTANCE_TYPES } from '../../runners/cloud/cloud-accelerator.js';
import { GCP_DEFAULT_MACHINE_TYPE, GcpProvider } from '../../runners/gcp/gcp-provider.js';
import { gcpInstanceResource } from '../../runners/gcp/gcp-instance.js';
import { FaultSwitch } from '../support/gcp-standin/faults.js';
import { HttpFailure } from '../support/gcp-standin/google-errors.js';
import type { ImageStore } from '../support/gcp-standin/images.js';
import { InstanceStore } from '../support/gcp-standin/instances.js';
import { ComputeLinks } from '../support/gcp-standin/links.js';

/** `accelerator` on cloud targets: config validation per provider, and GCP's instances.insert body. */

const known = { knownSuites: ['boot'], knownReporters: ['console'] };
const gcp = (extra: object = {}) => ({ project: 'p', zone: 'us-central1-a', bucket: 'b', ...extra });
const aws = (extra: object = {}) => ({ region: 'us-east-1', bucket: 'bucket-b', subnetId: 'subnet-0abc', ...extra });
const azure = (extra: object = {}) => ({
  subscriptionId: '00000000-0000-0000-0000-000000000000', location: 'westeurope', storageAccount: 'mystaging', container: 'tsuite',
  subnetId: '/subscriptions/x/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/vnet/subnets/default', ...extra,
});
const check = (target: object) => validateConfig({ targets: { t: target } }, known);
const one = (target: object) => {
  const found = check(target);
  expect(found).toHaveLength(1);
  return found[0]!;
};

describe('accelerator in the config', () => {
  it('accepts each provider\'s matching GPU machine', () => {
    expect(check({ runner: 'gcp', gcp: gcp({ machineType: 'n1-standard-8' }), accelerator: { type: 'nvidia-t4', count: 2 } })).toEqual([]);
    expect(check({ runner: 'gcp', gcp: gcp({ machineType: 'g2-standard-24' }), accelerator: { count: 2 } })).toEqual([]);
    expect(check({ runner: 'gcp', gcp: gcp({ machineType: 'a2-highgpu-1g' }), accelerator: { type: 'nvidia-a100-40gb', count: 1 } })).toEqual([]);
    expect(check({ runner: 'aws', aws: aws({ instanceType: 'g6.xlarge' }), accelerator: { type: 'nvidia-l4', count: 1 } })).toEqual([]);
    expect(check({ runner: 'aws', aws: aws({ instanceType: 'p4d.24xlarge' }), accelerator: { count: 8 } })).toEqual([]);
    expect(check({ runner: 'azure', azure: azure({ vmSize: 'standard_nc4as_t4_v3' }), accelerator: { type: 'nvidia-t4', count: 1 } })).toEqual([]);
    // A GPU machine type without accelerator is fine: its GPUs come with it, unchecked.
    expect(check({ runner: 'gcp', gcp: gcp({ machineType: 'a3-highgpu-8g' }) })).toEqual([]);
  });

  it('GCP: the default e2 machine has no GPUs, and the fix names machine types that do', () => {
    const p = one({ runner: 'gcp', gcp: gcp(), accelerator: { type: 'nvidia-l4', count: 1 } });
    expect(p).toMatchObject({ path: 'targets.t.gcp.machineType', message: 'e2-small has no GPU tsuite knows of, yet accelerator asks for 1 × nvidia-l4' });
    expect(p.fix).toMatch(/^use g2-standard-4, g2-standard-8/);
  });

  it('GCP: an accelerator-optimized type with another count or type', () => {
    expect(one({ runner: 'gcp', gcp: gcp({ machineType: 'a2-highgpu-1g' }), accelerator: { count: 2 } })).toMatchObject({
      path: 'targets.t.accelerator.count', message: 'a2-highgpu-1g has 1 × nvidia-a100-40gb, not 2', fix: 'use a2-highgpu-2g; or set count: 1',
    });
    expect(one({ runner: 'gcp', gcp: gcp({ machineType: 'g2-standard-4' }), accelerator: { type: 'nvidia-t4', count: 1 } })).toMatchObject({
      path: 'targets.t.accelerator.type', message: 'g2-standard-4 has 1 × nvidia-l4, not nvidia-t4',
    });
  });

  it('GCP N1: the type must be named, attachable to N1, in a count N1 takes', () => {
    expect(one({ runner: 'gcp', gcp: gcp({ machineType: 'n1-standard-4' }), accelerator: { count: 1 } }).path).toBe('targets.t.accelerator.type');
    expect(one({ runner: 'gcp', gcp: gcp({ machineType: 'n1-standard-4' }), accelerator: { type: 'nvidia-l4', count: 1 } })).toMatchObject({
      path: 'targets.t.accelerator.type', fix: "set gcp.machineType: 'g2-standard-4' (1 × nvidia-l4)",
    });
    expect(one({ runner: 'gcp', gcp: gcp({ machineType: 'n1-standard-4' }), accelerator: { type: 'nvidia-t4', count: 3 } })).toMatchObject({
      path: 'targets.t.accelerator.count', message: 'an N1 machine takes 1, 2, 4 × nvidia-t4, not 3',
    });
  });

  it('AWS: a non-GPU instance type, a wrong count, a wrong GPU', () => {
    expect(one({ runner: 'aws', aws: aws(), accelerator: { count: 1 } })).toMatchObject({ path: 'targets.t.aws.instanceType', message: 't3.small has no GPU tsuite knows of, yet accelerator asks for 1 × GPU' });
    expect(one({ runner: 'aws', aws: aws({ instanceType: 'g5.xlarge' }), accelerator: { count: 4 } })).toMatchObject({ path: 'targets.t.accelerator.count', fix: 'use g5.12xlarge, g5.24xlarge; or set count: 1' });
    expect(one({ runner: 'aws', aws: aws({ instanceType: 'p5.48xlarge' }), accelerator: { type: 'nvidia-a100-80gb', count: 8 } })).toMatchObject({ path: 'targets.t.accelerator.type', fix: "use p4de.24xlarge; or set type: 'nvidia-h100'" });
  });

  it('Azure: a size that is not a whole-GPU N-series size, and a wrong count', () => {
    expect(one({ runner: 'azure', azure: azure(), accelerator: { type: 'nvidia-t4', count: 1 } })).toMatchObject({ path: 'targets.t.azure.vmSize', fix: expect.stringMatching(/^use Standard_NC4as_T4_v3/) });
    expect(one({ runner: 'azure', azure: azure({ vmSize: 'Standard_NV6ads_A10_v5' }), accelerator: { type: 'nvidia-a10', count: 1 } }).message).toMatch(/Standard_NV6ads_A10_v5 has no GPU/);
    expect(one({ runner: 'azure', azure: azure({ vmSize: 'Standard_ND96asr_v4' }), accelerator: { count: 4 } }).path).toBe('targets.t.accelerator.count');
  });

  it('refuses it on a QEMU target, and a bad shape with the accelerator\'s own fix', () => {
    expect(one({ runner: 'qemu', arch: 'x86_64', kernel: 'k', accelerator: { count: 1 } })).toMatchObject({ path: 'targets.t.accelerator', fix: expect.stringContaining('hostDevices') });
    const bad = check({ runner: 'gcp', gcp: gcp(), accelerator: { type: 'nvidia-k80', count: 0 } });
    expect(bad.map((p) => p.path).sort()).toEqual(['targets.t.accelerator.count', 'targets.t.accelerator.type']);
    expect(bad.every((p) => p.fix?.startsWith('accelerator: {') || p.fix?.startsWith('count:'))).toBe(true);
  });

  it('a QEMU machine with host devices on pc is refused with its path', () => {
    const found = validateConfig({ targets: { 'qemu-x86': { machine: { type: 'pc', hostDevices: ['0000:01:00.0'] } } } }, known);
    expect(found).toEqual([expect.objectContaining({ path: 'targets.qemu-x86.machine.hostDevices', fix: expect.stringContaining('q35') })]);
  });

  it('the default instance types repeated for validation are the providers\' own', () => {
    expect(DEFAULT_INSTANCE_TYPES).toEqual({ gcp: GCP_DEFAULT_MACHINE_TYPE, aws: AWS_DEFAULT_INSTANCE_TYPE, azure: AZURE_DEFAULT_VM_SIZE });
  });
});

describe('GCP instances.insert', () => {
  const base = { name: 'tsuite-x', labels: { run: 'r' }, image: 'img', zone: 'us-central1-a', settings: {} };

  it('carries guestAccelerators for an N1 machine with attached GPUs, with onHostMaintenance TERMINATE', () => {
    const body = gcpInstanceResource({ ...base, machineType: 'n1-standard-8', accelerator: { type: 'nvidia-t4', count: 2 } });
    expect(body.guestAccelerators).toEqual([{ acceleratorType: 'zones/us-central1-a/acceleratorTypes/nvidia-tesla-t4', acceleratorCount: 2 }]);
    expect(body.scheduling).toEqual({ automaticRestart: false, onHostMaintenance: 'TERMINATE' });
  });

  it('sends none for an accelerator-optimized machine (its GPUs come with it) or without an accelerator', () => {
    expect(gcpInstanceResource({ ...base, machineType: 'g2-standard-4', accelerator: { type: 'nvidia-l4', count: 1 } }).guestAccelerators).toBeUndefined();
    expect(gcpInstanceResource({ ...base, machineType: 'e2-small' }).guestAccelerators).toBeUndefined();
  });

  it('names the attached GPUs in the machine the results record', () => {
    const p = new GcpProvider(gcp({ machineType: 'n1-standard-8' }), undefined, { type: 'nvidia-v100', count: 1 });
    expect(p.place.machineType).toBe('n1-standard-8 + 1 × nvidia-v100');
    expect(new GcpProvider(gcp({ machineType: 'a2-highgpu-1g' }), undefined, { count: 1 }).place.machineType).toBe('a2-highgpu-1g');
  });

  it('the stand-in records them, and refuses them with MIGRATE or a type outside the zone, as GCE does', () => {
    const links = new ComputeLinks('p');
    const image = { resource: { status: 'READY', selfLink: 'x', guestOsFeatures: [], diskSizeGb: '1', architecture: 'X86_64' } };
    const images = { get: () => image } as unknown as ImageStore;
    const store = new InstanceStore(links, images, new FaultSwitch(), { dir: '/tmp/unused', memoryMb: 128, ownerTag: 'x' });
    const insert = (name: string, extra: object) => store.create('us-central1-a', { ...gcpInstanceResource({ ...base, name, machineType: 'n1-standard-8', accelerator: { type: 'nvidia-t4', count: 1 } }), ...extra });
    const { record } = insert('tsuite-a', {});
    expect(record.resource.guestAccelerators).toEqual([{ acceleratorType: links.absolute('zones/us-central1-a/acceleratorTypes/nvidia-tesla-t4'), acceleratorCount: 1 }]);
    expect(() => insert('tsuite-b', { scheduling: { onHostMaintenance: 'MIGRATE' } })).toThrow(HttpFailure);
    expect(() => insert('tsuite-c', { guestAccelerators: [{ acceleratorType: 'zones/europe-west1-b/acceleratorTypes/nvidia-tesla-t4', acceleratorCount: 1 }] })).toThrow(/must be in zone us-central1-a/);
  });
});
