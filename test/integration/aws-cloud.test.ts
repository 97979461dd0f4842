import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AwsStandin, type AwsFaultStep } from '../support/aws-standin/index.js';
import { startCli, tempDir, type CliResult } from './cli.js';
import { expectNoSecrets as expectNoSecretsIn, readProvenance, readResults, SLOW_SUITE } from './cloud-evidence.js';

/**
 * The whole cloud pipeline on the real kernel against the EC2/S3 stand-in, through the official
 * AWS SDK v3 and the CLI a nightly job runs: package (raw, whole GiB), local proof, multipart
 * upload, ImportSnapshot + RegisterImage, launch (the stand-in boots the imported bytes under QEMU
 * + OVMF), the console from GetConsoleOutput, the suites, the evidence and teardown. Then a fault
 * at each step, a resource teardown cannot delete, a console longer than EC2's 64 KB, SIGINT and
 * SIGKILL. One stand-in serves every test but the console one; the package and its local proof
 * are cached by content, so only the first run builds and boots them.
 */

const REGION = 'eu-west-1';
const BUCKET = 'tsuite-standin-staging';

let standin: AwsStandin;
let configDir: string;

const awsSettings = (s: AwsStandin) => ({ region: REGION, bucket: BUCKET, subnetId: s.subnetId, ec2Endpoint: s.ec2Url, s3Endpoint: s.s3Url });
const cloud = { consolePollMs: 500, operationTimeoutMs: 30_000 };

beforeAll(async () => {
  standin = await AwsStandin.start({ region: REGION, bucket: BUCKET, importMs: 600, stepMs: 200, consolePostMs: 1_000 });
  configDir = tempDir('aws-config');
  const aws = awsSettings(standin);
  const config = {
    targets: {
      'aws-standin': { runner: 'aws', aws, cloud, bootTimeoutMs: 240_000 },
      'aws-fixture': { runner: 'aws', kernel: 'fixture', aws, cloud, bootTimeoutMs: 240_000 },
      // An import or a launch that never completes must end at tsuite's deadline, not hang the run.
      'aws-short': { runner: 'aws', aws, cloud: { ...cloud, operationTimeoutMs: 4_000 }, bootTimeoutMs: 240_000 },
    },
  };
  writeFileSync(join(configDir, 'tsuite.config.ts'), `export default ${JSON.stringify(config, null, 2)};\n`);
  mkdirSync(join(configDir, 'tsuite'));
  writeFileSync(join(configDir, 'tsuite', 'slow.suite.ts'), SLOW_SUITE);
}, 60_000);

afterAll(async () => {
  await standin?.close();
});

