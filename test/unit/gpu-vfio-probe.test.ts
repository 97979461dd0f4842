import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildGpuProbes, gpuSources } from '../../kernel/probes/build-probes.js';
import { flattenKtap, parseKtapAll, type KtapDocument, type KtapStatus } from '../../src/parsers/ktap.js';

/**
 * The vfio probe's real output, captured from the reference guest (Debian 6.1 cloud kernel under
 * QEMU 7.2 TCG, edu device) in three machines: q35 + intel-iommu (everything works), plain `pc`
 * (no IOMMU), and q35 + intel-iommu with vfio_iommu_type1 left unloaded (a broken VFIO).
 */
const captured = (name: string): KtapDocument => {
  const lines = readFileSync(join(__dirname, '..', '..', 'fixtures', 'gpu', 'captured', name), 'utf8').split('\n');
  const docs = parseKtapAll(lines);
  expect(docs).toHaveLength(1);
  return docs[0]!;
};
/** `test/behaviour` -> status, for every behaviour (leaf) of a document. */
const behaviours = (doc: KtapDocument) =>
  new Map(flattenKtap(doc).filter((t) => t.leaf).map((t) => [t.path.join('/'), t.test]));
const withStatus = (doc: KtapDocument, status: KtapStatus) =>
  [...behaviours(doc)].filter(([, t]) => t.status === status).map(([name]) => name);

const TESTS = ['iommu_groups', 'bind', 'type1', 'iommufd', 'dma', 'blocked_dma', 'restore'];
const REFERENCE_PASSES: Record<string, string[]> = {
  iommu_groups: ['groups_exist', 'device_has_group', 'group_lists_device', 'group_members_viable'],
  bind: ['unbind_original_driver', 'no_driver_after_unbind', 'driver_override_set', 'driver_override_reads_back', 'drivers_probe_accepted', 'bound_to_vfio_pci', 'group_device_node_exists'],
  type1: [
    'container_opens', 'api_version', 'type1_extension', 'type1v2_extension', 'unknown_extension_absent', 'set_iommu_before_group_gets_einval',
    'group_opens', 'group_get_status', 'group_viable', 'group_has_no_container_yet', 'group_set_container', 'set_iommu_type1v2',
    'iommu_get_info', 'iommu_info_has_4k_pages', 'get_device_fd_unknown_name_fails', 'get_device_fd', 'device_get_info', 'device_is_pci',
    'device_has_pci_regions', 'device_has_pci_irqs', 'config_region_info', 'config_region_size', 'config_read', 'config_vendor_matches_sysfs',
    'config_device_matches_sysfs', 'bar0_region_info', 'bar0_mmap_capable', 'bar0_mmap', 'edu_identification', 'edu_liveness_inverts',
    'irq_info_all_indexes', 'irq_info_intx_at_most_one',
  ],
  dma: ['bus_master_enabled', 'map_dma_source', 'map_dma_destination', 'dma_to_device_completes', 'dma_to_ram_completes', 'round_trip_matches', 'bytes_past_count_untouched', 'unmap_dma', 'unmap_reports_size'],
  blocked_dma: [
    'map_dma', 'map_dma_destination', 'map_dma_victim', 'map_dma_secret', 'mapped_destination_written', 'unmap_dma', 'unmap_reports_size',
    'unmap_unmapped_iova_succeeds', 'unmap_unmapped_iova_reports_zero', 'dma_to_unmapped_iova_ends', 'unmapped_destination_unchanged',
    'dma_from_unmapped_iova_ends', 'unmapped_source_not_read', 'iommu_fault_logged',
  ],
  restore: ['unbind_vfio_pci', 'driver_override_cleared', 'driver_override_reads_null', 'driver_restored'],
};
const NO_IOMMU = 'no IOMMU groups: boot with intel_iommu=on on a machine with an IOMMU';

