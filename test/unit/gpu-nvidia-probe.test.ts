import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exec } from '../../src/core/exec.js';
import { onPath } from '../../src/core/host-requirement.js';
import { parseKtapAll, type KtapTest } from '../../src/parsers/ktap.js';
import { buildNvidiaProbes, nvidiaSources } from '../../kernel/probes/build-probes.js';
import { parseNvidiaFacts } from '../../suites/gpu/nvidia-facts.js';

/**
 * The NVIDIA stack probes (fixtures/gpu/nvidia) built with tsuite's own build and run on this
 * host, which has no NVIDIA GPU: every program skips with the layer's one reason. Then, through
 * the probes' testing hooks (TSUITE_FS_ROOT, TSUITE_NVML_LIB, TSUITE_CUDA_LIB), a planted NVIDIA
 * function shows the "device present" paths: no driver and no libraries are then FAILURES.
 * No NVML or CUDA result is faked anywhere: the libraries are simply absent.
 */
const NO_DEVICE = 'no NVIDIA device on this machine';
const PROGRAMS = ['nvidia-cuda', 'nvidia-driver', 'nvidia-nvml', 'nvidia-pci'];
const canRun = process.arch === 'x64' && onPath('gcc');
const isRoot = process.getuid?.() === 0;
const ABSENT_LIBS = { TSUITE_NVML_LIB: 'libtsuite-absent-nvml.so.1', TSUITE_CUDA_LIB: 'libtsuite-absent-cuda.so.1' };

interface Run {
  code: number | null;
  stdout: string;
  top: KtapTest;
  /** Behaviour name -> its test (status, diagnostics). */
  b: Map<string, KtapTest>;
}

function hostHasNvidia(): boolean {
  const dir = '/sys/bus/pci/devices';
  if (!existsSync(dir)) return false;
  return readdirSync(dir).some((d) => {
    try {
      return readFileSync(join(dir, d, 'vendor'), 'utf8').trim() === '0x10de';
    } catch {
      return false;
    }
  });
}

async function put(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, text);
}

/** A fake `/` holding one NVIDIA GPU at 0000:3b:00.0 (plus its HDMI audio function and an Intel bridge). */
async function plantGpu(root: string, opts: { bar0?: boolean; driver?: string; iommu?: 'lists' | 'empty' } = {}): Promise<void> {
  const dev = join(root, 'sys/bus/pci/devices');
  const fn = (bdf: string, vendor: string, device: string, cls: string) =>
    Promise.all([put(join(dev, bdf, 'vendor'), `${vendor}\n`), put(join(dev, bdf, 'device'), `${device}\n`), put(join(dev, bdf, 'class'), `${cls}\n`)]);
  await fn('0000:3b:00.0', '0x10de', '0x2335', '0x030200');
  await fn('0000:3b:00.1', '0x10de', '0x22e8', '0x040300');
  await fn('0000:00:00.0', '0x8086', '0x1237', '0x060000');
  const bar = (start: bigint, size: bigint, flags: string) => `0x${start.toString(16).padStart(16, '0')} 0x${(start + size - 1n).toString(16).padStart(16, '0')} ${flags}`;
  const none = '0x0000000000000000 0x0000000000000000 0x0000000000000000';
  await put(join(dev, '0000:3b:00.0/resource'), [
    opts.bar0 === false ? none : bar(0xfa000000n, 16n << 20n, '0x0000000000040200'),
    bar(0x38000000000n, 256n << 30n, '0x000000000014220c'),
    none,
    bar(0x3c000000000n, 32n << 20n, '0x000000000014220c'),
    none, none, none, '',
  ].join('\n'));
  await put(join(dev, '0000:3b:00.0/current_link_speed'), '32.0 GT/s PCIe\n');
  if (opts.driver) await symlink(`../../../bus/pci/drivers/${opts.driver}`, join(dev, '0000:3b:00.0/driver'));
  if (opts.iommu) {
    await symlink('../../../kernel/iommu_groups/7', join(dev, '0000:3b:00.0/iommu_group'));
    await mkdir(join(root, 'sys/kernel/iommu_groups/7/devices'), { recursive: true });
    if (opts.iommu === 'lists') await put(join(root, 'sys/kernel/iommu_groups/7/devices/0000:3b:00.0'), '');
  }
}

