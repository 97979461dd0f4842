import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ConsoleChannel } from '../../src/channels/console.js';
import { BootFailure, InfraError, UsageError } from '../../src/core/errors.js';
import { fileDigest } from '../../src/core/file-digest.js';
import { createProgress } from '../../src/core/progress.js';
import type { ProvisionRequest } from '../../src/core/runner.js';
import type { ExitInfo } from '../../src/core/session.js';
import { cloudDisk } from '../../kernel/images/cloud-disk.js';
import { resourceNames, runLabels } from './cloud-labels.js';
import { CloudApiError, describePlace, type CloudProvider } from './cloud-provider.js';
import { CloudSession } from './cloud-session.js';
import { connectPrivateChannels } from './private-channels.js';
import { proveLocally } from './prove-locally.js';
import { newProvenance, PROVENANCE_FILE, writeProvenance, type CloudStep, type Provenance } from './provenance.js';
import type { CloudSessionInfo } from '../../src/core/result.js';
import { SerialConsole } from './serial-console.js';
import { DEFAULT_GRACE_MINUTES, sweepOrphans } from './sweep.js';
import { leftoversMessage, Teardown } from './teardown.js';
import { waitForCloudLandmark } from './cloud-landmark.js';

const DEFAULT_POLL_MS = 2_000;

/**
 * One cloud session, the same for every provider: sweep orphans, package the disk, prove the
 * package boots locally, upload, import, launch, read the console to the landmark, connect what
 * the instance's network allows. Every resource is registered for teardown before the call that
 * creates it; teardown runs in reverse order when the session closes, and at once if any step
 * fails or the run is interrupted. The evidence (console.log, cloud.json) is kept on every path.
 */
