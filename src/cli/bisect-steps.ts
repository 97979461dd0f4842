import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { InfraError, UsageError, describeError } from '../core/errors.js';
import type { Progress } from '../core/progress.js';
import type { SuiteDef } from '../core/suite.js';
import { createReporters } from '../reporters/index.js';
import { buildFromSource } from '../../kernel/source-build.js';
import type { StepEvidence } from '../bisect/bisect-log.js';
import type { StepOutcome } from '../bisect/driver.js';
import { short } from '../bisect/driver.js';
import { classifyBracketed, classifyStep, type MetricSides } from '../bisect/metric-verdict.js';
import { verdictForTest } from '../bisect/test-verdict.js';
import type { PrivateWorktree } from '../bisect/worktree.js';
import type { RunResult } from '../core/result.js';
import { measureBoots, measureBracketed, measureInterleaved } from './bench-boots.js';
import { benchTarget } from './bench-run.js';
import { planFor, prepareTarget, runSuites, type PreparedTarget } from './suite-run.js';
import type { ResolvedTarget } from './target-options.js';

/** What every step shares: the target (its kernel source is the private worktree), where steps write, how long tests may take. */
export interface StepContext {
  target: ResolvedTarget;
  worktree: PrivateWorktree;
  runDir: string;
  available: readonly SuiteDef[];
  testTimeoutMs: number;
  signal: AbortSignal;
  progress: Progress;
  log(line: string): void;
}

export const stepDir = (ctx: StepContext, name: string) => join(ctx.runDir, 'steps', name);

/**
 * The chosen test's suite and the --test pattern that plans it. A KTAP child (`kernel/fixture/x`)
 * is reported by its suite's runner test (`kernel/ktap`), which no pattern on the child's id
 * plans: then the whole suite runs and the child's result is read from it.
 */
export function selectionFor(target: ResolvedTarget, id: string, available: readonly SuiteDef[]): { suites: string[]; grep?: string[] } {
  const suite = id.split('/')[0]!;
  if (!available.some((s) => s.name === suite)) {
    throw new UsageError(`--test ${id}: no suite '${suite}'`, `give a test id as results.json names it, <suite>/<test> (suites: ${available.map((s) => s.name).join(', ')})`);
  }
  try {
    planFor(target, [suite], [id], available);
    return { suites: [suite], grep: [id] };
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    return { suites: [suite] };
  }
}

/** Checks the commit out and builds it (cached by commit); a build that fails makes the step a skip. */
async function checkoutAndPrepare(ctx: StepContext, commit: string, dir: string): Promise<PreparedTarget | StepOutcome> {
  await ctx.worktree.checkout(commit);
  const def = ctx.target.def;
  try {
    await buildFromSource({ srcDir: ctx.worktree.dir, build: def.build ?? `make -j${availableParallelism()}`, artifact: def.kernelArtifact ?? '' }, ctx.progress);
  } catch (err) {
    if (!(err instanceof UsageError) && !(err instanceof InfraError)) throw err;
    return { verdict: 'skip', evidence: { status: 'build-failed', message: describeError(err), dir } };
  }
  const prepared = await prepareTarget(ctx.target, ctx.progress);
  if (prepared.resolveError) return { verdict: 'skip', evidence: { status: 'infraError', message: describeError(prepared.resolveError), dir } };
  return prepared;
}

const isOutcome = (x: PreparedTarget | StepOutcome): x is StepOutcome => 'verdict' in x;

/** Functional mode: one boot running only the chosen test (or its suite), judged by verdictForTest. */
export function testStep(ctx: StepContext, id: string): (commit: string, n: number) => Promise<StepOutcome> {
  const selection = selectionFor(ctx.target, id, ctx.available);
  return async (commit, n) => {
    const dir = stepDir(ctx, `${n}-${short(commit)}`);
    const prepared = await checkoutAndPrepare(ctx, commit, dir);
    if (isOutcome(prepared)) return prepared;
    const result = await runSuites(prepared, {
      ...selection,
      available: ctx.available,
      runId: `bisect-${n}-${short(commit)}`,
      outputDir: dir,
      reporters: createReporters(['json'], { outputDir: dir }),
      testTimeoutMs: ctx.testTimeoutMs,
      signal: ctx.signal,
    });
    return verdictForTest(result, id, dir);
  };
}

