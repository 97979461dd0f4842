import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GcpStandin, type GcpFaultStep } from '../support/gcp-standin/index.js';
import { startCli, tempDir, type CliResult } from './cli.js';
import { expectNoSecrets as expectNoSecretsIn, readProvenance, readResults, SLOW_SUITE } from './cloud-evidence.js';

/**
 * The whole cloud pipeline on the real kernel, against the GCE/GCS stand-in (the only part that is
 * not Google's): package, local proof, resumable upload, import, launch (the stand-in boots the
 * uploaded bytes under QEMU + OVMF), the serial console, the suites, the evidence and teardown,
 * through the official Google libraries and the CLI a nightly job runs. Then a fault at each step,
 * a SIGINT at each step, and a SIGKILL whose leftovers the next sweep and `tsuite cloud gc` remove.
 */

const PROJECT = 'tsuite-standin';
const ZONE = 'us-central1-a';
const BUCKET = 'tsuite-standin-staging';

let standin: GcpStandin;
let configDir: string;

beforeAll(async () => {
  standin = await GcpStandin.start({ project: PROJECT, zone: ZONE, bucket: BUCKET });
  configDir = tempDir('gcp-config');
  const gcp = { project: PROJECT, zone: ZONE, bucket: BUCKET, machineType: 'e2-small', computeEndpoint: standin.url, storageEndpoint: standin.url };
  const cloud = { consolePollMs: 500, operationTimeoutMs: 30_000 };
  const config = {
    targets: {
      'gcp-standin': { runner: 'gcp', gcp, cloud, bootTimeoutMs: 240_000 },
      'gcp-fixture': { runner: 'gcp', kernel: 'fixture', gcp, cloud, bootTimeoutMs: 240_000 },
      // An operation that never completes must end at tsuite's deadline, not hang the run.
      'gcp-short': { runner: 'gcp', gcp, cloud: { ...cloud, operationTimeoutMs: 4_000 }, bootTimeoutMs: 240_000 },
    },
  };
  writeFileSync(join(configDir, 'tsuite.config.ts'), `export default ${JSON.stringify(config, null, 2)};\n`);
  // A suite that is still running when the SIGINT comes: the mid-suite interrupt.
  mkdirSync(join(configDir, 'tsuite'));
  writeFileSync(join(configDir, 'tsuite', 'slow.suite.ts'), SLOW_SUITE);
}, 60_000);

afterAll(async () => {
  await standin?.close();
});

const env = () => ({ GOOGLE_APPLICATION_CREDENTIALS: standin.credentialsFile });

