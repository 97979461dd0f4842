import {
  buildProbes,
  InfraError,
  parseKtapAll,
  scanKernelEvents,
  TestOutcome,
  type ProbeArch,
  type TestContext,
} from '../src/index.js';
import { outputTail, uploadOnce } from './guest-upload.js';
import { ktapChild, linesBefore, reportedKtapTests } from './ktap-results.js';

/** Where the probes are copied in the guest. */
export const PROBE_DIR = '/opt/tsuite/probes';

/**
 * Runs one probe in the guest over the agent (as root, cwd /tmp) and reports each KTAP behaviour
 * it prints as a child result under `prefix`. A kernel that died meanwhile makes it `crashed`; a
 * probe that printed no KTAP is a `parseError`; a probe missing from the guest is an infraError.
 */
export async function runProbe(ctx: TestContext, probe: string, prefix: string, timeoutMs: number): Promise<void> {
  const agent = ctx.session.agent;
  if (!agent) throw new InfraError('the session has no agent channel', 'boot a target whose guest runs qemu-ga');
  await uploadOnce(ctx.session, agent, PROBE_DIR, async () => {
    const built = await buildProbes(ctx.target.arch as ProbeArch);
    return { dir: built.dir, names: built.probes };
  });
  const fromLine = ctx.session.console.lines.length;
  const res = await agent.exec(['/bin/sh', '-c', `cd /tmp && exec ${PROBE_DIR}/${probe}`], { timeoutMs });
  if (res.exitCode === 127) {
    throw new InfraError(`probe ${probe} is not in the guest (${outputTail(res.stderr, 2)})`, 'boot the tsuite initramfs, which carries the probes, or copy them to ' + PROBE_DIR);
  }
  const out = res.stdout.toString('utf8').split('\n');
  const docs = parseKtapAll(out);
  for (const { id, test } of reportedKtapTests(docs)) ctx.emit(ktapChild(`${prefix}${id}`, test, (line) => linesBefore(out, line)));

  const trouble = scanKernelEvents(ctx.session.console.lines.map((l) => l.text), ctx.session.eventPatterns, fromLine);
  if (trouble.length > 0) throw new TestOutcome('crashed', `the kernel reported ${trouble[0]!.kind} while ${probe} ran: ${trouble[0]!.text}`);
  if (docs.length === 0) {
    throw new TestOutcome('parseError', `probe ${probe} printed no KTAP (exit ${res.exitCode ?? `signal ${res.signal}`}); stderr:\n${outputTail(res.stderr)}`);
  }
  if (res.signal !== undefined) throw new TestOutcome('failed', `probe ${probe} died by signal ${res.signal}; stderr:\n${outputTail(res.stderr)}`);
  if (res.exitCode !== 0) throw new TestOutcome('failed', `probe ${probe} exited with ${res.exitCode}; stderr:\n${outputTail(res.stderr)}`);
}
