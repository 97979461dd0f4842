import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Dockerode from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunResult } from '../../src/core/result.js';
import { hostDockerdUnavailable, startHostDockerd, type HostDockerd } from '../support/host-dockerd.js';
import { tempDir, tsuite } from './cli.js';

/**
 * The syscall suite with no agent, only a Docker Engine API: each probe runs in a container from
 * tsuite's probes image on Debian's dockerd started on this host, and its KTAP lands in the same
 * results and conformance matrix as over the agent.
 */
const unavailable = hostDockerdUnavailable();

describe.skipIf(unavailable)(`tsuite run --target docker --suite syscall${unavailable ? ` (${unavailable})` : ''}`, () => {
  let dockerd: HostDockerd;
  let r: RunResult;
  let run: Awaited<ReturnType<typeof tsuite>>;

  beforeAll(async () => {
    dockerd = await startHostDockerd();
    const out = tempDir('syscall-docker');
    run = await tsuite('run', '--target', 'docker', '--docker-host', dockerd.url, '--suite', 'syscall', '--reporter', 'json', '--output-dir', out);
    r = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as RunResult;
  }, 600_000);

  afterAll(() => dockerd?.stop(), 60_000);

  it('runs every probe family in a container and reports each behaviour as a KTAP child', () => {
    const families = new Set(r.tests.map((t) => t.id.split('/')[1]));
    expect([...families].sort(), run.stderr).toEqual(expect.arrayContaining(['files', 'fds', 'memory', 'process', 'signals', 'sockets', 'time']));
    // No family ended as a whole (engine refusal, missing image, no KTAP): every result is a child.
    const wholeFamily = r.tests.filter((t) => t.id.split('/').length < 4).map((t) => `${t.id} ${t.status} ${t.error?.message ?? t.reason ?? ''}`);
    expect(wholeFamily).toEqual([]);
    expect(r.tests.length).toBeGreaterThan(1000);
  });

  it('puts the results in the same conformance matrix, per syscall, with its number', () => {
    const m = r.conformance!.syscall!;
    expect(m.covered).toBeGreaterThanOrEqual(150);
    expect(m.items.filter((i) => typeof i.details?.number === 'number').length).toBeGreaterThanOrEqual(150);
    expect(m.items.find((i) => i.item === 'files/openat')).toMatchObject({ status: 'pass' });
  });

  it('agrees with the reference guest on almost everything; what differs is the container, listed here', () => {
    const differs = r.tests.filter((t) => t.status !== 'passed').map((t) => `${t.id}: ${t.status} ${(t.error?.message ?? t.reason ?? '').split('\n').slice(-1)[0]}`);
    // Shown in the test log: the findings of running the probes through Docker rather than the agent.
    console.log(`probes that differ from the reference guest inside a container on this host:\n  ${differs.join('\n  ')}`);
    expect(differs.length).toBeLessThan(r.tests.length * 0.02);
    // Docker (since 20.10) opens every port to unprivileged binds in a container's network
    // namespace (net.ipv4.ip_unprivileged_port_start=0): proof the probe ran in a container.
    expect(r.tests.find((t) => t.id === 'syscall/sockets/bind/unprivileged_port_below_1024_gets_eacces')?.status).toBe('failed');
  });

  it('leaves no probe container behind', async () => {
    const url = new URL(dockerd.url);
    const api = new Dockerode({ host: url.hostname, port: Number(url.port) });
    const left = await api.listContainers({ all: true, filters: { label: [`tsuite.run=${r.run.id}`] } });
    expect(left.map((c) => c.Names.join(','))).toEqual([]);
  });
});
