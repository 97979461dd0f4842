import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { canonicalJson, hostFingerprint, kernelIdentity, machineFingerprint } from '../../src/bench/fingerprint.js';
import type { KernelInfo } from '../../src/core/result.js';
import { InfraError } from '../../src/core/errors.js';

const machine = { cpuModel: 'AMD EPYC 7B13', cores: 2, accel: 'tcg', qemuVersion: '7.2.11', runner: 'qemu', instanceType: 'local' } as const;

describe('machineFingerprint', () => {
  it('is a stable 12-hex id over the other fields', () => {
    const fp = machineFingerprint(machine);
    expect(fp.id).toMatch(/^[0-9a-f]{12}$/);
    expect(fp).toEqual({ id: fp.id, ...machine });
    // Key order, a stale id or extra keys do not matter.
    const reordered = { instanceType: 'local', runner: 'qemu', qemuVersion: '7.2.11', accel: 'tcg', cores: 2, cpuModel: 'AMD EPYC 7B13' } as const;
    expect(machineFingerprint(reordered).id).toBe(fp.id);
    expect(machineFingerprint({ ...machine, id: 'old', extra: 1 } as typeof machine).id).toBe(fp.id);
  });

  it('changes with every field', () => {
    const ids = new Set(
      [
        machine,
        { ...machine, cpuModel: 'Intel Xeon' },
        { ...machine, cores: 4 },
        { ...machine, accel: 'kvm' as const },
        { ...machine, qemuVersion: '8.2.0' },
        { ...machine, runner: 'gcp' },
        { ...machine, instanceType: 'n2-standard-4' },
      ].map((m) => machineFingerprint(m).id),
    );
    expect(ids.size).toBe(7);
  });

  it('hashes canonical JSON', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: 2 }], c: 3 } })).toBe('{"a":{"c":3,"d":[2,{"y":2,"z":1}]},"b":1}');
  });
});

describe('hostFingerprint', () => {
  afterEach(() => vi.unstubAllEnvs());

  it("describes this host, with the instance type from TSUITE_INSTANCE_TYPE or 'local'", () => {
    vi.stubEnv('TSUITE_INSTANCE_TYPE', '');
    const fp = hostFingerprint('tcg', '7.2.11', 'instructions');
    expect(fp.cpuModel).toBe(os.cpus()[0]?.model.trim().replace(/\s+/g, ' ') || 'unknown');
    expect(fp.cores).toBe(os.availableParallelism());
    expect(fp).toMatchObject({ accel: 'tcg', qemuVersion: '7.2.11', runner: 'qemu', instanceType: 'local', clock: 'instructions' });
    // The same machine in the other clock mode is another fingerprint: its rows are never compared.
    expect(hostFingerprint('tcg', '7.2.11', 'time').id).not.toBe(fp.id);
    expect(fp.id).toBe(machineFingerprint({ ...fp }).id);
    vi.stubEnv('TSUITE_INSTANCE_TYPE', 'c3-standard-4');
    const cloud = hostFingerprint('kvm', 'none', 'time', 'gcp');
    expect(cloud).toMatchObject({ instanceType: 'c3-standard-4', runner: 'gcp', accel: 'kvm' });
    expect(cloud.id).not.toBe(fp.id);
  });
});

describe('kernelIdentity', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tsuite-kid-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function kernel(kernelBytes: string, initrdBytes?: string, cmdline = 'console=ttyS0'): Promise<KernelInfo> {
    const path = join(dir, `k-${Math.random()}`);
    await writeFile(path, kernelBytes);
    const info: KernelInfo = { path, source: 'file', cmdline };
    if (initrdBytes !== undefined) {
      info.initrd = join(dir, `i-${Math.random()}`);
      await writeFile(info.initrd, initrdBytes);
    }
    return info;
  }

  it('hashes the bytes of kernel and initrd and the command line, not the paths', async () => {
    const base = await kernelIdentity(await kernel('KERNEL', 'INITRD'));
    expect(base).toEqual({ id: expect.stringMatching(/^[0-9a-f]{12}$/), source: 'file', cmdline: 'console=ttyS0' });
    expect((await kernelIdentity(await kernel('KERNEL', 'INITRD'))).id).toBe(base.id);
    const others = await Promise.all([
      kernel('KERNEl', 'INITRD'),
      kernel('KERNEL', 'INITRd'),
      kernel('KERNEL', 'INITRD', 'console=ttyS0 quiet'),
      kernel('KERNEL'),
      kernel('KERNELI', 'NITRD'), // the same bytes split differently
    ]);
    for (const k of others) expect((await kernelIdentity(k)).id).not.toBe(base.id);
  });

  it('keeps the version or source revision', async () => {
    const k = await kernel('K');
    expect((await kernelIdentity({ ...k, source: 'debian-package', version: '6.1.0-28-cloud-amd64' })).version).toBe('6.1.0-28-cloud-amd64');
    expect((await kernelIdentity({ ...k, source: 'source', revision: 'abc123+dirty.ff' })).version).toBe('abc123+dirty.ff');
  });

  it('names the missing file', async () => {
    const err = await kernelIdentity({ path: join(dir, 'nope'), source: 'file', cmdline: '' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InfraError);
    expect((err as InfraError).message).toMatch(/nope/);
  });
});
