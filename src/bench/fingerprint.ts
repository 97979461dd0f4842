/**
 * Identities that decide what may be compared: the machine fingerprint (history rows from
 * different fingerprints are never compared: a TCG run on one CPU says nothing about KVM on
 * another) and the kernel identity (which binary, initrd and command line were measured).
 */

import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import os from 'node:os';
import { InfraError } from '../core/errors.js';
import type { KernelInfo } from '../core/result.js';
import type { BenchClock } from './clock.js';
import type { Fingerprint, KernelIdentity } from './model.js';

/** JSON with object keys sorted at every level, so equal values always hash the same. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return v;
  });
}

const shortHash = (h: Hash) => h.digest('hex').slice(0, 12);

export function machineFingerprint(input: Omit<Fingerprint, 'id'>): Fingerprint {
  // Only the known fields: an `id` or any extra key passed along at runtime must not change the hash.
  const fields: Omit<Fingerprint, 'id'> = {
    cpuModel: input.cpuModel,
    cores: input.cores,
    accel: input.accel,
    qemuVersion: input.qemuVersion,
    runner: input.runner,
    instanceType: input.instanceType,
    clock: input.clock,
  };
  return { id: shortHash(createHash('sha256').update(canonicalJson(fields))), ...fields };
}

/** This host's fingerprint. TSUITE_INSTANCE_TYPE names a cloud or CI machine type. */
export function hostFingerprint(accel: Fingerprint['accel'], qemuVersion: string, clock: BenchClock, runner = 'qemu'): Fingerprint {
  const cpuModel = os.cpus()[0]?.model.trim().replace(/\s+/g, ' ') || 'unknown';
  return machineFingerprint({
    cpuModel,
    cores: os.availableParallelism(),
    accel,
    qemuVersion,
    runner,
    instanceType: process.env.TSUITE_INSTANCE_TYPE?.trim() || 'local',
    clock,
  });
}

async function hashFile(hash: Hash, label: string, path: string): Promise<void> {
  const info = await stat(path).catch((err: NodeJS.ErrnoException) => {
    throw new InfraError(`cannot read the ${label} ${path} to identify the kernel: ${err.code ?? err.message}`, `check that ${path} exists and is readable`);
  });
  // Label and length first, so (kernel, initrd) byte streams can never be confused with another split.
  hash.update(`${label}\0${info.size}\0`);
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
}

/**
 * Which kernel was measured: a hash over the kernel's bytes (or the disk image's), the initrd's
 * bytes when there is one, and the command line. Files are streamed: images can be gigabytes.
 */
export async function kernelIdentity(kernel: KernelInfo): Promise<KernelIdentity> {
  const hash = createHash('sha256');
  await hashFile(hash, kernel.source === 'image' ? 'image' : 'kernel', kernel.path);
  if (kernel.initrd) await hashFile(hash, 'initrd', kernel.initrd);
  hash.update(`cmdline\0${kernel.cmdline}`);
  const identity: KernelIdentity = { id: shortHash(hash), source: kernel.source, cmdline: kernel.cmdline };
  const version = kernel.version ?? kernel.revision;
  if (version !== undefined) identity.version = version;
  return identity;
}