/** Runs the CLI against the stand-in; `when` (a request path pattern) sends `signal` to it once the stand-in sees that call. */
async function cli(args: string[], opts: { when?: RegExp | ((out: string) => boolean); signal?: NodeJS.Signals; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult & { out: string }> {
  const out = tempDir('gcp-run');
  const full = args[0] === 'run' ? [...args, '--output-dir', out, '--reporter', 'console,json,junit,tap'] : args;
  const run = startCli(full, opts.env ?? env(), configDir);
  if (opts.when) {
    const seen = standin.requests.length;
    void (async () => {
      while (run.child.exitCode === null) {
        const when = opts.when;
        const now = typeof when === 'function' ? when(out) : standin.requests.slice(seen).some((r) => when.test(`${r.method} ${r.path}`));
        if (now) {
          run.child.kill(opts.signal ?? 'SIGINT');
          return;
        }
        await sleep(50);
      }
    })();
  }
  return { ...(await run.done), out };
}

const results = readResults;
const provenance = (dir: string, session = 'gcp-standin-1') => readProvenance(dir, session);
const empty = { instances: [], images: [], objects: [] };

const expectNoSecrets = (run: CliResult & { out: string }) => expectNoSecretsIn(run, standin.secrets);

describe('a gcp target against the GCE stand-in', () => {
  it('runs the boot suite on the reference kernel end to end, keeps the evidence and deletes everything', async () => {
    const run = await cli(['run', '--target', 'gcp-standin', '--suite', 'boot']);
    const r = results(run.out, run);
    const statuses = Object.fromEntries(r.tests.map((t) => [t.id, t.status]));
    expect(run.code, run.stderr).toBe(0);
    for (const id of ['boot/reaches-landmark', 'boot/boot-time', 'boot/no-kernel-errors', 'boot/cmdline', 'boot/cpus', 'boot/memory', 'boot/arch']) expect(statuses[id], id).toBe('passed');
    // The serial port is output only: there is no power-off to type, and the test says so.
    expect(r.tests.find((t) => t.id === 'boot/clean-shutdown')).toMatchObject({ status: 'skipped', reason: expect.stringContaining('serial console is output only') });

    const log = readFileSync(join(run.out, 'gcp-standin-1', 'console.log'), 'utf8');
    expect(log).toMatch(/BdsDxe: starting Boot/); // OVMF, from the stand-in's real boot
    expect(log).toContain('tsuite-boot: ready');
    const p = provenance(run.out);
    expect(p.steps.map((s) => [s.step, s.ok])).toEqual([
      ['credentials', true], ['sweep', true], ['disk', true], ['package', true], ['prove-locally', true], ['upload', true], ['import', true], ['launch', true],
      ['console', true], ['landmark', true], ['teardown', true],
    ]);
    expect(p).toMatchObject({ place: { provider: 'gcp', machineType: 'e2-small', firmware: 'uefi', where: { project: PROJECT, zone: ZONE } }, cleanedUp: true, console: { gaps: [] } });
    expect(p.package!.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(p.kernel.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(p.localProof).toMatchObject({ ok: true, packageSha256: p.package!.sha256, firmware: 'uefi' });
    expect(p.teardown.map((t) => [t.kind, t.result])).toEqual([['instance', 'deleted'], ['image', 'deleted'], ['object', 'deleted']]);
    expect(r.sessions[0]!.cloud).toMatchObject({ provider: 'gcp', cleanedUp: true, leftovers: [] });
    // What was launched: no external IP, no service account, serial port on, tsuite's labels.
    const insert = standin.instancesCreated.at(-1) as { networkInterfaces?: { accessConfigs?: unknown[] }[]; serviceAccounts?: unknown[]; labels?: Record<string, string>; metadata?: unknown };
    expect(insert.networkInterfaces?.[0]?.accessConfigs ?? []).toEqual([]);
    expect(insert.metadata).toMatchObject({ items: [{ key: 'serial-port-enable', value: 'TRUE' }] });
    expect(insert.serviceAccounts ?? []).toEqual([]);
    expect(insert.labels).toMatchObject({ 'tsuite-run': expect.any(String), 'tsuite-target': 'gcp-standin' });
    expect(standin.inventory()).toEqual(empty);
    expectNoSecrets(run);
  }, 600_000);

  it("runs the fixture kernel's in-kernel KTAP tests from the imported disk", async () => {
    const run = await cli(['run', '--target', 'gcp-fixture', '--suite', 'kernel']);
    const r = results(run.out, run);
    const ktap = r.tests.filter((t) => t.id.startsWith('kernel/fixture/'));
    expect(ktap.length, run.stderr).toBeGreaterThan(3);
    expect(ktap.filter((t) => t.status !== 'passed')).toEqual([]);
    expect(r.tests.find((t) => t.id === 'kernel/exit-status')).toMatchObject({ status: 'skipped', reason: expect.stringContaining('no exit device') });
    expect(run.code, run.stderr).toBe(0);
    expect(standin.inventory()).toEqual(empty);
  }, 600_000);
});

describe('a fault at each step ends with nothing left, the evidence kept and the step named', () => {
  const faults: [GcpFaultStep, RegExp, string][] = [
    // The library gives up on a streamed upload the server lost, in its own words.
    ['sts', /gcp credentials failed: no usable Google credentials: getting an access token: /, 'credentials'],
    ['upload', /gcp upload failed: uploading gs:\/\/tsuite-standin-staging\/tsuite-\S+-pkg\.tar\.gz: /, 'upload'],
    ['import', /gcp import failed: importing image tsuite-\S+-img: operation \S+ failed: INVALID_IMAGE_FILE: /, 'import'],
    ['quota', /gcp launch failed: launching instance tsuite-\S+-vm: Quota 'CPUS' exceeded.* \(HTTP 403 quotaExceeded QUOTA_EXCEEDED\)/, 'launch'],
    ['launch', /gcp launch failed: launching instance tsuite-\S+-vm: operation \S+ failed: ZONE_RESOURCE_POOL_EXHAUSTED: /, 'launch'],
    ['serial', /gcp console failed: reading the serial console of tsuite-\S+-vm: Internal error.* \(HTTP 500 backendError\)/, 'console'],
  ];
  for (const [fault, message, step] of faults) {
    it(`${fault}`, async () => {
      standin.fail(fault, { times: fault === 'serial' || fault === 'upload' ? Infinity : 1 });
      try {
        const run = await cli(['run', '--target', 'gcp-standin', '--suite', 'boot']);
        expect(run.code, run.stderr).toBe(3);
        expect(run.stdout + run.stderr).toMatch(message);
        const r = results(run.out, run);
        // Every test that would have run is the harness's failure, never the kernel's; power-off was never possible.
        expect(r.tests.filter((t) => t.status !== 'skipped').every((t) => t.status === 'infraError')).toBe(true);
        expect(r.tests.filter((t) => t.status === 'infraError').length).toBe(7);
        expect(r.run.infraError?.message).toMatch(message);
        const p = provenance(run.out);
        expect(p.steps.find((s) => s.ok === false)?.step).toMatch(new RegExp(`^${step}$`));
        expect(p.cleanedUp).toBe(true);
        expect(standin.inventory()).toEqual(empty);
        expectNoSecrets(run);
      } finally {
        standin.clearFaults();
      }
    }, 300_000);
  }

  it('no credentials at all: a clear error before anything is created, for run, ls and gc alike', async () => {
    // No metadata server here either: the libraries are told not to wait for one.
    const none = { GOOGLE_APPLICATION_CREDENTIALS: join(configDir, 'no-such-credentials.json'), HOME: configDir, METADATA_SERVER_DETECTION: 'none' };
    const seen = standin.requests.length;
    const run = await cli(['run', '--target', 'gcp-standin', '--suite', 'boot'], { env: none });
    expect(run.code, run.stderr).toBe(3);
    expect(run.stdout).toMatch(/gcp credentials failed: no usable Google credentials/);
    expect(run.stdout).toContain('gcloud auth application-default login');
    for (const sub of ['ls', 'gc']) {
      const c = await cli(['cloud', sub, '--target', 'gcp-standin'], { env: none });
      expect(c.code, c.stderr).toBe(3);
      expect(c.stderr).toMatch(/^tsuite: no usable Google credentials/m);
      expect(c.stderr).not.toMatch(/\n\s+at /); // a message, not a stack trace
    }
    expect(standin.requests.slice(seen).filter((r) => !r.path.startsWith('/v1/token'))).toEqual([]);
  }, 120_000);

  it('one failed upload chunk is sent again and the upload completes', async () => {
    standin.fail('upload', { times: 1 });
    try {
      const run = await cli(['run', '--target', 'gcp-fixture', '--suite', 'kernel']);
      expect(run.code, run.stdout + run.stderr).toBe(0);
      expect(standin.faultsFired).toContain('upload');
      expect(standin.requests.some((r) => r.path.includes('upload_id') && r.status === 503)).toBe(true);
      expect(standin.inventory()).toEqual(empty);
    } finally {
      standin.clearFaults();
    }
  }, 300_000);

  it('an operation that never completes ends at the deadline', async () => {
    standin.fail('operation-hang', { times: 1 });
    try {
      const run = await cli(['run', '--target', 'gcp-short', '--suite', 'boot']);
      expect(run.code).toBe(3);
      expect(run.stdout + run.stderr).toMatch(/did not complete within 4000 ms/);
      expect(standin.inventory()).toEqual(empty);
    } finally {
      standin.clearFaults();
    }
  }, 300_000);
});

describe('a console the provider discards faster than it is read', () => {
  it('keeps what was read, marks the gap in console.log where it happened, and records it in cloud.json', async () => {
    // A second stand-in whose serial port keeps only 2 KiB, read every 4 s: the boot outruns it.
    const small = await GcpStandin.start({ project: PROJECT, zone: ZONE, bucket: BUCKET, serialWindowBytes: 2048 });
    try {
      const dir = tempDir('gcp-gap');
      const gcp = { project: PROJECT, zone: ZONE, bucket: BUCKET, computeEndpoint: small.url, storageEndpoint: small.url };
      writeFileSync(join(dir, 'tsuite.config.ts'), `export default ${JSON.stringify({ targets: { 'gcp-standin': { runner: 'gcp', gcp, cloud: { consolePollMs: 4000 } } } })};\n`);
      const out = tempDir('gcp-gap-run');
      const run = await startCli(['run', '--target', 'gcp-standin', '--suite', 'boot', '--output-dir', out], { GOOGLE_APPLICATION_CREDENTIALS: small.credentialsFile }, dir).done;
      const log = readFileSync(join(out, 'gcp-standin-1', 'console.log'), 'utf8');
      expect(log, run.stderr).toMatch(/\[tsuite: the provider discarded serial output bytes \d+-\d+ before tsuite could read them: \d+ bytes lost\]/);
      expect(log).toContain('tsuite-boot: ready');
      const p = provenance(out);
      expect(p.console.gaps.length).toBeGreaterThan(0);
      expect(p.console.gaps.every((g) => g.to > g.from)).toBe(true);
      expect(small.inventory()).toEqual(empty);
    } finally {
      await small.close();
    }
  }, 300_000);
});

describe('a resource teardown cannot delete', () => {
  it('is listed loudly with the command that deletes it, fails the run as infra, and `tsuite cloud gc --run` removes it later', async () => {
    const runId = `leak-${Date.now()}`;
    standin.fail('delete-image', { times: Infinity });
    let run: CliResult & { out: string };
    try {
      run = await cli(['run', '--target', 'gcp-standin', '--suite', 'boot', '--run-id', runId]);
    } finally {
      standin.clearFaults();
    }
    expect(run.code, run.stderr).toBe(3);
    const image = standin.inventory().images;
    expect(image).toHaveLength(1);
    expect(run.stderr).toContain('1 gcp resource(s) could NOT be deleted and may cost money');
    expect(run.stderr).toContain(`delete it with: gcloud compute images delete ${image[0]} --project ${PROJECT} --quiet`);
    const r = results(run.out, run);
    expect(r.tests.filter((t) => t.status === 'passed').length).toBe(7);
    expect(r.sessions[0]!.cloud).toMatchObject({ cleanedUp: false, leftovers: [{ kind: 'image', name: image[0] }] });
    expect(provenance(run.out).teardown.find((t) => t.kind === 'image')).toMatchObject({ result: 'failed', attempts: 4 });
    // The instance and the staged object went; only the image is left, and gc finds it by run.
    expect(standin.inventory()).toEqual({ instances: [], images: image, objects: [] });
    const gc = await cli(['cloud', 'gc', '--target', 'gcp-standin', '--run', runId]);
    expect(gc.code, gc.stderr).toBe(0);
    expect(gc.stderr).toContain(`orphan image ${image[0]} (run ${runId} was named to be swept): deleted`);
    expect(standin.inventory()).toEqual(empty);
  }, 300_000);
});

describe('SIGINT at each step deletes what was created', () => {
  const points: [string, RegExp, string][] = [
    ['upload', /\/upload\/storage\/v1\/b\//, 'upload'],
    ['import', /POST \/compute\/v1\/projects\/[^/]+\/global\/images(\?|$)/, 'import'],
    ['launch', /POST \/compute\/v1\/projects\/[^/]+\/zones\/[^/]+\/instances(\?|$)/, 'launch'],
    // The interrupt lands during the first read or just after it, while the landmark is awaited.
    ['first console read', /serialPort/, '(console|landmark)'],
  ];
  for (const [what, when, step] of points) {
    it(what, async () => {
      const run = await cli(['run', '--target', 'gcp-standin', '--suite', 'boot'], { when });
      expect(run.code, run.stderr).toBe(130);
      expect(run.stderr).toContain(`SIGINT received`);
      expect(run.stderr).toMatch(new RegExp(`gcp: interrupted during ${step}; deleting what this session created`));
      expect(standin.inventory()).toEqual(empty);
      const p = provenance(run.out);
      expect(p.steps.find((s) => s.ok === false)?.step).toMatch(new RegExp(`^${step}$`));
      expect(p.teardown.length).toBeGreaterThan(0);
      expect(p.teardown.every((t) => t.result !== 'failed')).toBe(true);
      expect(p.cleanedUp).toBe(true);
    }, 300_000);
  }

  it('mid-suite', async () => {
    // The landmark is on the console and the slow suite's test is waiting.
    const log = (out: string) => join(out, 'gcp-standin-1', 'console.log');
    const midSuite = (out: string) => existsSync(log(out)) && readFileSync(log(out), 'utf8').includes('tsuite-boot: ready');
    const run = await cli(['run', '--target', 'gcp-standin', '--suite', 'slow'], { when: midSuite });
    expect(run.code, run.stderr).toBe(130);
    const r = results(run.out, run);
    expect(r.tests.find((t) => t.id === 'slow/waits')).toMatchObject({ status: 'skipped', reason: expect.stringContaining('interrupted by SIGINT') });
    expect(r.run.interrupted).toEqual({ signal: 'SIGINT' });
    expect(r.sessions[0]!.cloud).toMatchObject({ cleanedUp: true, leftovers: [] });
    expect(provenance(run.out).teardown.map((t) => [t.kind, t.result])).toEqual([['instance', 'deleted'], ['image', 'deleted'], ['object', 'deleted']]);
    expect(readFileSync(log(run.out), 'utf8')).toContain('tsuite-boot: ready');
    expect(standin.inventory()).toEqual(empty);
  }, 300_000);
});

describe('a SIGKILLed run', () => {
  it('leaves resources that `tsuite cloud ls` shows as orphans and `tsuite cloud gc` removes, images and objects included', async () => {
    await cli(['run', '--target', 'gcp-standin', '--suite', 'boot'], { when: /POST \/compute\/v1\/projects\/[^/]+\/zones\/[^/]+\/instances(\?|$)/, signal: 'SIGKILL' });
    await sleep(1_000);
    const left = standin.inventory();
    expect(left.objects.length + left.images.length).toBeGreaterThan(0);
    const ls = await cli(['cloud', 'ls', '--target', 'gcp-standin', '--json']);
    const rows = JSON.parse(ls.stdout) as { kind: string; orphan: boolean }[];
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.every((r) => r.orphan)).toBe(true);
    const gc = await cli(['cloud', 'gc', '--target', 'gcp-standin']);
    expect(gc.code, gc.stderr).toBe(0);
    expect(gc.stdout).toMatch(/swept \d+ orphan/);
    expect(standin.inventory()).toEqual(empty);
  }, 300_000);

  it("leaves resources that the next run's sweep removes before it creates anything", async () => {
    await cli(['run', '--target', 'gcp-standin', '--suite', 'boot'], { when: /POST \/compute\/v1\/projects\/[^/]+\/global\/images(\?|$)/, signal: 'SIGKILL' });
    await sleep(1_000);
    const left = standin.inventory();
    expect(left.objects.length).toBe(1);
    expect(left.images.length).toBe(1);
    // The next run fails its own upload: what is left then can only be what its sweep did not remove.
    standin.fail('upload');
    try {
      const next = await cli(['run', '--target', 'gcp-standin', '--suite', 'boot']);
      expect(next.stderr).toContain(`orphan image ${left.images[0]}`);
      expect(next.stderr).toContain(`orphan object ${left.objects[0]}`);
      expect(next.stderr).toMatch(/process \d+ is gone\)\): deleted/);
      expect(standin.inventory()).toEqual(empty);
    } finally {
      standin.clearFaults();
    }
  }, 300_000);
});