export interface MetricPlan {
  metric: string;
  suites: readonly string[];
  grep?: readonly string[];
  /** Boots per step at first, and the most a step may grow to while unsure. */
  boots: number;
  maxBoots: number;
  /**
   * Real time (not instruction counts): each boot of a step is bracketed by a boot of each
   * endpoint and judged against those (classifyBracketed), so a step costs three times its boots.
   */
  bracketed: boolean;
}

/** A metric's per-boot values, or why there are none. */
type Figures = { samples: number[]; unit: string } | { problem: string };

/** The metric's per-boot values from finished boots, or why there are none. */
async function figures(prepared: PreparedTarget, plan: MetricPlan, boots: readonly RunResult[], label: string): Promise<Figures> {
  if (boots.length === 0) return { problem: 'no boot ran' };
  const run = await benchTarget(prepared, [...boots], { runId: `bisect-${label}` });
  const m = run.metrics.find((x) => x.name === plan.metric);
  if (!m) {
    const problems = run.problems.map((p) => `${p.benchmark} ${p.status}: ${p.reason}`).join('; ');
    return { problem: `${plan.metric} was not measured (${problems || `measured: ${run.metrics.map((x) => x.name).join(', ') || 'nothing'}`})` };
  }
  if (m.samples.length !== boots.length) return { problem: `${plan.metric} was measured on ${m.samples.length} of ${boots.length} boots` };
  return { samples: m.samples, unit: m.unit };
}

const bootsRequest = (ctx: StepContext, plan: MetricPlan, dir: string, label: string) => ({
  runId: `bisect-${label}`, outputDir: dir, suites: plan.suites, available: ctx.available, grep: plan.grep, testTimeoutMs: ctx.testTimeoutMs, signal: ctx.signal, log: ctx.log,
});

/** The metric's per-boot values on `count` more boots of a prepared commit, or why there are none. */
async function measure(ctx: StepContext, prepared: PreparedTarget, plan: MetricPlan, count: number, dir: string, label: string): Promise<Figures> {
  return figures(prepared, plan, await measureBoots(prepared, count, bootsRequest(ctx, plan, dir, label), label), label);
}

type Role = 'good' | 'bad';

/** An endpoint commit checked out and built; one that cannot be is a usage error (nothing to compare against). */
async function prepareEndpoint(ctx: StepContext, role: Role, commit: string, dir: string): Promise<PreparedTarget> {
  const prepared = await checkoutAndPrepare(ctx, commit, dir);
  if (isOutcome(prepared)) throw new UsageError(`the ${role} commit ${short(commit)} cannot be measured: ${prepared.evidence.message}`, `give a --${role} commit that builds and boots`);
  return prepared;
}

/** An endpoint's figures as step evidence; a metric it does not report is a usage error. */
function endpointEvidence(role: Role, commit: string, got: Figures, dir: string): StepEvidence {
  if ('problem' in got) throw new UsageError(`the ${role} commit ${short(commit)}: ${got.problem}`, 'check --metric (`tsuite bench` lists the metrics) and the suite it comes from');
  return { samples: got.samples, unit: got.unit, dir };
}

/** An endpoint's measurement (mode metric), on `boots` boots: throws when it cannot be had. */
export async function measureEndpoint(ctx: StepContext, plan: MetricPlan, commit: string, role: Role, boots: number): Promise<StepEvidence> {
  const dir = stepDir(ctx, `${role}-${short(commit)}`);
  const prepared = await prepareEndpoint(ctx, role, commit, dir);
  return endpointEvidence(role, commit, await measure(ctx, prepared, plan, boots, dir, role), dir);
}

/**
 * Both endpoints in real time, booted pair by pair (good, bad, then bad, good): measured one after
 * the other, a burst of the host's load over one endpoint's boots could hide the regression or
 * invent one. `good[i]` and `bad[i]` are one pair (endpointsDiffer then pairs them).
 */
export async function measureEndpointPairs(ctx: StepContext, plan: MetricPlan, commits: Record<Role, string>, pairs: number): Promise<Record<Role, StepEvidence>> {
  const dir = stepDir(ctx, `endpoints-${short(commits.good)}-${short(commits.bad)}`);
  const good = await prepareEndpoint(ctx, 'good', commits.good, dir);
  const bad = await prepareEndpoint(ctx, 'bad', commits.bad, dir);
  const boots = await measureInterleaved(good, bad, pairs, bootsRequest(ctx, plan, dir, 'endpoints'), 'pair');
  return {
    good: endpointEvidence('good', commits.good, await figures(good, plan, boots.a, 'good'), dir),
    bad: endpointEvidence('bad', commits.bad, await figures(bad, plan, boots.b, 'bad'), dir),
  };
}

