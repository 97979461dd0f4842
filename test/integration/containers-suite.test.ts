import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerChannel } from '../../src/channels/docker.js';
import type { RunResult, TestResult } from '../../src/core/result.js';
import { hostDockerdUnavailable, startHostDockerd, type HostDockerd } from '../support/host-dockerd.js';
import { tempDir, tsuite } from './cli.js';

/**
 * The containers suite end to end through the CLI, against two real engines: Debian's dockerd in
 * the reference container host (qemu-x86-node, cgroup v2, under QEMU) and Debian's dockerd started
 * on this host (cgroup v1), reached over TLS with client certificates. Whatever differs between
 * the two is printed as a finding. The bench suite's container timings ride along in the same session.
 */
const runSuite = async (name: string, ...args: string[]) => {
  const out = tempDir(name);
  const cli = await tsuite('run', '--suite', 'containers,bench', '--test', 'containers/', '--test', 'bench/container-', '--reporter', 'json', '--output-dir', out, ...args);
  const result = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as RunResult;
  return { cli, result };
};

const notPassed = (r: RunResult) => r.tests.filter((t) => t.status !== 'passed').map((t) => `${t.id}: ${t.status} ${t.error?.message ?? t.reason ?? ''}`);

/**
 * The registry tests on an existing endpoint: tsuite cannot make a Docker endpoint trust the
 * session's registries (that takes the engine's own files), so they skip saying what it needs.
 */
const registrySkip = (t: TestResult) => t.id.startsWith('containers/registry-') && t.status === 'skipped' && /cannot make its engine trust the session's local registries/.test(t.reason ?? '');

const results: Record<string, RunResult> = {};

const unavailable = hostDockerdUnavailable({ tls: true });

describe.skipIf(unavailable)(`containers suite on Debian's dockerd on this host, over TLS${unavailable ? ` (${unavailable})` : ''}`, () => {
  let dockerd: HostDockerd;
  let r: RunResult;

  beforeAll(async () => {
    dockerd = await startHostDockerd({ tls: true });
    const run = await runSuite('containers-host', '--target', 'docker', '--docker-host', dockerd.url, '--docker-cert-path', dockerd.certPath!);
    r = results.host = run.result;
    expect(run.cli.code, run.cli.stderr.slice(-3000)).toBe(0);
  }, 900_000);

  afterAll(() => dockerd?.stop(), 60_000);

  it('passes every test, at least 30, against the real engine, the registry tests skipped naming what the engine needs', () => {
    expect(notPassed({ ...r, tests: r.tests.filter((t) => !registrySkip(t)) })).toEqual([]);
    expect(r.tests.filter(registrySkip).length).toBeGreaterThanOrEqual(10);
    expect(r.summary.passed).toBeGreaterThanOrEqual(30);
  });

  it('times docker run and docker exec from the host with tinybench, every sample kept', () => {
    const samples = (id: string) => r.tests.find((t) => t.id === id)?.metrics[0]?.samples ?? [];
    expect(samples('bench/container-cold-start')).toHaveLength(5);
    expect(samples('bench/container-exec')).toHaveLength(10);
    expect([...samples('bench/container-cold-start'), ...samples('bench/container-exec')].every((ms) => ms > 0)).toBe(true);
  });

  it('records the engine and the negotiated API version, and the kernel it runs on', () => {
    expect(r.sessions[0]!.docker).toMatchObject({ endpoint: dockerd.url, apiVersion: '1.41', engineVersion: expect.stringMatching(/^20\.10\./) });
    expect(r.run.kernel).toMatchObject({ source: 'endpoint', path: dockerd.url, version: expect.any(String) });
  });

  it('folds the results into a conformance matrix per API area', () => {
    const areas = r.conformance!.containers!.items.map((i) => i.item);
    expect(areas).toEqual(expect.arrayContaining(['engine', 'images', 'lifecycle', 'logs', 'exec', 'limits', 'network', 'isolation', 'volumes', 'cli']));
    expect(r.conformance!.containers!.items.filter((i) => i.status !== 'pass').map((i) => `${i.item}: ${i.status}`)).toEqual(['registry: skip']);
  });

  it('leaves nothing labelled with the run behind', async () => {
    const channel = await DockerChannel.connect({ url: dockerd.url, certPath: dockerd.certPath }, { timeoutMs: 10_000 });
    try {
      const label = [`tsuite.run=${r.run.id}`];
      const left = [
        ...(await channel.api.listContainers({ all: true, filters: { label } })).map((c) => `container ${c.Names.join(',')}`),
        ...(await channel.api.listNetworks({ filters: { label } })).map((n) => `network ${n.Name}`),
        ...((await channel.api.listVolumes({ filters: { label } })).Volumes ?? []).map((v) => `volume ${v.Name}`),
      ];
      expect(left).toEqual([]);
    } finally {
      channel.close();
    }
  });
});

/**
 * The cri suite's tests that the guest run shares with the containers suite (one boot serves both):
 * one or two per area, where the guest's engine, network or files differ from this host's. The
 * whole suite runs against this host's containerd in cri-suite.test.ts; the README records a full
 * run in the guest.
 */