export async function provisionOnCloud(provider: CloudProvider, req: ProvisionRequest, signal: AbortSignal): Promise<CloudSession> {
  const cloud = req.cloud;
  if (!cloud) throw new UsageError(`the ${provider.place.provider} runner needs a cloud target`, 'configure a target with runner, and its provider settings, in tsuite.config.ts');
  await mkdir(req.dir, { recursive: true });
  const progress = createProgress(process.stderr, !process.stderr.isTTY && process.env.CI === 'true');
  const name = provider.place.provider;
  const names = resourceNames(cloud.runId, req.sessionId, provider.packageExtension);
  const inGroup = (kind: 'image' | 'instance') => provider.createGroup !== undefined && (provider.groupHolds ?? []).includes(kind);
  const labels = runLabels(cloud.runId, cloud.target);
  const prov = newProvenance(cloud.runId, req.sessionId, cloud.target, provider.place, cloud.kernel);
  const save = () => writeProvenance(req.dir, prov).catch(() => undefined);
  const teardown = new Teardown(provider);
  const settings = cloud.def.cloud ?? {};
  let current: CloudStep = 'credentials';

  const step = async <T>(which: CloudStep, work: () => Promise<T>): Promise<T> => {
    current = which;
    const rec: Provenance['steps'][number] = { step: which, startedAt: new Date().toISOString() };
    prov.steps.push(rec);
    await save();
    try {
      signal.throwIfAborted();
      const value = await work();
      rec.ok = true;
      return value;
    } catch (err) {
      rec.ok = false;
      rec.error = err instanceof Error ? err.message : String(err);
      throw err;
    } finally {
      rec.endedAt = new Date().toISOString();
      await save();
    }
  };

  const group = provider.createGroup ? `resource group ${names.group} holding ` : '';
  process.stderr.write(`tsuite: ${name}: session ${req.sessionId} creates in ${describePlace(provider.place)}: staged object ${names.object}, ${group}image ${names.image}, ` +
    `instance ${names.instance} (${provider.place.machineType}, UEFI, no external IP, no service account); all are deleted when the session ends\n`);

  let serial: SerialConsole | undefined;
  let session: CloudSession | undefined;
  const console = new ConsoleChannel(Date.now());
  if (req.onConsoleLine) console.onLine((l) => req.onConsoleLine!(l.text));

  /** Last console read, evidence, teardown: on every path, once. */
  let finished: Promise<ExitInfo> | undefined;
  const finish = (exit: ExitInfo): Promise<ExitInfo> =>
    (finished ??= (async () => {
      await serial?.stop().catch(() => undefined);
      const rec: Provenance['steps'][number] = { step: 'teardown', startedAt: new Date().toISOString() };
      prov.steps.push(rec);
      await save();
      prov.teardown = await teardown.run();
      prov.cleanedUp = teardown.failed.length === 0;
      rec.endedAt = new Date().toISOString();
      rec.ok = prov.cleanedUp;
      // EC2 posts a machine's console when it stops: the last lines of a terminated instance come now.
      if (serial && provider.consoleAfterTermination && !serial.failure) await serial.readOnce().catch(() => undefined);
      await serial?.close();
      if (serial) prov.console = { bytes: serial.bytes, gaps: [...serial.gaps], readErrors: serial.readErrors };
      await save();
      const deleted = prov.teardown.filter((t) => t.result === 'deleted').map((t) => `${t.kind} ${t.name}`);
      if (deleted.length > 0) process.stderr.write(`tsuite: ${name}: deleted ${deleted.join(', ')}\n`);
      if (teardown.failed.length > 0) process.stderr.write(leftoversMessage(name, teardown.failed));
      if (session) session.cloud = cloudInfo(prov);
      return exit;
    })());

  try {
    await step('credentials', () => provider.checkCredentials());
    await step('sweep', () => sweepOrphans(provider, { currentRun: labels['tsuite-run'], graceMs: (settings.sweepGraceMinutes ?? DEFAULT_GRACE_MINUTES) * 60_000, quiet: false }));
    const disk = await step('disk', async () => {
      const d = await cloudDisk(cloud.def, { kernel: cloud.kernel, boot: req.boot }, progress);
      prov.disk = { path: d.path, source: d.source };
      if (req.boot.kernel) prov.kernel.sha256 = (await fileDigest(req.boot.kernel)).sha256;
      return d;
    });
    const pkg = await step('package', () => progress.step(`Packaging the disk for ${name}`, () => provider.packageImage(disk.path, progress)));
    prov.package = { ...pkg };
    prov.localProof = await step('prove-locally', () => proveLocally(provider, pkg, req, { cmdline: disk.cmdline }, signal));

    if (provider.createGroup) {
      teardown.register({ kind: 'group', name: names.group });
      const created = await step('group', () => provider.createGroup!(names.group, labels, signal));
      prov.resources.group = created.name;
    }
    teardown.register({ kind: 'object', name: names.object });
    const object = await step('upload', () => progress.step(`Uploading ${names.object}`, () => provider.upload(pkg, names.object, labels, signal)));
    prov.resources.object = object.name;
    // What lives in the group goes with it: one deletion, nothing left inside.
    if (!inGroup('image')) teardown.register({ kind: 'image', name: names.image });
    const image = await step('import', () => progress.step(`Importing image ${names.image}`, () => provider.importImage(object, names.image, labels, signal)));
    prov.resources.image = image.name;
    if (!inGroup('instance')) teardown.register({ kind: 'instance', name: names.instance });
    const launched = await step('launch', () => progress.step(`Launching instance ${names.instance}`, () => provider.launch(image, names.instance, labels, signal)));
    prov.resources.instance = launched.resource.name;
    prov.resources.privateIp = launched.privateIp;

    const booted = new CloudSession(req.sessionId, req.dir, console, req.eventPatterns,
      { arch: req.arch, cpus: launched.cpus ?? 0, memoryMb: launched.memoryMb ?? 0, cmdline: disk.cmdline, firmware: 'uefi' },
      `a ${name} instance (${provider.place.machineType}): the provider's hypervisor, not QEMU on this host`,
      (reason) => finish({ kind: 'stopped', detail: `${name} instance deleted ${reason}` }));
    session = booted;
    booted.cloud = cloudInfo(prov);
    // A log from an earlier run in this folder must go before this session's is opened for appending.
    await rm(join(req.dir, 'console.log'), { force: true });
    const live = new SerialConsole((start) => provider.readSerial(launched.resource, start), console, join(req.dir, 'console.log'),
      settings.consolePollMs ?? DEFAULT_POLL_MS, async () => {
        const state = await provider.instanceState(launched.resource);
        if (state === undefined || provider.isStopped(state)) booted.machineEnded({ kind: 'exit-code', detail: `the ${name} instance stopped by itself (${state ?? 'gone'})` });
      });
    serial = live;
    await step('console', async () => {
      // The first read is the one that proves the console can be read at all.
      live.start();
      await Promise.race([live.lost, waitFirstRead(live)]);
    });
    const landmark = await step('landmark', () => waitForCloudLandmark(req, booted, live, signal));
    booted.bootMs = landmark.line.atMs;
    booted.landmarkLine = landmark.index;
    // Lost after the landmark, the console cannot fail the boot any more: say so where the user looks.
    live.lost.catch((err: unknown) => process.stderr.write(`tsuite: ${name}: lost the serial console of ${names.instance} ` +
      `(${err instanceof Error ? err.message : String(err)}): tests waiting for console output will time out; cloud.json counts the failed reads\n`));
    if (settings.privateNetwork) await step('channels', () => connectPrivateChannels(booted, launched, req, signal));
    return booted;
  } catch (err) {
    const failedStep = current;
    if (signal.aborted) process.stderr.write(`tsuite: ${name}: interrupted during ${failedStep}; deleting what this session created\n`);
    await finish({ kind: 'killed', detail: `the ${failedStep} step failed` });
    throw stepError(provider, failedStep, err, signal);
  }
}

