import {
  buildBench,
  InfraError,
  scanKernelEvents,
  TestOutcome,
  type ProbeArch,
  type TestContext,
} from '../../src/index.js';
import { outputTail, uploadOnce } from '../guest-upload.js';
import type { BenchProgram } from './metrics.js';
import { parseBenchOutput } from './output.js';

/** Where the benchmarks are copied in the guest. */
export const BENCH_DIR = '/opt/tsuite/bench';

/**
 * Runs one benchmark in the guest over the agent (as root) and reports each metric it prints, as
 * raw samples. It fails when it exits non-zero (its stderr says why), prints output outside the
 * contract, or prints other metrics than `expected` declares; `crashed` when the kernel died meanwhile.
 */
export async function runBenchProgram(ctx: TestContext, expected: BenchProgram, timeoutMs: number): Promise<void> {
  const agent = ctx.session.agent;
  if (!agent) throw new InfraError('the session has no agent channel', 'boot a target whose guest runs qemu-ga');
  const dir = await uploadOnce(ctx.session, agent, BENCH_DIR, async () => {
    const built = await buildBench(ctx.target.arch as ProbeArch);
    return { dir: built.dir, names: built.programs };
  });
  const { program } = expected;
  const fromLine = ctx.session.console.lines.length;
  const res = await agent.exec([`${dir}/${program}`], { timeoutMs });
  if (res.exitCode === 127) {
    throw new InfraError(`benchmark ${program} is not in the guest (${outputTail(res.stderr, 2)})`, `copy it to ${BENCH_DIR}, or boot a guest whose agent can write files there`);
  }
  const trouble = scanKernelEvents(ctx.session.console.lines.map((l) => l.text), ctx.session.eventPatterns, fromLine);
  if (trouble.length > 0) throw new TestOutcome('crashed', `the kernel reported ${trouble[0]!.kind} while ${program} ran: ${trouble[0]!.text}`);
  if (res.signal !== undefined) throw new TestOutcome('failed', `benchmark ${program} died by signal ${res.signal}; stderr:\n${outputTail(res.stderr)}`);
  if (res.exitCode !== 0) throw new TestOutcome('failed', `benchmark ${program} exited with ${res.exitCode}: ${outputTail(res.stderr) || '(no message on stderr)'}`);

  let lines;
  try {
    lines = parseBenchOutput(res.stdout.toString('utf8'));
  } catch (err) {
    throw new TestOutcome('parseError', `benchmark ${program}: ${(err as Error).message}`);
  }
  const problems: string[] = [];
  for (const want of expected.metrics) {
    const got = lines.find((l) => l.name === want.name);
    if (!got) problems.push(`no ${want.name}`);
    else if (got.unit !== want.unit || got.better !== want.better) {
      problems.push(`${want.name} in ${got.unit}, ${got.better} is better; expected ${want.unit}, ${want.better} is better`);
    }
  }
  for (const l of lines) if (!expected.metrics.some((m) => m.name === l.name)) problems.push(`unexpected metric ${l.name}`);
  // Numbers under the wrong name or unit would poison the history: none are reported then.
  if (problems.length > 0) throw new TestOutcome('parseError', `benchmark ${program} does not print what the bench suite declares: ${problems.join('; ')}`);
  for (const l of lines) {
    const def = expected.metrics.find((m) => m.name === l.name)!;
    ctx.metric({ name: l.name, unit: l.unit, better: l.better, samples: l.samples, ...(def.counted ? { counted: def.counted } : {}) });
  }
}
