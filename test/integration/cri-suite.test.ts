import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunResult } from '../../src/core/result.js';
import { hostContainerdUnavailable, startHostContainerd, type HostContainerd } from '../support/host-containerd.js';
import { tempDir, tsuite } from './cli.js';

/**
 * The cri suite end to end through the CLI against Debian's containerd started on this host (cgroup
 * v1, its own netns), as a `cri` target configured the way a kernel team points tsuite at its own
 * runtime: the endpoint, where this host reaches the node, where the node reaches this host, and
 * where the runtime reads registry settings.
 */
const notPassed = (r: RunResult) => r.tests.filter((t) => t.status !== 'passed').map((t) => `${t.id}: ${t.status} ${t.error?.message ?? t.reason ?? ''}`);

/**
 * What this host's containerd cannot do, and why (the README's table of the two engines): each is a
 * skip naming the runtime's or the host's answer, never a failure turned into one.
 */
const HOST_SKIPS: Readonly<Record<string, RegExp>> = {
  // containerd 1.6 does not implement it (the guest's says the same).
  'cri/runtime-config-cgroup-driver': /answers RuntimeConfig with UNIMPLEMENTED/,
  // This host's kernel has no AppArmor; the guest's has.
  'cri/security-apparmor': /AppArmor is not enabled on the node/,
  // The unified map is cgroup v2's; this host is cgroup v1.
  'cri/resources-pids-unified': /cgroup v1/,
};

const unavailable = hostContainerdUnavailable();

describe.skipIf(unavailable)(`cri suite on Debian's containerd on this host${unavailable ? ` (${unavailable})` : ''}`, () => {
  let containerd: HostContainerd;
  let r: RunResult;
  let out: string;
  let code: number | null;
  let stderr: string;

  beforeAll(async () => {
    containerd = await startHostContainerd();
    const dir = tempDir('cri-host');
    out = join(dir, 'out');
    const config = join(dir, 'tsuite.config.ts');
    writeFileSync(config, `export default { targets: { 'cri-host': ${JSON.stringify({
      runner: 'cri', arch: 'x86_64', kernel: 'endpoint',
      cri: { endpoint: containerd.endpoint, nodeAddress: containerd.engineIp, hostAddress: containerd.hostIp, hostPorts: containerd.node.hostPorts, registryConfigDir: containerd.registryConfigDir },
    })} } };\n`);
    // CRI_TESTS=cri/security- narrows the run while writing tests (the full suite is the default).
    const only = process.env.CRI_TESTS ? process.env.CRI_TESTS.split(',').flatMap((t) => ['--test', t]) : [];
    const cli = await tsuite('run', '--config', config, '--target', 'cri-host', '--suite', 'cri', ...only, '--reporter', 'json', '--output-dir', out);
    code = cli.code;
    stderr = cli.stderr;
    r = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as RunResult;
  }, 1_200_000);

  afterAll(() => containerd?.stop(), 60_000);

  it('passes every test against the real runtime, apart from what the host lacks', () => {
    const unexpected = notPassed(r).filter((line) => {
      const [id] = line.split(':');
      const skip = HOST_SKIPS[id!];
      return !(skip && line.startsWith(`${id}: skipped `) && skip.test(line));
    });
    expect(unexpected).toEqual([]);
    expect(r.summary.passed).toBeGreaterThanOrEqual(130);
    expect(code, stderr.slice(-3000)).toBe(0);
  });

  it('records the runtime Version answered in sessions[].cri', () => {
    expect(r.sessions[0]!.cri).toMatchObject({ endpoint: containerd.endpoint, runtimeName: 'containerd', runtimeApiVersion: 'v1', runtimeVersion: expect.stringMatching(/^1\.6\./) });
  });

  it('folds the results into a conformance matrix per area and per RPC', () => {
    const items = new Map(r.conformance!.cri!.items.map((i) => [i.item, i.status]));
    for (const area of ['runtime', 'sandbox', 'container', 'streaming', 'logs', 'images', 'network', 'security', 'resources', 'stats', 'mounts', 'sysctl']) {
      expect(items.get(`area/${area}`), area).toBe('pass');
    }
    expect(items.get('rpc/RunPodSandbox')).toBe('pass');
    expect(items.get('rpc/PullImage')).toBe('pass');
    expect(items.get('rpc/RuntimeConfig')).toBe('unimplemented');
  });
});

describe('cri suite on targets without a runtime', () => {
  const results = (dir: string) => JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as RunResult;

  it('skips every test on a target with no cri channel, naming it, without booting', async () => {
    const out = tempDir('cri-none');
    const cli = await tsuite('run', '--target', 'qemu-x86', '--suite', 'cri', '--reporter', 'json', '--output-dir', out);
    const r = results(out);
    expect(cli.code, cli.stderr).toBe(0);
    expect(r.sessions).toEqual([]);
    expect(r.tests.length).toBeGreaterThan(0);
    for (const t of r.tests) expect(t, t.id).toMatchObject({ status: 'skipped', reason: expect.stringContaining("target 'qemu-x86' offers no 'cri' channel") });
  }, 60_000);

  it('fails as a harness error naming the endpoint when the runtime never answers', async () => {
    const out = tempDir('cri-dead');
    const socket = join(out, 'no-runtime.sock');
    const cli = await tsuite('run', '--target', 'cri', '--cri-endpoint', `unix://${socket}`, '--suite', 'cri', '--test', 'cri/runtime-', '--reporter', 'json', '--output-dir', out);
    const r = results(out);
    expect(cli.code).toBe(3);
    expect(r.tests.length).toBeGreaterThan(0);
    for (const t of r.tests) {
      expect(t.status, t.id).toBe('infraError');
      expect(t.error?.message).toContain(`no CRI runtime answered at unix://${socket}`);
    }
    expect(r.run.infraError).toMatchObject({ message: expect.stringContaining(socket), fix: expect.stringContaining('--cri-endpoint') });
  }, 90_000);

  it('refuses the cri target without an endpoint, naming the flag', async () => {
    const cli = await tsuite('run', '--target', 'cri', '--suite', 'cri');
    expect(cli.code).toBe(2);
    expect(cli.stderr).toMatch(/needs the CRI endpoint[\s\S]*--cri-endpoint/);
  }, 60_000);
});