const CRI_IN_GUEST = [
  'runtime-status-ready', 'sandbox-status-fields', 'sandbox-dns-config', 'container-lifecycle-states', 'container-exec-sync-output',
  'streaming-exec-tty-resize', 'streaming-port-forward-echo', 'logs-format', 'logs-reopen', 'images-pull-auth-credentials',
  'images-pull-auth-wrong-credentials', 'network-host-port-released', 'security-seccomp-runtime-default', 'security-apparmor',
  'resources-memory-oom', 'stats-cpu-advances', 'mounts-host-path-both-ways', 'sysctl-net-namespaced',
].flatMap((name) => ['--test', `cri/${name}`]);

describe('containers suite on the reference container host (qemu-x86-node)', () => {
  let r: RunResult;

  beforeAll(async () => {
    const run = await runSuite('containers-node', '--target', 'qemu-x86-node', '--suite', 'cri', ...CRI_IN_GUEST, '--test', 'bench/cri-');
    r = results.node = run.result;
    expect(run.cli.code, run.cli.stderr.slice(-3000)).toBe(0);
  }, 1_500_000);

  it('passes every test against dockerd in the guest, with the API forwarded to the host', () => {
    expect(notPassed(r)).toEqual([]);
    expect(r.summary.passed).toBeGreaterThanOrEqual(30);
    expect(r.sessions[0]!.docker).toMatchObject({ endpoint: expect.stringMatching(/^tcp:\/\/127\.0\.0\.1:\d+$/), apiVersion: '1.41' });
    expect(r.run.kernel).toMatchObject({ source: 'debian-package', rootfs: expect.stringContaining('node-rootfs') });
  });

  it("passes the cri tests against containerd's CRI in the same guest, over TCP and the forwarded streaming port", () => {
    const cri = r.tests.filter((t) => t.suite === 'cri');
    expect(cri.length).toBeGreaterThanOrEqual(18);
    expect(cri.filter((t) => t.status !== 'passed').map((t) => `${t.id}: ${t.status} ${t.error?.message ?? t.reason ?? ''}`)).toEqual([]);
    const session = r.sessions.find((s) => s.cri)!;
    expect(session.cri).toMatchObject({ endpoint: expect.stringMatching(/^tcp:\/\/127\.0\.0\.1:\d+$/), runtimeName: 'containerd', runtimeApiVersion: 'v1' });
    // The same boot served both engines.
    expect(session.docker).toBeDefined();
  });

  it('times CRI pod and container starts from the host, every sample kept', () => {
    const samples = (id: string) => r.tests.find((t) => t.id === id)?.metrics[0]?.samples ?? [];
    expect(samples('bench/cri-pod-start')).toHaveLength(5);
    expect(samples('bench/cri-container-start')).toHaveLength(5);
    expect([...samples('bench/cri-pod-start'), ...samples('bench/cri-container-start')].every((ms) => ms > 0)).toBe(true);
  });

  it('the two engines agree test by test; the differences in what they measured are printed', () => {
    if (!results.host) return void console.log(`no host engine to compare with: ${unavailable}`);
    // The guest run also carries cri tests (this host's dockerd has no CRI): the containers suite is compared.
    // The registry tests skip on the host engine (registrySkip); every other test agrees.
    const status = (list: readonly TestResult[]) => Object.fromEntries(list.filter((t) => /^(containers|bench\/container-)/.test(t.id) && !t.id.startsWith('containers/registry-')).map((t) => [t.id, t.status]));
    expect(status(r.tests)).toEqual(status(results.host.tests));
    expect(r.tests.filter((t) => t.id.startsWith('containers/registry-') && t.status === 'passed').length).toBeGreaterThanOrEqual(10);
    const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const reading = (m: { value?: number; samples?: number[] }) => m.value ?? (m.samples?.length ? `${median(m.samples).toFixed(1)} (median)` : undefined);
    const metrics = (res: RunResult) => new Map(res.tests.flatMap((t) => t.metrics.filter((m) => reading(m) !== undefined).map((m) => [`${t.id} ${m.name}`, `${reading(m)} ${m.unit}`] as const)));
    const host = metrics(results.host);
    const rows = [...metrics(r)].map(([k, v]) => `${k}: guest ${v}, host ${host.get(k) ?? '-'}`);
    console.log(`containers metrics, reference container host vs Debian's dockerd on this host:\n  ${rows.join('\n  ')}`);
  });
});

describe('a target with no docker channel', () => {
  it('skips the whole suite, saying why', async () => {
    const { cli, result } = await runSuite('containers-none', '--target', 'qemu-x86');
    expect(cli.code, cli.stderr.slice(-2000)).toBe(0);
    expect(result.tests.length).toBeGreaterThanOrEqual(32);
    expect(result.tests.filter((t) => t.status !== 'skipped' || !t.reason?.startsWith("target 'qemu-x86' offers no 'docker' channel (docker.port in its config"))).toEqual([]);
    // Nothing it could run: no machine was booted for it.
    expect(result.sessions).toEqual([]);
  }, 300_000);
});
