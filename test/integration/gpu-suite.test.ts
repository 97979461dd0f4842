import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunResult, TestResult } from '../../src/core/result.js';
import { buildEduPlugin, type BuiltPlugin } from '../support/device-plugins/build-plugin.js';
import { startCli, tempDir, type CliResult } from './cli.js';

/**
 * The gpu suite end to end with the real CLI: layer 1 in the reference guest booted by the suite
 * with an emulated IOMMU and QEMU's edu device; layer 2 in the container host booted the same way;
 * the device plugin harness on the local target against the test plugins.
 */
const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

async function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ res: CliResult; r: RunResult; out: string }> {
  const root = tempDir('gpu');
  roots.push(root);
  const out = join(root, 'out');
  const res = await startCli(['run', '--suite', 'gpu', '-r', 'json', '--output-dir', out, ...args], env).done;
  const r = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as RunResult;
  return { res, r, out };
}

const under = (r: RunResult, prefix: string) => r.tests.filter((t) => t.id.startsWith(prefix));
const notPassed = (ts: TestResult[]) => ts.filter((t) => t.status !== 'passed').map((t) => `${t.id}: ${t.status} ${t.reason ?? t.error?.message ?? ''}`);

describe('gpu suite on qemu-x86: IOMMU and VFIO in the reference guest', () => {
  let r: RunResult;
  let res: CliResult;
  beforeAll(async () => {
    ({ r, res } = await run(['--target', 'qemu-x86']));
  }, 300_000);

  it('boots q35 with intel-iommu and the edu device, the reference Linux told to use the IOMMU', () => {
    expect(res.code, res.stdout + res.stderr).toBe(0);
    expect(r.sessions[0]!.machine).toMatchObject({ type: 'q35', iommu: 'intel-iommu', devices: ['edu'] });
  });

  it('passes every IOMMU/VFIO check, the DMA round trip and the blocked DMA included; only iommufd, which 6.1 lacks, skips', () => {
    const vfio = under(r, 'gpu/vfio/');
    expect(vfio.length).toBeGreaterThan(60);
    for (const id of ['gpu/vfio/dma/round_trip_matches', 'gpu/vfio/blocked_dma/unmapped_destination_unchanged', 'gpu/vfio/blocked_dma/iommu_fault_logged', 'gpu/vfio/type1/set_iommu_type1v2', 'gpu/vfio/restore/driver_override_cleared']) {
      expect(vfio.find((t) => t.id === id)?.status, id).toBe('passed');
    }
    expect(notPassed(vfio.filter((t) => !t.id.startsWith('gpu/vfio/iommufd/')))).toEqual([]);
    expect(under(r, 'gpu/vfio/iommufd/').every((t) => t.status === 'skipped' && /iommufd/.test(t.reason ?? ''))).toBe(true);
  });

  it('skips the NVIDIA layer with "no NVIDIA device on this machine", and the container layer naming the missing channel', () => {
    const nvidia = under(r, 'gpu/nvidia/');
    expect(nvidia.length).toBe(4);
    expect(nvidia.every((t) => t.status === 'skipped' && t.reason === 'no NVIDIA device on this machine')).toBe(true);
    const containers = r.tests.filter((t) => t.id.startsWith('gpu/container-'));
    expect(containers.length).toBeGreaterThan(0);
    expect(containers.every((t) => t.status === 'skipped' && /offers no 'docker' channel/.test(t.reason ?? ''))).toBe(true);
  });
});

describe('gpu suite on the container host booted with the IOMMU', () => {
  let r: RunResult;
  beforeAll(async () => {
    ({ r } = await run(['--target', 'qemu-x86-node', '--test', 'gpu/container-*']));
  }, 600_000);

  it('passes the VFIO probe inside an unprivileged container given the VFIO nodes, DMA included, the fault seen on the console', () => {
    const inContainer = under(r, 'gpu/container-vfio/');
    expect(inContainer.find((t) => t.id === 'gpu/container-vfio/dma/round_trip_matches')?.status).toBe('passed');
    expect(inContainer.find((t) => t.id === 'gpu/container-vfio/blocked_dma/iommu_fault_on_console')?.status).toBe('passed');
    // What a container cannot do is skipped with the reason: /dev/kmsg, the host's own rebinding, iommufd.
    expect(notPassed(inContainer).filter((l) => !/skipped (cannot read \/dev\/kmsg|--bound|kernel has no iommufd)/.test(l))).toEqual([]);
  });

  it("skips a GPU device request with the engine's own reason, and CDI naming the engine that lacks it", () => {
    const request = r.tests.find((t) => t.id === 'gpu/container-gpu-request')!;
    expect(request.status).toBe('skipped');
    expect(request.reason).toMatch(/^the engine has no GPU driver: could not select device driver "" with capabilities: \[\[gpu\]\]/);
    const cdi = r.tests.find((t) => t.id === 'gpu/container-cdi')!;
    expect(cdi.status).toBe('skipped');
    expect(cdi.reason).toMatch(/the engine \(Docker 20\.10\.\S+\) has no CDI support/);
  });
});

describe('the device plugin harness on the local target', () => {
  let plugin: BuiltPlugin;
  beforeAll(async () => {
    plugin = await buildEduPlugin();
  });
  afterAll(() => plugin?.dispose());

  const configFor = (brokenRule?: string) => {
    const dir = tempDir('gpu-dp');
    roots.push(dir);
    const config = join(dir, 'tsuite.config.ts');
    writeFileSync(config, `export default { targets: { local: { devicePlugin: ${JSON.stringify({ command: [process.execPath, plugin.main], healthSignal: 'SIGUSR1', timeoutMs: 5000 })} } } };\n`);
    return { config, env: { DP_PROTO_FILE: plugin.proto, ...(brokenRule ? { TSUITE_BROKEN_RULE: brokenRule } : {}) } };
  };

  it('passes the conforming plugin on every check; the VFIO layer names what this host lacks', async () => {
    const { config, env } = configFor();
    const { r } = await run(['--config', config, '--target', 'local', '--test', 'gpu/device-plugin', '--test', 'gpu/vfio'], env);
    const checks = under(r, 'gpu/device-plugin/');
    expect(checks.length).toBe(18);
    expect(notPassed(checks)).toEqual([]);
    // This host has neither QEMU's edu nor an NVIDIA function: layer 1 names that, and touches nothing.
    const vfio = r.tests.find((t) => t.id === 'gpu/vfio');
    expect(vfio?.status).toBe('skipped');
    expect(vfio?.reason).toMatch(/no PCI function to drive: neither QEMU's edu \(1234:11e8\) nor an NVIDIA GPU/);
  }, 180_000);

  it('fails the plugin that breaks the version rule on that check', async () => {
    const { config, env } = configFor('version');
    const { r, res } = await run(['--config', config, '--target', 'local', '--test', 'gpu/device-plugin'], env);
    expect(res.code).toBe(1);
    const version = r.tests.find((t) => t.id === 'gpu/device-plugin/version')!;
    expect(version.status).toBe('failed');
    expect(version.error?.message).toMatch(/version/);
  }, 180_000);
});
