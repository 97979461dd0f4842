import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ResourceManagementClient } from '@azure/arm-resources';
import { ClientSecretCredential } from '@azure/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readVhdFooter, vhdGeometry, VHD_FOOTER_BYTES, DISK_TYPE_FIXED } from '../../kernel/images/vhd.js';
import { AzureStandin, type AzureFaultOptions, type AzureFaultStep } from '../support/azure-standin/index.js';
import { startCli, tempDir, type CliResult } from './cli.js';
import { expectNoSecrets as expectNoSecretsIn, readProvenance, readResults } from './cloud-evidence.js';

/**
 * The whole cloud pipeline on Azure's wire contract, through the CLI a nightly job runs and
 * Microsoft's own SDKs, against the Azure stand-in (Entra ID + Resource Manager over HTTPS, Azurite
 * for blobs, QEMU + OVMF booting the imported VHD): one resource group per session, the fixed VHD
 * staged as a page blob, a managed disk imported from it, a VM attaching it, the boot-diagnostics
 * serial log as the console, teardown as one group deletion plus the blob. Then a fault at each
 * step, a teardown that cannot delete, a half-created group, and a SIGINT.
 */

const SUBSCRIPTION = '3f2b8c1e-5d4a-4c6b-9e7f-0a1b2c3d4e5f';
const LOCATION = 'westeurope';
const CONTAINER = 'tsuite-staging';

let standin: AzureStandin;
let standinDir: string;
let configDir: string;

beforeAll(async () => {
  // Our own folder, so the VHD the stand-in copied out of blob storage for each import can be read back.
  standinDir = tempDir('azure-standin');
  standin = await AzureStandin.start({ subscriptionId: SUBSCRIPTION, location: LOCATION, storageAccount: 'devstoreaccount1', container: CONTAINER, dir: standinDir });
  configDir = tempDir('azure-config');
  const azure = {
    subscriptionId: SUBSCRIPTION, location: LOCATION, storageAccount: 'devstoreaccount1', container: CONTAINER, subnetId: standin.subnetId,
    armEndpoint: standin.armUrl, blobEndpoint: standin.blobUrl, authorityHost: standin.authorityHost,
  };
  const cloud = { consolePollMs: 500, operationTimeoutMs: 30_000 };
  const config = {
    targets: {
      'azure-standin': { runner: 'azure', azure, cloud, bootTimeoutMs: 240_000 },
      'azure-fixture': { runner: 'azure', kernel: 'fixture', azure, cloud, bootTimeoutMs: 240_000 },
      // An operation that never completes must end at tsuite's deadline, not hang the run.
      'azure-short': { runner: 'azure', azure, cloud: { ...cloud, operationTimeoutMs: 5_000 }, bootTimeoutMs: 240_000 },
      // A console that never shows anything must end at the boot timeout.
      'azure-blind': { runner: 'azure', azure, cloud, bootTimeoutMs: 12_000 },
    },
  };
  writeFileSync(join(configDir, 'tsuite.config.ts'), `export default ${JSON.stringify(config, null, 2)};\n`);
  mkdirSync(join(configDir, 'tsuite'));
}, 60_000);

afterAll(async () => {
  await standin?.close();
  if (standinDir) rmSync(standinDir, { recursive: true, force: true });
});

/** Runs the CLI against the stand-in; once the stand-in answers a call matching `when` (`METHOD path status`), `act` runs (default: SIGINT the CLI). */
async function cli(args: string[], opts: { when?: RegExp; act?: () => void; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult & { out: string }> {
  const out = tempDir('azure-run');
  const full = args[0] === 'run' ? [...args, '--output-dir', out, '--reporter', 'console,json,junit,tap'] : args;
  const run = startCli(full, opts.env ?? standin.env(), configDir);
  if (opts.when) {
    const seen = standin.requests.length;
    void (async () => {
      while (run.child.exitCode === null) {
        if (standin.requests.slice(seen).some((r) => opts.when!.test(`${r.method} ${r.path} ${r.status ?? ''}`))) {
          if (opts.act) opts.act();
          else run.child.kill('SIGINT');
          return;
        }
        await sleep(50);
      }
    })();
  }
  return { ...(await run.done), out };
}

const results = readResults;
const provenance = (dir: string, session = 'azure-standin-1') => readProvenance(dir, session);
const empty = { groups: [], images: [], vms: [], nics: [], disks: [], blobs: [] };

/** The planted client secret, federated token, access tokens and SAS signatures. */
const expectNoSecrets = (run: CliResult & { out: string }) => {
  expect(standin.secrets.length).toBeGreaterThan(2);
  expectNoSecretsIn(run, standin.secrets);
};

async function sha256(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path)) h.update(c as Buffer);
  return h.digest('hex');
}