function cloudInfo(p: Provenance): CloudSessionInfo {
  return {
    provider: p.place.provider, where: p.place.where, machineType: p.place.machineType,
    resources: { group: p.resources.group, object: p.resources.object, image: p.resources.image, instance: p.resources.instance },
    cleanedUp: p.cleanedUp,
    leftovers: p.teardown.filter((t) => t.result === 'failed').map((t) => ({ kind: t.kind, name: t.name, deleteCommand: t.deleteCommand })),
    consoleGaps: p.console.gaps.length,
    provenance: PROVENANCE_FILE,
  };
}

/** Resolves once the console has been read successfully at least once. */
async function waitFirstRead(serial: SerialConsole): Promise<void> {
  while (serial.reads === 0 && !serial.failure) await new Promise((r) => setTimeout(r, 50));
  if (serial.failure) throw serial.failure;
}

/** A step's failure as the user sees it: which step, which provider, the provider's own words, the fix. */
function stepError(provider: CloudProvider, step: CloudStep, err: unknown, signal: AbortSignal): unknown {
  if (signal.aborted) return signal.reason ?? err;
  if (err instanceof BootFailure || err instanceof UsageError) return err;
  const name = provider.place.provider;
  if (err instanceof CloudApiError) return new InfraError(`${name} ${step} failed: ${err.message}`, stepFix(provider, step));
  if (err instanceof InfraError) return new InfraError(`${name} ${step} failed: ${err.message}`, err.fix);
  return err;
}

/** What to do about a step's failure: the provider's words first; `credentials` is also the CLI's fix for `tsuite cloud`. */
export function stepFix(provider: Pick<CloudProvider, 'fixes'>, step: CloudStep): string {
  return provider.fixes?.[step] ?? GENERIC_FIXES[step] ?? 'see the provider error above; cloud.json in the session folder records each step';
}

const GENERIC_FIXES: Partial<Record<CloudStep, string>> = {
  sweep: 'check that the credentials may list and delete what tsuite creates (see "Cloud targets" in the README)',
  import: 'check the credentials may create images, and that the package is a valid disk (it booted locally: see local-proof/ in the session folder)',
  console: "the serial console could not be read: check the credentials may read it; the console read so far is in console.log",
};