describe('vfio probe on the reference guest with an emulated Intel IOMMU', () => {
  const doc = captured('vfio-reference-x86_64.ktap');

  it('runs the seven tests in order, all passing but iommufd (Linux 6.1 has none)', () => {
    expect(doc.tests.map((t) => t.name)).toEqual(TESTS);
    expect(doc.tests.map((t) => t.status)).toEqual(['passed', 'passed', 'passed', 'skipped', 'passed', 'passed', 'passed']);
    expect(doc.tests[3]!.reason).toBe('kernel has no iommufd (/dev/iommu absent)');
  });

  it('passes every behaviour, with the exact names the gpu suite reports', () => {
    const expected = Object.entries(REFERENCE_PASSES).flatMap(([test, names]) => names.map((n) => `${test}/${n}`));
    expect(withStatus(doc, 'passed')).toEqual(expected);
    expect(withStatus(doc, 'failed')).toEqual([]);
    expect(withStatus(doc, 'skipped')).toEqual(['iommufd/opens']);
  });

  it('shows the evidence: edu identified, DMAR fault logged for the blocked write', () => {
    const type1 = doc.tests[2]!.subtests;
    expect(type1.find((t) => t.name === 'edu_identification')!.diagnostics.join('\n')).toContain('edu identification 0x010000ed');
    const fault = doc.tests[5]!.subtests.find((t) => t.name === 'iommu_fault_logged')!;
    expect(fault.diagnostics.join('\n')).toMatch(/kmsg: DMAR: \[DMA Write NO_PASID\] Request device \[00:01\.0\] fault addr 0x300000 \[fault reason 0x05\] PTE Write access is not set/);
  });
});

describe('vfio probe without an IOMMU (plain pc machine)', () => {
  const doc = captured('vfio-no-iommu-x86_64.ktap');

  it('passes nothing that needs the IOMMU: each such test is skipped, naming what is missing', () => {
    expect(doc.tests.map((t) => t.name)).toEqual(TESTS);
    expect(withStatus(doc, 'failed')).toEqual([]);
    // Only the container-level VFIO calls, which need no IOMMU, pass.
    expect(withStatus(doc, 'passed')).toEqual(REFERENCE_PASSES.type1!.slice(0, 6).map((n) => `type1/${n}`));
    const skips = new Map(doc.tests.map((t) => [t.name, t.status === 'skipped' ? t.reason : t.status]));
    expect(skips.get('iommu_groups')).toBe(NO_IOMMU);
    for (const test of ['bind', 'dma', 'blocked_dma']) expect(skips.get(test)).toMatch(/has no IOMMU group.*intel_iommu=on/);
    expect(doc.tests[2]!.subtests.at(-1)).toMatchObject({ name: 'group_opens', status: 'skipped' });
    expect(skips.get('restore')).toBe('the bind test could not run: nothing to restore');
  });
});

describe('vfio probe with vfio_iommu_type1 not loaded (broken on purpose)', () => {
  const doc = captured('vfio-no-type1-x86_64.ktap');

  it('fails the type1 checks and everything built on them, honestly', () => {
    expect(withStatus(doc, 'failed')).toEqual([
      'type1/type1_extension', 'type1/type1v2_extension', 'type1/set_iommu_type1v2', 'dma/setup_line_84', 'blocked_dma/setup_line_84',
    ]);
    expect(doc.tests.map((t) => t.status)).toEqual(['passed', 'passed', 'failed', 'skipped', 'failed', 'failed', 'passed']);
    const setIommu = doc.tests[2]!.subtests.find((t) => t.name === 'set_iommu_type1v2')!;
    expect(setIommu.diagnostics.join('\n')).toContain('got errno ENODEV (19)');
  });
});

describe('buildGpuProbes', () => {
  const root = mkdtempSync(join(tmpdir(), 'tsuite-gpu-probes-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('builds fixtures/gpu/*.c (not subfolders) static, keyed on probe.h too', async () => {
    const src = await gpuSources();
    expect(src.probes).toContain('vfio');
    expect(src.headers).toContain(join('..', 'probes', 'probe.h'));
    const built = await buildGpuProbes('x86_64', undefined, root);
    expect(built.probes).toEqual(src.probes);
    expect(execFileSync('file', [join(built.dir, 'vfio')], { encoding: 'utf8' })).toMatch(/x86-64.*statically linked/);
    expect((await buildGpuProbes('x86_64', undefined, root)).dir).toBe(built.dir);
  }, 120_000);

  it('the binary rejects unknown arguments and skips everything where no edu device exists', async () => {
    const built = await buildGpuProbes('x86_64', undefined, root);
    const bin = join(built.dir, 'vfio');
    expect(() => execFileSync(bin, ['--bogus'], { stdio: 'pipe' })).toThrow();
    // A vendor:device no machine has: nothing is touched, every test but iommu_groups names it.
    const out = execFileSync(bin, ['--device', 'ffff:fffe', '--read-only'], { encoding: 'utf8', cwd: root });
    const doc = parseKtapAll(out.split('\n'))[0]!;
    expect(doc.tests.map((t) => t.name)).toEqual(TESTS);
    expect(withStatus(doc, 'failed')).toEqual([]);
    expect(doc.tests[1]!.reason).toBe('no PCI device ffff:fffe');
  }, 120_000);
});