/** The VHDs the stand-in copied out of blob storage (one per disk import), newest last. */
const importedVhds = () => {
  const d = join(standinDir, 'disks');
  return existsSync(d) ? readdirSync(d).map((f) => join(d, f)).sort((a, b) => statSync(a).mtimeMs - statSync(b).mtimeMs) : [];
};

const requestsSince = (n: number) => standin.requests.slice(n).map((r) => `${r.method} ${decodeURIComponent(r.path.split('?')[0]!)}${r.path.includes('comp=page') ? '?comp=page' : ''}`);

describe('an azure target against the Azure stand-in', () => {
  it('runs the boot suite on the reference kernel end to end from the exact bytes uploaded, keeps the evidence and deletes the group in one deletion', async () => {
    const seen = standin.requests.length;
    const vhdsBefore = importedVhds().length;
    const run = await cli(['run', '--target', 'azure-standin', '--suite', 'boot']);
    const r = results(run.out, run);
    const statuses = Object.fromEntries(r.tests.map((t) => [t.id, t.status]));
    expect(run.code, `${run.stderr}\n${JSON.stringify(r.tests.filter((t) => t.status !== 'passed'), null, 1)}`).toBe(0);
    for (const id of ['boot/reaches-landmark', 'boot/boot-time', 'boot/no-kernel-errors', 'boot/cmdline', 'boot/cpus', 'boot/memory', 'boot/arch']) expect(statuses[id], id).toBe('passed');
    expect(r.tests.find((t) => t.id === 'boot/clean-shutdown')).toMatchObject({ status: 'skipped', reason: expect.stringContaining('serial console is output only') });

    const log = readFileSync(join(run.out, 'azure-standin-1', 'console.log'), 'utf8');
    expect(log).toMatch(/BdsDxe: starting Boot/); // OVMF, from the stand-in's real boot of the imported disk
    expect(log).toContain('tsuite-boot: ready');
    const p = provenance(run.out);
    expect(p.steps.map((s) => [s.step, s.ok])).toEqual([
      ['credentials', true], ['sweep', true], ['disk', true], ['package', true], ['prove-locally', true], ['group', true], ['upload', true], ['import', true], ['launch', true],
      ['console', true], ['landmark', true], ['teardown', true],
    ]);
    expect(p).toMatchObject({
      place: { provider: 'azure', machineType: 'Standard_B2s', firmware: 'uefi', where: { subscription: SUBSCRIPTION, location: LOCATION, storage: `devstoreaccount1/${CONTAINER}` } },
      cleanedUp: true, console: { gaps: [] },
    });
    const group = p.resources.group!;
    expect(group).toMatch(/^tsuite-.*-rg$/);
    expect(p.resources.object).toMatch(/^tsuite-.*-pkg\.vhd$/);
    // Teardown: the staged blob, then the group holding disk, NIC and VM, in one deletion.
    expect(p.teardown.map((t) => [t.kind, t.name, t.result])).toEqual([['object', p.resources.object, 'deleted'], ['group', group, 'deleted']]);
    const calls = requestsSince(seen);
    expect(calls.filter((c) => c.startsWith('DELETE /subscriptions/'))).toEqual([`DELETE /subscriptions/${SUBSCRIPTION}/resourcegroups/${group}`]);
    expect(r.sessions[0]!.cloud).toMatchObject({ provider: 'azure', cleanedUp: true, leftovers: [], resources: { group } });

    // The package is a fixed VHD whose footer checks out when read back, and the local proof booted those bytes.
    const pkg = p.package!;
    expect(pkg).toMatchObject({ format: 'vhd', bytes: pkg.diskBytes + VHD_FOOTER_BYTES });
    expect(p.localProof).toMatchObject({ ok: true, packageSha256: pkg.sha256, firmware: 'uefi' });
    expect(await sha256(pkg.path)).toBe(pkg.sha256);
    // What Azure imported (the stand-in copied the page blob out of Azurite) is the package, byte for byte.
    const imported = importedVhds();
    expect(imported.length).toBe(vhdsBefore + 1);
    expect(await sha256(imported.at(-1)!)).toBe(pkg.sha256);
    const footer = await readVhdFooter(imported.at(-1)!);
    expect(footer).toMatchObject({ currentSize: pkg.diskBytes, originalSize: pkg.diskBytes, diskType: DISK_TYPE_FIXED, geometry: vhdGeometry(pkg.diskBytes) });
    // Page writes of at most 4 MiB, zero ranges skipped: fewer writes than 4 MiB pieces.
    const pageWrites = calls.filter((c) => c.endsWith('?comp=page')).length;
    expect(pageWrites).toBeGreaterThan(0);
    expect(pageWrites).toBeLessThan(Math.ceil(pkg.bytes / (4 * 1024 * 1024)));

    expect(standin.inventory()).toEqual(empty);
    expectNoSecrets(run);
  }, 600_000);

  it("runs the fixture kernel's in-kernel KTAP tests from the imported disk (client-secret credentials; two serial-log reads served empty mid-boot)", async () => {
    // Once the log has output, two reads come back empty: the stream must neither repeat the log nor mark a loss.
    const fired = standin.faultsFired.length;
    const run = await cli(['run', '--target', 'azure-fixture', '--suite', 'kernel'], {
      env: standin.env('secret'), when: /^GET \/bootdiagnostics\/\S+ 200$/, act: () => standin.fail('console-empty', { times: 2 }),
    });
    const r = results(run.out, run);
    const ktap = r.tests.filter((t) => t.id.startsWith('kernel/fixture/'));
    expect(ktap.length, run.stderr).toBeGreaterThan(3);
    expect(ktap.filter((t) => t.status !== 'passed')).toEqual([]);
    expect(run.code, run.stderr).toBe(0);
    const p = provenance(run.out, 'azure-fixture-1');
    expect(p.localProof).toMatchObject({ ok: true, packageSha256: p.package!.sha256 });
    expect(standin.faultsFired.slice(fired)).toEqual(['console-empty', 'console-empty']);
    expect(p.console.gaps).toEqual([]);
    const log = readFileSync(join(run.out, 'azure-fixture-1', 'console.log'), 'utf8');
    expect(log).not.toContain('[tsuite: the provider discarded');
    expect(log.split('BdsDxe: starting Boot').length - 1).toBe(1);
    expect(await sha256(importedVhds().at(-1)!)).toBe(p.package!.sha256);
    expect(standin.inventory()).toEqual(empty);
    expectNoSecrets(run);
  }, 600_000);
});

