import {
  buildProbes,
  InfraError,
  parseKtapAll,
  scanKernelEvents,
  TestOutcome,
  guestPath,
  shellWord,
  type GuestAgent,
  type ProbeArch,
  type TestContext,
} from '../src/index.js';
import { PROBES_IN_IMAGE } from '../oci-images/index.js';
import { outputTail, uploadOnce } from './guest-upload.js';
import { runInContainer, type ProbeRun } from './probe-container.js';
import { ktapChild, linesBefore, reportedKtapTests } from './ktap-results.js';

/** Where the probes are copied in the guest (and where the probes image carries them). */
export const PROBE_DIR = PROBES_IN_IMAGE;

/** In the guest over the agent, as root with cwd /tmp (both under the agent's scratch root on the local target). */
async function runOverAgent(ctx: TestContext, agent: GuestAgent, probe: string, timeoutMs: number): Promise<ProbeRun> {
  const dir = await uploadOnce(ctx.session, agent, PROBE_DIR, async () => {
    const built = await buildProbes(ctx.target.arch as ProbeArch);
    return { dir: built.dir, names: built.probes };
  });
  const res = await agent.exec(['/bin/sh', '-c', `cd ${shellWord(guestPath(agent, '/tmp'))} && exec ${shellWord(dir)}/${probe}`], { timeoutMs });
  if (res.exitCode === 127) {
    throw new InfraError(`probe ${probe} is not in the guest (${outputTail(res.stderr, 2)})`, 'boot the tsuite initramfs, which carries the probes, or copy them to ' + PROBE_DIR);
  }
  return res;
}

/**
 * Runs one probe and reports each KTAP behaviour it prints as a child result under `prefix`:
 * in the guest over the agent (as root, cwd /tmp), or, for a target with only a Docker Engine
 * API, in a container. A kernel that died meanwhile makes it `crashed`; a probe that printed no
 * KTAP is a `parseError`; a probe missing from the guest is an infraError.
 */
export async function runProbe(ctx: TestContext, probe: string, prefix: string, timeoutMs: number): Promise<void> {
  const { agent, docker } = ctx.session;
  if (!agent && !docker) throw new InfraError('the session has neither an agent nor a docker channel', 'boot a target whose guest runs qemu-ga, or one with a Docker endpoint');
  const fromLine = ctx.session.console.lines.length;
  const res = agent ? await runOverAgent(ctx, agent, probe, timeoutMs) : await runInContainer(ctx, docker!, probe, timeoutMs);
  reportKtapRun(ctx, res, probe, prefix, fromLine);
}

/**
 * Reports what one KTAP-printing program left (`res`), started when the console had `fromLine`
 * lines: each behaviour as a child under `prefix`; a kernel that reported trouble meanwhile makes
 * the test `crashed`, no KTAP a `parseError`, a signal or a non-zero exit `failed`.
 */
export function reportKtapRun(ctx: TestContext, res: ProbeRun, probe: string, prefix: string, fromLine: number): void {
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