describe.skipIf(!canRun)('NVIDIA stack probes (fixtures/gpu/nvidia)', () => {
  let bin = '';
  let scratch = '';

  beforeAll(async () => {
    const built = await buildNvidiaProbes('x86_64', undefined, join(tmpdir(), 'tsuite-test-nvidia'));
    bin = built.dir;
    expect(built.programs).toEqual(PROGRAMS);
    scratch = await mkdtemp(join(tmpdir(), 'tsuite-nvidia-'));
  }, 300_000);
  afterAll(async () => {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  let roots = 0;
  async function freshRoot(): Promise<string> {
    const root = join(scratch, `root${roots++}`);
    await mkdir(join(root, 'sys/bus/pci/devices'), { recursive: true });
    return root;
  }

  async function run(program: string, env: Record<string, string>): Promise<Run> {
    const r = await exec(join(bin, program), [], { cwd: scratch, env: { ...process.env, ...env } });
    const docs = parseKtapAll(r.stdout.split('\n'));
    expect(docs, r.stdout).toHaveLength(1);
    expect(docs[0]!.warnings, r.stdout).toEqual([]);
    expect(docs[0]!.tests, r.stdout).toHaveLength(1);
    const top = docs[0]!.tests[0]!;
    return { code: r.code, stdout: r.stdout, top, b: new Map(top.subtests.map((t) => [t.name, t])) };
  }
  const status = (r: Run, b: string) => r.b.get(b)?.status ?? `missing from:\n${r.stdout}`;

  it('are dynamic executables: they dlopen the driver libraries through the loader', async () => {
    const src = await nvidiaSources();
    expect(src.headers).toContain(join('..', '..', 'probes', 'probe.h'));
    for (const p of PROGRAMS) {
      const elf = await readFile(join(bin, p));
      const phoff = Number(elf.readBigUInt64LE(32));
      const types = Array.from({ length: elf.readUInt16LE(56) }, (_, i) => elf.readUInt32LE(phoff + i * elf.readUInt16LE(54)));
      expect(types, p).toContain(3); // PT_INTERP
    }
  });

  it.skipIf(!onPath('aarch64-linux-gnu-gcc'))('build for aarch64 (Grace Hopper hosts) as dynamic aarch64 executables', async () => {
    const built = await buildNvidiaProbes('aarch64', undefined, join(tmpdir(), 'tsuite-test-nvidia'));
    expect(built.programs).toEqual(PROGRAMS);
    for (const p of PROGRAMS) {
      const elf = await readFile(join(built.dir, p));
      expect(elf.readUInt16LE(18), p).toBe(183); // EM_AARCH64
      const phoff = Number(elf.readBigUInt64LE(32));
      const types = Array.from({ length: elf.readUInt16LE(56) }, (_, i) => elf.readUInt32LE(phoff + i * elf.readUInt16LE(54)));
      expect(types, p).toContain(3); // PT_INTERP
    }
  }, 300_000);

  it(`on this host (no NVIDIA function on the bus) every program skips: '${NO_DEVICE}'`, async () => {
    if (hostHasNvidia()) return; // a GPU host runs the real paths; the planted cases below still hold
    for (const p of PROGRAMS) {
      const r = await run(p, {});
      expect(r.code, p).toBe(0);
      expect(r.top.status, r.stdout).toBe('skipped');
      expect(r.top.reason, p).toBe(NO_DEVICE);
    }
  });

  it('an empty bus skips the same way; no sysfs at all skips naming what is missing', async () => {
    const empty = await freshRoot();
    for (const p of PROGRAMS) {
      const r = await run(p, { TSUITE_FS_ROOT: empty, ...ABSENT_LIBS });
      expect([r.top.status, r.top.reason], r.stdout).toEqual(['skipped', NO_DEVICE]);
      const gone = await run(p, { TSUITE_FS_ROOT: join(scratch, 'no-such-root') });
      expect(gone.top.status, gone.stdout).toBe('skipped');
      expect(gone.top.reason).toBe(`cannot list ${join(scratch, 'no-such-root')}/sys/bus/pci/devices: ENOENT`);
    }
  });

  it('a GPU on the bus with no driver and no libraries is a broken stack: every program FAILS', async () => {
    const root = await freshRoot();
    await plantGpu(root);
    const env = { TSUITE_FS_ROOT: root, ...ABSENT_LIBS };

    const pci = await run('nvidia-pci', env);
    expect(pci.top.status, pci.stdout).toBe('failed');
    expect(status(pci, 'gpu0_bar0_is_memory')).toBe('passed');
    expect(status(pci, 'gpu0_bar1_is_memory')).toBe('passed');
    expect(status(pci, 'gpu0_driver_bound')).toBe('failed');
    expect(status(pci, 'gpu0_iommu_group_lists_device')).toBe('skipped');
    expect(pci.b.has('gpu1_bar0_is_memory'), 'the HDMI audio function is no GPU').toBe(false);
    const facts = parseNvidiaFacts(pci.stdout.split('\n'));
    expect(facts.warnings).toEqual([]);
    expect(facts.facts).toMatchObject({
      'pci.gpu_count': '1', 'pci.gpu0.bdf': '0000:3b:00.0', 'pci.gpu0.vendor': '0x10de', 'pci.gpu0.device': '0x2335',
      'pci.gpu0.class': '0x030200', 'pci.gpu0.bar0_bytes': String(16 << 20), 'pci.gpu0.bar1_bytes': String(256 * 2 ** 30),
      'pci.gpu0.bar3_bytes': String(32 << 20), 'pci.gpu0.driver': 'none', 'pci.gpu0.iommu_group': 'none', 'pci.gpu0.link_speed': '32.0 GT/s PCIe',
    });

    const driver = await run('nvidia-driver', env);
    expect(driver.top.status, driver.stdout).toBe('failed');
    for (const b of ['proc_version_readable', 'nvidiactl_is_char_device', 'gpu0_known_to_driver', 'gpu0_device_node_is_char_device', 'nvidia_uvm_is_char_device'])
      expect(status(driver, b), b).toBe('failed');

    for (const [p, lib] of [['nvidia-nvml', ABSENT_LIBS.TSUITE_NVML_LIB], ['nvidia-cuda', ABSENT_LIBS.TSUITE_CUDA_LIB]] as const) {
      const r = await run(p, env);
      expect(r.code, p).toBe(0);
      expect(r.top.status, r.stdout).toBe('failed');
      expect(status(r, 'library_loads')).toBe('failed');
      expect(r.b.get('library_loads')!.diagnostics.join('\n')).toContain(`${lib} not loadable: ${lib}: cannot open shared object file`);
    }
  });

  it('each PCI check fails on its broken input and passes on a good one', async () => {
    const bad = await freshRoot();
    await plantGpu(bad, { bar0: false, driver: 'vfio-pci', iommu: 'empty' });
    const r = await run('nvidia-pci', { TSUITE_FS_ROOT: bad });
    expect(status(r, 'gpu0_bar0_is_memory')).toBe('failed');
    expect(status(r, 'gpu0_driver_bound')).toBe('passed');
    expect(status(r, 'gpu0_driver_is_nvidia')).toBe('failed');
    expect(r.b.get('gpu0_driver_is_nvidia')!.diagnostics.join('\n')).toContain("bound to 'vfio-pci'");
    expect(status(r, 'gpu0_iommu_group_lists_device')).toBe('failed');

    const good = await freshRoot();
    await plantGpu(good, { driver: 'nvidia', iommu: 'lists' });
    const ok = await run('nvidia-pci', { TSUITE_FS_ROOT: good });
    expect(ok.top.status, ok.stdout).toBe('passed');
    expect(parseNvidiaFacts(ok.stdout.split('\n')).facts).toMatchObject({ 'pci.gpu0.driver': 'nvidia', 'pci.gpu0.iommu_group': '7' });
  });

  it('the driver checks: a version file without NVRM and a plain file for a device node fail', async () => {
    const root = await freshRoot();
    await plantGpu(root, { driver: 'nvidia' });
    await put(join(root, 'proc/driver/nvidia/version'), 'something else\n');
    await put(join(root, 'dev/nvidiactl'), '');
    const r = await run('nvidia-driver', { TSUITE_FS_ROOT: root });
    expect(status(r, 'proc_version_readable')).toBe('passed');
    expect(status(r, 'proc_version_names_nvrm')).toBe('failed');
    expect(r.b.get('nvidiactl_is_char_device')!.diagnostics.join('\n')).toContain('is not a character device');
  });

  it.skipIf(!isRoot)('the driver checks pass on real device nodes; opening one with no driver behind it fails', async () => {
    const root = await freshRoot();
    await plantGpu(root, { driver: 'nvidia' });
    await put(join(root, 'proc/driver/nvidia/version'),
      'NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  550.54.15  Release Build  (dvs-builder@U16-I3-A03-1-1)  Tue Mar  5 2024\nGCC version:  gcc version 12.2.0\n');
    await put(join(root, 'proc/driver/nvidia/gpus/0000:3b:00.0/information'), 'Model: \t\t NVIDIA H200\nDevice Minor: \t 0\n');
    await mkdir(join(root, 'dev'), { recursive: true });
    for (const [name, maj, min] of [['nvidiactl', 195, 255], ['nvidia0', 195, 0], ['nvidia-uvm', 510, 0]] as const) {
      const mk = await exec('mknod', [join(root, 'dev', name), 'c', String(maj), String(min)]);
      if (mk.code !== 0) return; // a container without CAP_MKNOD: the plain-file case above still ran
    }
    const r = await run('nvidia-driver', { TSUITE_FS_ROOT: root });
    for (const b of ['proc_version_readable', 'proc_version_names_nvrm', 'proc_version_has_version_number', 'nvidiactl_is_char_device',
      'gpu0_known_to_driver', 'gpu0_device_node_is_char_device', 'nvidia_uvm_is_char_device'])
      expect(status(r, b), `${b}\n${r.stdout}`).toBe('passed');
    // 195:255 with no nvidia module loaded on this host: the open fails (ENXIO), as it must.
    expect(status(r, 'nvidiactl_opens_read_write')).toBe('failed');
    expect(parseNvidiaFacts(r.stdout.split('\n')).facts).toMatchObject({ 'driver.module_version': '550.54.15', 'driver.gpu0.minor': '0' });
  });
});