describe('a fault at each step ends with nothing left, the evidence kept and the step and Azure error named', () => {
  // [fault, hits, target, what the run says, the step cloud.json names, Azure's error if not the fault's default]
  const faults: [AzureFaultStep, number, string, RegExp, string, AzureFaultOptions?][] = [
    ['token', Infinity, 'azure-standin', /azure credentials failed: no usable Azure credentials: getting an access token: AADSTS700213: No matching federated identity record found .* \(invalid_client\)/, 'credentials'],
    ['group', Infinity, 'azure-standin', /azure group failed: creating resource group tsuite-\S+-rg: .*\(HTTP 500 InternalServerError\)/, 'group'],
    ['upload', Infinity, 'azure-standin', /azure upload failed: uploading devstoreaccount1\/tsuite-staging\/tsuite-\S+-pkg\.vhd: .*\(HTTP 503 ServerBusy\)/, 'upload'],
    ['image', 1, 'azure-standin', /azure import failed: importing disk tsuite-\S+-img: .*InternalOperationError/, 'import'],
    ['quota', 1, 'azure-standin', /azure launch failed: launching VM tsuite-\S+-vm: .*quota.*\(HTTP 409 OperationNotAllowed\)/i, 'launch'],
    ['launch', 1, 'azure-standin', /azure launch failed: launching VM tsuite-\S+-vm: .*AllocationFailed/, 'launch'],
    ['launch-timeout', 1, 'azure-short', /azure launch failed: launching VM tsuite-\S+-vm: not done after 5000 ms/, 'launch'],
    ['operation-hang', 1, 'azure-short', /azure import failed: importing disk tsuite-\S+-img: not done after 5000 ms/, 'import'],
    // The role without retrieveBootDiagnosticsData: refused at once (a 5xx is retried by the SDK, as `group` and `upload` show).
    ['console', Infinity, 'azure-standin', /azure console failed: reading the boot diagnostics of tsuite-\S+-vm: The client .* does not have authorization .* \(HTTP 403 AuthorizationFailed\)/, 'console', {
      status: 403, code: 'AuthorizationFailed',
      message: "The client 'tsuite-ci' with object id '00000000-0000-0000-0000-000000000001' does not have authorization to perform action 'Microsoft.Compute/virtualMachines/retrieveBootDiagnosticsData/action' over scope '/subscriptions/…' or the scope is invalid.",
    }],
  ];
  for (const [fault, times, target, message, step, as] of faults) {
    it(`${fault}`, async () => {
      standin.fail(fault, { times, ...as });
      try {
        const run = await cli(['run', '--target', target, '--suite', 'boot']);
        expect(run.code, run.stderr).toBe(3);
        expect(run.stdout + run.stderr).toMatch(message);
        const r = results(run.out, run);
        // Every test that would have run is the harness's failure, never the kernel's.
        expect(r.tests.filter((t) => t.status !== 'skipped').every((t) => t.status === 'infraError')).toBe(true);
        expect(r.tests.filter((t) => t.status === 'infraError').length).toBe(7);
        expect(r.run.infraError?.message).toMatch(message);
        const p = provenance(run.out, `${target}-1`);
        expect(p.steps.find((s) => s.ok === false)?.step).toBe(step);
        expect(p.cleanedUp).toBe(true);
        expect(p.teardown.every((t) => t.result !== 'failed')).toBe(true);
        expect(standin.faultsFired).toContain(fault);
        expect(standin.inventory()).toEqual(empty);
        expectNoSecrets(run);
      } finally {
        standin.clearFaults();
      }
    }, 300_000);
  }

  it('console-empty: a serial log that never shows anything ends at the boot timeout, named, with everything deleted', async () => {
    standin.fail('console-empty', { times: Infinity });
    try {
      const run = await cli(['run', '--target', 'azure-blind', '--suite', 'boot']);
      // Nothing on the console is the kernel's failure to show a landmark: the boot times out.
      expect(run.code, run.stderr).toBe(1);
      expect(run.stdout + run.stderr).toMatch(/boot landmark .* not seen on the instance's serial console within 12000 ms/);
      expect(results(run.out, run).tests.filter((t) => t.status === 'timedOut').length).toBe(7);
      const p = provenance(run.out, 'azure-blind-1');
      expect(p.steps.find((s) => s.ok === false)?.step).toBe('landmark');
      expect(p.cleanedUp).toBe(true);
      expect(p.console).toMatchObject({ bytes: 0, gaps: [] });
      expect(existsSync(join(run.out, 'azure-blind-1', 'console.log'))).toBe(true);
      expect(standin.inventory()).toEqual(empty);
      expectNoSecrets(run);
    } finally {
      standin.clearFaults();
    }
  }, 300_000);
});

describe('a resource group teardown cannot delete', () => {
  it('is listed loudly with the command that deletes it, fails the run as infra, `tsuite cloud ls` shows it and `tsuite cloud gc --run` removes it', async () => {
    const runId = `leak-${Date.now()}`;
    standin.fail('delete-group', { times: Infinity });
    let run: CliResult & { out: string };
    try {
      run = await cli(['run', '--target', 'azure-standin', '--suite', 'boot', '--run-id', runId]);
    } finally {
      standin.clearFaults();
    }
    expect(run.code, run.stderr).toBe(3);
    const left = standin.inventory();
    expect(left.groups).toHaveLength(1);
    const group = left.groups[0]!;
    expect(left.blobs).toEqual([]); // the blob is not in the group: it went
    expect(left.vms).toHaveLength(1);
    expect(run.stderr).toContain('1 azure resource(s) could NOT be deleted and may cost money');
    expect(run.stderr).toMatch(/ResourceGroupDeletionBlocked/);
    expect(run.stderr).toContain(`delete it with: az group delete --name ${group} --subscription ${SUBSCRIPTION} --yes`);
    const r = results(run.out, run);
    expect(r.tests.filter((t) => t.status === 'passed').length).toBe(7);
    expect(r.sessions[0]!.cloud).toMatchObject({ cleanedUp: false, leftovers: [{ kind: 'group', name: group }] });
    expect(provenance(run.out).teardown.find((t) => t.kind === 'group')).toMatchObject({ result: 'failed', attempts: 4 });
    expectNoSecrets(run);

    const ls = await cli(['cloud', 'ls', '--target', 'azure-standin', '--json']);
    expect(ls.code, ls.stderr).toBe(0);
    const rows = JSON.parse(ls.stdout) as { kind: string; name: string; run: string | null; target: string | null }[];
    expect(rows).toEqual([expect.objectContaining({ kind: 'group', name: group, run: runId, target: 'azure-standin' })]);
    const human = await cli(['cloud', 'ls', '--target', 'azure-standin']);
    expect(human.stdout).toContain(group);

    const gc = await cli(['cloud', 'gc', '--target', 'azure-standin', '--run', runId]);
    expect(gc.code, gc.stderr).toBe(0);
    expect(gc.stderr).toContain(`orphan group ${group} (run ${runId} was named to be swept): deleted`);
    expect(standin.inventory()).toEqual(empty);
  }, 300_000);
});

describe('a half-created resource group', () => {
  it('(a tsuite name and no tags) is swept by `tsuite cloud gc --older-than 0`', async () => {
    const secretEnv = standin.env('secret');
    const credential = new ClientSecretCredential(standin.tenantId, standin.clientId, secretEnv.AZURE_CLIENT_SECRET!, { authorityHost: standin.authorityHost, disableInstanceDiscovery: true, tlsOptions: { ca: standin.ca } } as never);
    const rm = new ResourceManagementClient(credential, SUBSCRIPTION, { endpoint: standin.armUrl, credentialScopes: ['https://management.azure.com/.default'], tlsOptions: { ca: standin.ca } } as never);
    const name = 'tsuite-halfway-0-abcdef-rg';
    await rm.resourceGroups.createOrUpdate(name, { location: LOCATION });
    // Not tsuite's: a group named otherwise is never touched.
    await rm.resourceGroups.createOrUpdate('someone-elses-rg', { location: LOCATION });
    try {
      expect(standin.inventory().groups).toEqual(['someone-elses-rg', name]);
      const gc = await cli(['cloud', 'gc', '--target', 'azure-standin', '--older-than', '0']);
      expect(gc.code, gc.stderr).toBe(0);
      expect(gc.stderr).toContain(`orphan group ${name} (named like tsuite's but without any label or creation time (a creation that failed half-way)): deleted`);
      expect(standin.inventory().groups).toEqual(['someone-elses-rg']);
    } finally {
      await rm.resourceGroups.beginDeleteAndWait('someone-elses-rg', { updateIntervalInMs: 200 });
    }
    expect(standin.inventory()).toEqual(empty);
  }, 120_000);
});

describe('SIGINT', () => {
  it('during launch deletes everything the session created', async () => {
    const run = await cli(['run', '--target', 'azure-standin', '--suite', 'boot'], { when: /^PUT .*\/providers\/Microsoft\.Compute\/virtualMachines\//i });
    expect(run.code, run.stderr).toBe(130);
    expect(run.stderr).toContain('SIGINT received');
    expect(run.stderr).toMatch(/azure: interrupted during launch; deleting what this session created/);
    const p = provenance(run.out);
    expect(p.steps.find((s) => s.ok === false)?.step).toBe('launch');
    expect(p.teardown.map((t) => [t.kind, t.result])).toEqual([['object', 'deleted'], ['group', 'deleted']]);
    expect(p.cleanedUp).toBe(true);
    expect(standin.inventory()).toEqual(empty);
    expectNoSecrets(run);
  }, 300_000);
});