/**
 * `count` more rounds of a step between its endpoints: the step's figures and, round for round,
 * its neighbours'. Only whole rounds count, so all three lists stay the same length.
 */
async function measureAround(
  ctx: StepContext, plan: MetricPlan, around: Record<Role, PreparedTarget>, step: PreparedTarget, count: number, dir: string, label: string, first: number,
): Promise<(Figures & Record<Role, number[]>) | { problem: string }> {
  const boots = await measureBracketed(around, step, count, bootsRequest(ctx, plan, dir, label), label, first);
  if (boots.step.length === 0) {
    return { problem: `no whole round of good, step and bad boots ran${ctx.signal.aborted ? ' (interrupted)' : `: one could not run anything (its run folder in ${dir} says why)`}` };
  }
  const [g, b] = await Promise.all([figures(around.good, plan, boots.good, `${label}-good`), figures(around.bad, plan, boots.bad, `${label}-bad`)]);
  if ('problem' in g) return { problem: `good endpoint: ${g.problem}` };
  if ('problem' in b) return { problem: `bad endpoint: ${b.problem}` };
  const s = await figures(step, plan, boots.step, label);
  return 'problem' in s ? s : { ...s, good: g.samples, bad: b.samples };
}

/**
 * Metric mode: boots until the step is confidently nearer one endpoint, up to maxBoots; still
 * unsure is a skip. Instruction counts are judged against the endpoints measured at the start
 * (classifyStep); real time against endpoint boots taken around each of the step's (classifyBracketed).
 */
export function metricStep(ctx: StepContext, plan: MetricPlan, sides: MetricSides, endpoints: Record<Role, string>): (commit: string, n: number) => Promise<StepOutcome> {
  let prepared: Promise<Record<Role, PreparedTarget>> | undefined;
  // Built once (from the build cache) and kept: every step's rounds boot them again.
  const endpointTargets = (dir: string) => (prepared ??= (async () => {
    const get = async (role: Role) => {
      const p = await checkoutAndPrepare(ctx, endpoints[role], dir);
      if (isOutcome(p)) throw new InfraError(`the ${role} commit ${short(endpoints[role])} was measured at the start but cannot be prepared again: ${p.evidence.message}`, 'check the build cache and the kernel source, then run the same command again to continue');
      return p;
    };
    return { good: await get('good'), bad: await get('bad') };
  })());
  return async (commit, n) => {
    const dir = stepDir(ctx, `${n}-${short(commit)}`);
    const around = plan.bracketed ? await endpointTargets(dir) : undefined;
    const target = await checkoutAndPrepare(ctx, commit, dir);
    if (isOutcome(target)) return target;
    const samples: number[] = [];
    const bracket = { good: [] as number[], bad: [] as number[] };
    const kept = { samples, ...(around ? { endpoints: bracket } : {}), dir };
    let unit = '';
    let round = 0;
    for (let count = plan.boots; !ctx.signal.aborted; count = Math.min(plan.boots, plan.maxBoots - samples.length)) {
      const label = round++ === 0 ? 'boot' : `more${round}`;
      // Around the endpoints, the neighbours' figures come with the step's.
      const got: Figures & Partial<Record<Role, number[]>> = around
        ? await measureAround(ctx, plan, around, target, count, dir, label, samples.length + 1)
        : await measure(ctx, target, plan, count, dir, label);
      if ('problem' in got) return { verdict: 'skip', evidence: { status: 'not-measured', message: got.problem, ...kept } };
      samples.push(...got.samples);
      bracket.good.push(...(got.good ?? []));
      bracket.bad.push(...(got.bad ?? []));
      unit = got.unit;
      const c = around ? classifyBracketed(sides, { good: bracket.good, step: samples, bad: bracket.bad }) : classifyStep(sides, samples);
      const evidence = { ...kept, unit, position: c.position };
      if (c.verdict !== 'unsure') return { verdict: c.verdict, evidence: { ...evidence, why: c.why } };
      if (samples.length >= plan.maxBoots) return { verdict: 'skip', evidence: { ...evidence, why: `${c.why}; still unsure after ${samples.length} boots` } };
    }
    return { verdict: 'skip', evidence: { status: 'interrupted', ...kept, unit } };
  };
}
