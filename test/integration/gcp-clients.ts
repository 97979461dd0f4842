import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { GlobalOperationsClient, ImagesClient, InstancesClient, MachineTypesClient, ZoneOperationsClient, type protos } from '@google-cloud/compute';
import { Storage } from '@google-cloud/storage';
import { buildDisk } from '../../kernel/images/build-disk.js';
import { SGDISK } from '../../kernel/images/requirements.js';
import { resolveBoot } from '../../kernel/resolve-boot.js';
import { profileFor } from '../../runners/qemu/profiles/index.js';
import { createProgress } from '../../src/core/progress.js';
import { findTarget } from '../../src/core/target.js';
import type { GcpStandin } from '../support/gcp-standin/index.js';

/**
 * How a caller drives Google Cloud with the official libraries against the GCP stand-in: the
 * client options, the operation wait loop, the resumable upload recipe, the requests tsuite makes.
 */

export const PROJECT = 'tsuite-standin';
export const ZONE = 'us-central1-a';
export const BUCKET = 'tsuite-images';
const quiet = createProgress(process.stderr, true);

/** The clients a caller builds: endpoint, project, and nothing about auth (that is the env var). */
export function clients(standin: GcpStandin) {
  process.env.GOOGLE_APPLICATION_CREDENTIALS = standin.credentialsFile;
  const compute = { apiEndpoint: '127.0.0.1', port: standin.port, protocol: 'http', projectId: PROJECT };
  return {
    storage: new Storage({ apiEndpoint: standin.url, projectId: PROJECT, useAuthWithCustomEndpoint: true }),
    images: new ImagesClient(compute),
    instances: new InstancesClient(compute),
    machineTypes: new MachineTypesClient(compute),
    zoneOps: new ZoneOperationsClient(compute),
    globalOps: new GlobalOperationsClient(compute),
  };
}
export type Clients = ReturnType<typeof clients>;

export type Op = protos.google.cloud.compute.v1.IOperation;

/** Waits on a zonal or global operation with the library's wait until DONE (each wait may return early). */
export async function waitOp(c: Clients, op: Op, zonal: boolean, rounds = 30): Promise<Op> {
  let at: Op = op;
  for (let i = 0; i < rounds && at.status !== 'DONE'; i++) {
    [at] = zonal
      ? await c.zoneOps.wait({ project: PROJECT, zone: ZONE, operation: op.name! })
      : await c.globalOps.wait({ project: PROJECT, operation: op.name! });
  }
  return at;
}

/** Uploads a file resumably as a caller must against a custom endpoint (see the stand-in README). */
export async function upload(c: Clients, path: string, name: string, opts: { chunkSize?: number; metadata?: Record<string, string> } = {}) {
  const file = c.storage.bucket(BUCKET).file(name);
  // ifGenerationMatch=0 (create only) makes the upload idempotent, so the library may retry a chunk.
  const preconditionOpts = { ifGenerationMatch: 0 };
  const [uri] = await file.createResumableUpload({ preconditionOpts, metadata: { contentType: 'application/gzip', ...(opts.metadata ? { metadata: opts.metadata } : {}) } });
  const [uploaded] = await c.storage.bucket(BUCKET).upload(path, { destination: name, resumable: true, uri, preconditionOpts, ...(opts.chunkSize ? { chunkSize: opts.chunkSize } : {}) });
  return uploaded;
}

/** A GCE image package around a disk buildDisk made: disk.raw grown to 1 GiB, sparse old-GNU tar.gz. */
export async function gcePackage(work: string, append: string, name: string): Promise<string> {
  const { boot } = await resolveBoot(findTarget('qemu-x86'), profileFor('x86_64'), quiet);
  const disk = await buildDisk({ kernel: boot.kernel, initrd: boot.initrd, append }, quiet);
  const dir = mkdtempSync(join(work, `${name}-`));
  execFileSync('cp', ['--sparse=always', disk.path, join(dir, 'disk.raw')]);
  execFileSync('truncate', ['-s', '1G', join(dir, 'disk.raw')]);
  execFileSync(SGDISK, ['-e', join(dir, 'disk.raw')], { stdio: 'ignore' });
  execFileSync('tar', ['--format=oldgnu', '-Sczf', `${name}.tar.gz`, 'disk.raw'], { cwd: dir });
  rmSync(join(dir, 'disk.raw'));
  return join(dir, `${name}.tar.gz`);
}

export const insertImage = (c: Clients, name: string, object: string, uefi = true, labels: Record<string, string> = { 'tsuite-run': 'r1' }) =>
  c.images.insert({
    project: PROJECT,
    imageResource: {
      name,
      rawDisk: { source: `https://storage.googleapis.com/${BUCKET}/${object}` },
      ...(uefi ? { guestOsFeatures: [{ type: 'UEFI_COMPATIBLE' }] } : {}),
      labels,
    },
  });

/** An instance as tsuite launches one: no access config (no external IP), no service account, labels. */
export const insertInstance = (c: Clients, name: string, image: string, labels: Record<string, string>) =>
  c.instances.insert({
    project: PROJECT,
    zone: ZONE,
    instanceResource: {
      name,
      machineType: `zones/${ZONE}/machineTypes/e2-small`,
      disks: [{ boot: true, autoDelete: true, initializeParams: { sourceImage: `global/images/${image}` } }],
      networkInterfaces: [{ network: 'global/networks/default' }],
      serviceAccounts: [],
      labels,
      metadata: { items: [{ key: 'serial-port-logging-enable', value: 'true' }] },
    },
  });