/** Runs the CLI against the stand-in; `when` sends `signal` to it once the stand-in sees that EC2/S3 action (or the predicate holds). */
async function cli(args: string[], opts: { when?: RegExp | ((out: string) => boolean); signal?: NodeJS.Signals; cwd?: string; env?: NodeJS.ProcessEnv; on?: AwsStandin } = {}): Promise<CliResult & { out: string }> {
  const s = opts.on ?? standin;
  const out = tempDir('aws-run');
  const full = args[0] === 'run' ? [...args, '--output-dir', out, '--reporter', 'console,json,junit,tap'] : args;
  const run = startCli(full, opts.env ?? s.env(), opts.cwd ?? configDir);
  const when = opts.when;
  if (when) {
    const seen = s.requests.length;
    void (async () => {
      while (run.child.exitCode === null) {
        const now = typeof when === 'function' ? when(out) : s.requests.slice(seen).some((r) => when.test(r.action));
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
const provenance = (dir: string, session = 'aws-standin-1') => readProvenance(dir, session);
const EMPTY = { instances: [], images: [], snapshots: [], volumes: [], objects: [], importTasks: [] };

const expectNoSecrets = (run: CliResult & { out: string }, s = standin) => expectNoSecretsIn(run, s.secrets);

describe('an aws target against the EC2/S3 stand-in', () => {
  it('runs the boot suite on the reference kernel end to end from the exact bytes proved locally, and deletes everything', async () => {
    const imported = standin.importedObjects().length;
    const run = await cli(['run', '--target', 'aws-standin', '--suite', 'boot']);
    const r = results(run.out, run);
    const statuses = Object.fromEntries(r.tests.map((t) => [t.id, t.status]));
    expect(run.code, run.stderr).toBe(0);
    for (const id of ['boot/reaches-landmark', 'boot/boot-time', 'boot/no-kernel-errors', 'boot/cmdline', 'boot/cpus', 'boot/memory', 'boot/arch']) expect(statuses[id], id).toBe('passed');
    expect(r.tests.find((t) => t.id === 'boot/clean-shutdown')).toMatchObject({ status: 'skipped', reason: expect.stringContaining('serial console is output only') });

    const log = readFileSync(join(run.out, 'aws-standin-1', 'console.log'), 'utf8');
    expect(log).toMatch(/BdsDxe: starting Boot/); // OVMF, from the stand-in's real boot
    expect(log).toContain('tsuite-boot: ready');
    const p = provenance(run.out);
    expect(p.steps.map((s) => [s.step, s.ok])).toEqual([
      ['credentials', true], ['sweep', true], ['disk', true], ['package', true], ['prove-locally', true], ['upload', true], ['import', true], ['launch', true],
      ['console', true], ['landmark', true], ['teardown', true],
    ]);
    expect(p).toMatchObject({ place: { provider: 'aws', machineType: 't3.small', firmware: 'uefi', where: { region: REGION, bucket: `s3://${BUCKET}`, subnet: standin.subnetId } }, cleanedUp: true, console: { gaps: [] } });
    // The package: a raw disk of whole GiB; the local proof booted those very bytes.
    expect(p.package).toMatchObject({ format: 'raw', sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(p.package!.bytes % 1024 ** 3).toBe(0);
    expect(p.localProof).toMatchObject({ ok: true, packageSha256: p.package!.sha256, firmware: 'uefi' });
    // ...and what S3 served to the import is byte for byte the package.
    const read = standin.importedObjects().slice(imported);
    expect(read).toEqual([{ taskId: expect.any(String), key: p.resources.object, bytes: p.package!.bytes, sha256: p.package!.sha256 }]);
    expect(p.resources).toMatchObject({ object: expect.stringMatching(/^tsuite-\S+-pkg\.raw$/), image: expect.stringMatching(/-img$/), instance: expect.stringMatching(/-vm$/), privateIp: expect.stringMatching(/^172\.31\.0\./) });
    expect(p.teardown.map((t) => [t.kind, t.result])).toEqual([['instance', 'deleted'], ['image', 'deleted'], ['object', 'deleted']]);
    expect(r.sessions[0]!.cloud).toMatchObject({ provider: 'aws', cleanedUp: true, leftovers: [] });
    // EC2 was asked for what the issue requires: ImportSnapshot (never ImportImage), RegisterImage, CreateTags on the snapshot.
    const actions = new Set(standin.requests.map((q) => q.action));
    for (const a of ['ImportSnapshot', 'RegisterImage', 'CreateTags', 'RunInstances', 'GetConsoleOutput', 'TerminateInstances', 'DeregisterImage']) expect(actions, a).toContain(a);
    expect(actions).not.toContain('ImportImage');
    expect(standin.inventory()).toEqual(EMPTY);
    expectNoSecrets(run);
  }, 600_000);

  it("runs the fixture kernel's in-kernel KTAP tests from the imported disk, signed in keylessly as CI is (web identity through STS)", async () => {
    const seen = standin.requests.length;
    const run = await cli(['run', '--target', 'aws-fixture', '--suite', 'kernel'], { env: standin.webIdentityEnv() });
    // No key in the environment: the SDK's chain exchanged the OIDC token file at STS first.
    expect(standin.requests.slice(seen).find((q) => q.service === 'ec2')?.action).toBe('AssumeRoleWithWebIdentity');
    const r = results(run.out, run);
    const ktap = r.tests.filter((t) => t.id.startsWith('kernel/fixture/'));
    expect(ktap.length, run.stderr).toBeGreaterThan(3);
    expect(ktap.filter((t) => t.status !== 'passed')).toEqual([]);
    expect(run.code, run.stderr).toBe(0);
    expect(provenance(run.out, 'aws-fixture-1')).toMatchObject({ cleanedUp: true, localProof: { ok: true } });
    expect(standin.inventory()).toEqual(EMPTY);
    expectNoSecrets(run);
  }, 600_000);
});

describe('a fault at each step ends with nothing left, the evidence kept and the step and provider error named', () => {
  const faults: [AwsFaultStep, string, RegExp, string][] = [
    ['upload', 'aws-standin', new RegExp(`aws upload failed: uploading s3://${BUCKET}/tsuite-\\S+-pkg\\.raw: InternalError: `), 'upload'],
    ['import-snapshot', 'aws-standin', /aws import failed: importing image tsuite-\S+-img: import task import-snap-\S+ failed \((?:deleting|deleted)\): ClientError: Disk validation failed/, 'import'],
    ['register-image', 'aws-standin', /aws import failed: importing image tsuite-\S+-img \(RegisterImage\): InvalidParameterValue: /, 'import'],
    ['quota', 'aws-standin', /aws launch failed: launching instance tsuite-\S+-vm: VcpuLimitExceeded: /, 'launch'],
    ['launch', 'aws-standin', /aws launch failed: launching instance tsuite-\S+-vm: InsufficientInstanceCapacity: /, 'launch'],
    ['operation-hang', 'aws-short', /aws import failed: importing image tsuite-\S+-img: import task import-snap-\S+ did not complete within 4000 ms/, 'import'],
    ['console', 'aws-standin', /aws console failed: reading the console of tsuite-\S+-vm: InternalError: /, 'console'],
  ];
  for (const [fault, target, message, step] of faults) {
    it(fault, async () => {
      // A 500 is retried by the SDK (and a console read by the lifecycle): keep failing.
      standin.fail(fault, { times: ['upload', 'launch', 'console'].includes(fault) ? Infinity : 1 });
      try {
        const run = await cli(['run', '--target', target, '--suite', 'boot']);
        expect(run.code, run.stderr).toBe(3);
        expect(run.stdout + run.stderr).toMatch(message);
        expect(standin.faultsFired).toContain(fault);
        const r = results(run.out, run);
        expect(r.tests.filter((t) => t.status !== 'skipped').every((t) => t.status === 'infraError')).toBe(true);
        expect(r.tests.filter((t) => t.status === 'infraError').length).toBe(7);
        expect(r.run.infraError?.message).toMatch(message);
        const p = provenance(run.out, `${target}-1`);
        expect(p.steps.find((s) => s.ok === false)?.step).toBe(step);
        expect(p.steps.find((s) => s.ok === false)?.error).toMatch(new RegExp(message.source.replace(/^aws \w+ failed: /, '')));
        expect(p.cleanedUp, JSON.stringify(p.teardown)).toBe(true);
        expect(p.teardown.every((t) => t.result !== 'failed')).toBe(true);
        expect(standin.inventory()).toEqual(EMPTY);
        expectNoSecrets(run);
      } finally {
        standin.clearFaults();
      }
    }, 300_000);
  }
});

describe('a refused sign-in', () => {
  it('ends at the credentials step with STS\'s error and the fix, having created nothing', async () => {
    standin.fail('sts', { times: Infinity });
    try {
      const seen = standin.requests.length;
      const run = await cli(['run', '--target', 'aws-standin', '--suite', 'boot'], { env: standin.webIdentityEnv() });
      expect(run.code, run.stderr).toBe(3);
      const infra = results(run.out, run).run.infraError;
      expect(infra?.message).toMatch(/^aws credentials failed: no usable AWS credentials: .*InvalidIdentityToken/);
      expect(infra?.fix).toMatch(/AWS_WEB_IDENTITY_TOKEN_FILE/);
      expect(provenance(run.out, 'aws-standin-1').steps.map((st) => [st.step, st.ok])).toEqual([['credentials', false], ['teardown', true]]);
      expect(standin.requests.slice(seen).every((q) => q.action === 'AssumeRoleWithWebIdentity')).toBe(true);
      expect(standin.inventory()).toEqual(EMPTY);
      expectNoSecrets(run);
    } finally {
      standin.clearFaults();
    }
  }, 120_000);
});

describe('a resource teardown cannot delete', () => {
  it('is listed loudly with the command that deletes it, fails the run as infra, and `tsuite cloud gc --run` removes it later', async () => {
    const runId = `leak-${Date.now()}`;
    standin.fail('delete-image', { times: Infinity });
    let run: CliResult & { out: string };
    try {
      run = await cli(['run', '--target', 'aws-fixture', '--suite', 'kernel', '--run-id', runId]);
    } finally {
      standin.clearFaults();
    }
    expect(run.code, run.stderr).toBe(3);
    const left = standin.inventory();
    expect(left.images).toHaveLength(1);
    expect(left.snapshots).toHaveLength(1);
    expect({ ...left, images: [], snapshots: [] }).toEqual(EMPTY);
    const p = provenance(run.out, 'aws-fixture-1');
    const image = p.resources.image!;
    expect(run.stderr).toContain('1 aws resource(s) could NOT be deleted and may cost money');
    expect(run.stderr).toMatch(new RegExp(`image ${image}: deleting image ${image} \\(DeregisterImage ami-\\S+\\): InternalError: `));
    expect(run.stderr).toContain(`delete it with: aws ec2 deregister-image --region ${REGION} --image-id $(aws ec2 describe-images`);
    const r = results(run.out, run);
    expect(r.tests.filter((t) => t.id.startsWith('kernel/fixture/') && t.status !== 'passed')).toEqual([]);
    expect(r.sessions[0]!.cloud).toMatchObject({ cleanedUp: false, leftovers: [{ kind: 'image', name: image }] });
    expect(p.teardown.find((t) => t.kind === 'image')).toMatchObject({ result: 'failed', attempts: 4 });
    expectNoSecrets(run);

    const gc = await cli(['cloud', 'gc', '--target', 'aws-standin', '--run', runId]);
    expect(gc.code, gc.stderr).toBe(0);
    expect(gc.stderr).toContain(`orphan image ${image} (run ${runId} was named to be swept): deleted`);
    expect(standin.inventory()).toEqual(EMPTY);
  }, 300_000);
});

describe('a console longer than the 64 KB EC2 keeps', () => {
  it('keeps the head (posted view) and the tail (Latest) with one gap marker between them, counted in cloud.json', async () => {
    // Its own stand-in: the console is posted only when the test says (once the log is past
    // 64 KiB, so the head is the boot's first 64 KiB), and read every 20 s while the guest prints.
    const big = await AwsStandin.start({ region: REGION, bucket: BUCKET, importMs: 600, stepMs: 200, consolePostMs: 3_600_000 });
    try {
      const dir = tempDir('aws-merge');
      const target = { runner: 'aws', aws: awsSettings(big), cloud: { consolePollMs: 20_000 }, bootTimeoutMs: 240_000, append: 'ignore_loglevel loglevel=8 initcall_debug memblock=debug efi=debug pci=earlydump' };
      writeFileSync(join(dir, 'tsuite.config.ts'), `export default ${JSON.stringify({ targets: { 'aws-standin': target } })};\n`);
      let posted = false;
      const postWhenLong = () => {
        const id = big.inventory().instances[0];
        const path = id && big.consolePath(id);
        if (!posted && path && existsSync(path) && statSync(path).size > 70 * 1024) {
          posted = true;
          void big.postConsole(id);
        }
        return false;
      };
      const run = await cli(['run', '--target', 'aws-standin', '--suite', 'boot'], { cwd: dir, on: big, when: postWhenLong });
      expect(posted, run.stderr).toBe(true);
      expect(results(run.out, run).tests.find((t) => t.id === 'boot/reaches-landmark')?.status, run.stderr).toBe('passed');
      const log = readFileSync(join(run.out, 'aws-standin-1', 'console.log'), 'utf8');
      const markers = log.match(/\[tsuite: the provider discarded serial output here[^\]]*\]/g) ?? [];
      expect(markers, log.slice(0, 2000)).toHaveLength(1);
      const [head, tail] = log.split(markers[0]!);
      expect(head).toMatch(/BdsDxe: starting Boot/); // the start of the boot, from the posted view
      expect(head).toMatch(/Linux version /);
      expect(tail).toContain('tsuite-boot: ready'); // the end of the boot, from Latest
      expect(log).not.toContain('[tsuite: EC2 posted the following earlier console output late');
      const p = provenance(run.out);
      expect(p.console.gaps).toHaveLength(1);
      expect(p.console.gaps[0]).toMatchObject({ lossUnknown: true });
      expect(results(run.out, run).sessions[0]!.cloud).toMatchObject({ consoleGaps: 1 });
      expect(big.inventory()).toEqual(EMPTY);
      expectNoSecrets(run, big);
    } finally {
      await big.close();
    }
  }, 400_000);
});

describe('SIGINT deletes what was created', () => {
  it('mid-suite', async () => {
    const log = (out: string) => join(out, 'aws-standin-1', 'console.log');
    const midSuite = (out: string) => existsSync(log(out)) && readFileSync(log(out), 'utf8').includes('tsuite-boot: ready');
    const run = await cli(['run', '--target', 'aws-standin', '--suite', 'slow'], { when: midSuite });
    expect(run.code, run.stderr).toBe(130);
    const r = results(run.out, run);
    expect(r.tests.find((t) => t.id === 'slow/waits')).toMatchObject({ status: 'skipped', reason: expect.stringContaining('interrupted by SIGINT') });
    expect(r.sessions[0]!.cloud).toMatchObject({ cleanedUp: true, leftovers: [] });
    expect(provenance(run.out).teardown.map((t) => [t.kind, t.result])).toEqual([['instance', 'deleted'], ['image', 'deleted'], ['object', 'deleted']]);
    expect(standin.inventory()).toEqual(EMPTY);
    expectNoSecrets(run);
  }, 300_000);
});

describe('a SIGKILLed run', () => {
  it('leaves resources that `tsuite cloud ls` shows as orphans and `tsuite cloud gc` removes, snapshots and objects included', async () => {
    await cli(['run', '--target', 'aws-standin', '--suite', 'boot'], { when: /^RunInstances$/, signal: 'SIGKILL' });
    await sleep(1_000);
    const left = standin.inventory();
    expect(left.objects).toHaveLength(1);
    expect(left.images).toHaveLength(1);
    expect(left.snapshots).toHaveLength(1);
    const ls = await cli(['cloud', 'ls', '--target', 'aws-standin', '--json']);
    expect(ls.code, ls.stderr).toBe(0);
    const rows = JSON.parse(ls.stdout) as { kind: string; name: string; orphan: boolean }[];
    expect(new Set(rows.map((r) => r.kind))).toEqual(new Set(['instance', 'image', 'snapshot', 'object']));
    expect(rows.every((r) => r.orphan)).toBe(true);
    const gc = await cli(['cloud', 'gc', '--target', 'aws-standin']);
    expect(gc.code, gc.stderr).toBe(0);
    expect(gc.stdout).toMatch(/swept \d+ orphan/);
    expect(standin.inventory()).toEqual(EMPTY);
    expectNoSecrets({ ...gc, stdout: gc.stdout + ls.stdout, stderr: gc.stderr + ls.stderr });
  }, 300_000);
});
