import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  buildProbes,
  InfraError,
  parseKtapAll,
  scanKernelEvents,
  TestOutcome,
  type AgentClient,
  type ProbeArch,
  type Session,
  type TestContext,
} from '../src/index.js';
import { ktapChild, linesBefore, reportedKtapTests } from './ktap-results.js';

/** Where the probes are copied in the guest. */
export const PROBE_DIR = '/opt/tsuite/probes';

const uploads = new WeakMap<Session, Promise<void>>();

/**
 * Copies the probes, built for the guest's arch on the host (cached; `tsuite setup` builds them),
 * into the guest over the agent, once per session.
 */
function uploadProbes(ctx: TestContext, agent: AgentClient): Promise<void> {
  let upload = uploads.get(ctx.session);
  if (!upload) {
    upload = (async () => {
      const built = await buildProbes(ctx.target.arch as ProbeArch);
      await agent.exec(['/bin/mkdir', '-p', PROBE_DIR], { timeoutMs: 10_000 });
      for (const name of built.probes) await agent.writeFile(`${PROBE_DIR}/${name}`, await readFile(join(built.dir, name)), 0o755);
    })();
    uploads.set(ctx.session, upload);
  }
  return upload;
}

const tail = (b: Buffer, n = 10) => b.toString('utf8').trim().split('\n').slice(-n).join('\n');

/**
 * Runs one probe in the guest over the agent (as root, cwd /tmp) and reports each KTAP behaviour
 * it prints as a child result under `prefix`. A kernel that died meanwhile makes it `crashed`; a
 * probe that printed no KTAP is a `parseError`; a probe missing from the guest is an infraError.
 */
export async function runProbe(ctx: TestContext, probe: string, prefix: string, timeoutMs: number): Promise<void> {
  const agent = ctx.session.agent;
  if (!agent) throw new InfraError('the session has no agent channel', 'boot a target whose guest runs qemu-ga');
  await uploadProbes(ctx, agent);
  const fromLine = ctx.session.console.lines.length;
  const res = await agent.exec(['/bin/sh', '-c', `cd /tmp && exec ${PROBE_DIR}/${probe}`], { timeoutMs });
  if (res.exitCode === 127) {
    throw new InfraError(`probe ${probe} is not in the guest (${tail(res.stderr, 2)})`, 'boot the tsuite initramfs, which carries the probes, or copy them to ' + PROBE_DIR);
  }
  const out = res.stdout.toString('utf8').split('\n');
  const docs = parseKtapAll(out);
  for (const { id, test } of reportedKtapTests(docs)) ctx.emit(ktapChild(`${prefix}${id}`, test, (line) => linesBefore(out, line)));

  const trouble = scanKernelEvents(ctx.session.console.lines.map((l) => l.text), ctx.session.eventPatterns, fromLine);
  if (trouble.length > 0) throw new TestOutcome('crashed', `the kernel reported ${trouble[0]!.kind} while ${probe} ran: ${trouble[0]!.text}`);
  if (docs.length === 0) {
    throw new TestOutcome('parseError', `probe ${probe} printed no KTAP (exit ${res.exitCode ?? `signal ${res.signal}`}); stderr:\n${tail(res.stderr)}`);
  }
  if (res.signal !== undefined) throw new TestOutcome('failed', `probe ${probe} died by signal ${res.signal}; stderr:\n${tail(res.stderr)}`);
  if (res.exitCode !== 0) throw new TestOutcome('failed', `probe ${probe} exited with ${res.exitCode}; stderr:\n${tail(res.stderr)}`);
}
