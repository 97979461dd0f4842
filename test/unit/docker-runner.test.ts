import { createServer } from 'node:http';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { InfraError, UsageError } from '../../src/core/errors.js';
import { freePort } from '../../src/core/ports.js';
import type { ProvisionRequest } from '../../src/core/runner.js';
import { LINUX_EVENT_PATTERNS } from '../../src/parsers/kernel-events.js';
import { runnerFor } from '../../runners/index.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function request(url: string | undefined, bootTimeoutMs = 5_000): Promise<ProvisionRequest> {
  const dir = await mkdtemp(join(tmpdir(), 'tsuite-docker-runner-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return {
    sessionId: 's1', dir, arch: 'x86_64', boot: { kernel: '', cmdline: '' }, cpus: 1, memoryMb: 1, accel: 'auto',
    landmark: /never/, bootTimeoutMs, eventPatterns: LINUX_EVENT_PATTERNS, endpoint: url === undefined ? undefined : { url },
  };
}

async function fakeEngine(): Promise<string> {
  const server = createServer((req, res) => {
    res.setHeader('Content-Type', 'application/json');
    if (req.url === '/version') res.end(JSON.stringify({ Version: '20.10.24+dfsg1', ApiVersion: '1.41', MinAPIVersion: '1.12', Os: 'linux', Arch: 'amd64', KernelVersion: '6.1.0' }));
    else res.end(JSON.stringify({ CgroupVersion: '1', CgroupDriver: 'cgroupfs', Driver: 'overlay2' }));
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => server.close(() => r())));
  return `tcp://127.0.0.1:${port}`;
}

describe('docker runner', () => {
  it('is registered as `docker`', () => {
    expect(runnerFor('docker').name).toBe('docker');
  });

  it('provisions a machineless session with only the docker channel, and keeps the engine facts as evidence', async () => {
    const url = await fakeEngine();
    const req = await request(url);
    const session = await runnerFor('docker').provision(req, new AbortController().signal);
    expect([...session.channels]).toEqual(['docker']);
    expect(session.docker?.info).toMatchObject({ apiVersion: '1.41', engineVersion: '20.10.24+dfsg1', storageDriver: 'overlay2' });
    expect(session.docker?.endpoint.url).toBe(url);
    expect(session.console.isClosed).toBe(true);
    expect(session.console.lines).toEqual([]);
    expect(session).toMatchObject({ accel: 'none', canPowerOff: false, dir: req.dir, id: 's1' });
    expect(session.spec).toBeUndefined();
    const evidence = JSON.parse(await readFile(join(req.dir, 'endpoint.json'), 'utf8'));
    expect(evidence).toMatchObject({ endpoint: url, tls: false, apiVersion: '1.41', serverApiVersion: '1.41', cgroupDriver: 'cgroupfs' });
    const exit = await session.shutdown();
    expect(exit.kind).toBe('clean');
    expect(await session.ended).toBe(exit);
    expect(session.exit).toBe(exit);
    expect(session.docker?.isClosed).toBe(true);
    await session[Symbol.asyncDispose]();
  });

  it('fails with an InfraError naming an endpoint that does not answer, and the fix', async () => {
    const url = `tcp://127.0.0.1:${await freePort()}`;
    const err = await runnerFor('docker').provision(await request(url, 800), new AbortController().signal).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InfraError);
    expect((err as InfraError).message).toContain(url);
    expect((err as InfraError).fix).toMatch(/engine running.*DOCKER_HOST/);
  });

  it('needs an endpoint', async () => {
    await expect(runnerFor('docker').provision(await request(undefined), new AbortController().signal)).rejects.toBeInstanceOf(UsageError);
  });
});
