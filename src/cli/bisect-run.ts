import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { ExitCode, UsageError, describeError } from '../core/errors.js';
import { createProgress } from '../core/progress.js';
import { upsertPullRequestComment, type PullRequestRef } from '../github/pr-comment.js';
import { appendRecord, readBisectLog, type BisectSpec, type StartRecord, type StepEvidence, type StepRecord } from '../bisect/bisect-log.js';
import { bisectMarker, formatAnswer } from '../bisect/bisect-report.js';
import { openLog, runBisection, short, type StepOutcome } from '../bisect/driver.js';
import { endpointsDiffer, type MetricSides } from '../bisect/metric-verdict.js';
import { bisectPath, commitSubject, PrivateWorktree } from '../bisect/worktree.js';
import { benchSuites } from './bench-suites.js';
import { plannedClock } from './bench-clock.js';
import { measureEndpoint, measureEndpointPairs, metricStep, testStep, type MetricPlan, type StepContext } from './bisect-steps.js';
import { loadContext } from './load-context.js';
import { abortOnSignals } from './signals.js';
import { planFor, sweepOrphans } from './suite-run.js';
import { resolveTarget, type TargetFlags } from './target-options.js';

export interface BisectFlags extends TargetFlags {
  good?: string;
  bad?: string;
  test?: string;
  metric?: string;
  suite?: string[];
  boots?: number;
  maxBoots?: number;
  outputDir?: string;
  resume?: string;
  post?: string;
  config?: string;
  suiteFiles?: string[];
}

/** Flags that say where and how to report, not what is bisected: never stored in the log. */
const NOT_STORED = new Set(['resume', 'outputDir', 'post']);

/** `--resume DIR`: the flags the run began with, with any given now taking precedence. */
export async function resumedFlags(flags: BisectFlags): Promise<BisectFlags> {
  if (!flags.resume) return flags;
  const start = (await readBisectLog(resolve(flags.resume)))[0] as StartRecord | undefined;
  if (!start) throw new UsageError(`${resolve(flags.resume)} holds no bisect.jsonl`, 'give the run folder an earlier `tsuite bisect` printed');
  const given = Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined));
  return { ...(start.flags as BisectFlags), ...given };
}

/** `owner/repo#N` and the token from GITHUB_TOKEN (never printed). */
export function postTarget(spec: string, env: NodeJS.ProcessEnv = process.env): PullRequestRef {
  const m = /^([\w.-]+)\/([\w.-]+)#(\d+)$/.exec(spec);
  if (!m) throw new UsageError(`--post takes owner/repo#number, not '${spec}'`, 'e.g. --post octo-org/my-kernel#42 (a pull request or an issue)');
  const token = env.GITHUB_TOKEN?.trim();
  if (!token) throw new UsageError('GITHUB_TOKEN is not set: --post needs a token to comment', 'export GITHUB_TOKEN with issues: write (and pull-requests: write) permission');
  const baseUrl = (env.GITHUB_API_URL?.trim() || 'https://api.github.com').replace(/\/+$/, '');
  return { owner: m[1]!, repo: m[2]!, number: Number(m[3]), token, baseUrl };
}

export async function bisect(given: BisectFlags): Promise<number> {
  const flags = await resumedFlags(given);
  if (!flags.kernelSrc) throw new UsageError('tsuite bisect needs --kernel-src: the git tree whose history is bisected', 'add --kernel-src <dir> --build <cmd> --kernel-artifact <path>');
  if (!flags.good || !flags.bad) throw new UsageError('tsuite bisect needs --good <ref> and --bad <ref>', 'give the last known good commit and a bad one');
  if ((flags.test === undefined) === (flags.metric === undefined)) throw new UsageError('give exactly one of --test <id> (a failing test) and --metric <name> (a slower metric)');
  const post = flags.post ? postTarget(flags.post) : undefined;
  const config = await loadContext(flags.config, flags);
  const src = resolve(flags.kernelSrc);
  const { good, bad, path } = await bisectPath(src, flags.good, flags.bad);
  const spec: BisectSpec = {
    version: 1,
    mode: flags.test !== undefined ? 'test' : 'metric',
    subject: (flags.test ?? flags.metric)!,
    good,
    bad,
    flags: Object.fromEntries(Object.entries({ ...flags, kernelSrc: src }).filter(([k, v]) => !NOT_STORED.has(k) && v !== undefined)),
  };
  // The same bisection again finds its folder again, and continues its log.
  const key = createHash('sha256').update(JSON.stringify([src, good, bad, spec.mode, spec.subject, flags.build, flags.target])).digest('hex').slice(0, 12);
  const runDir = resolve(given.outputDir ?? given.resume ?? join(config.outputDir, `bisect-${key}`));
  const worktreeDir = join(runDir, 'worktree');
  const target = resolveTarget(config, { ...flags, kernelSrc: worktreeDir });
  const out = (line: string) => process.stdout.write(`${line}\n`);
  out(`bisecting ${spec.mode === 'test' ? `test ${spec.subject}` : `metric ${spec.subject}`} over ${path.length} commit(s) after ${short(good)} up to ${short(bad)}; log: ${join(runDir, 'bisect.jsonl')}`);

  const subjects = new Map<string, string>();
  const subjectOf = async (c: string) => subjects.get(c) ?? subjects.set(c, await commitSubject(src, c)).get(c)!;
  const signals = abortOnSignals();
  const progress = createProgress(process.stderr, !process.stderr.isTTY && process.env.CI === 'true');
  const worktree = await PrivateWorktree.create(src, worktreeDir, bad);
  try {
    await sweepOrphans(target);
    const ctx: StepContext = {
      target, worktree, runDir, available: config.catalog.suites, testTimeoutMs: config.testTimeoutMs, signal: signals.signal, progress,
      log: (line) => process.stderr.write(`${line}\n`),
    };
    let evaluate: (commit: string, n: number) => Promise<StepOutcome>;
    if (spec.mode === 'test') {
      evaluate = testStep(ctx, spec.subject);
    } else {
      const sides = await measureEndpoints(ctx, spec, path, await metricPlan(flags, target, config), out, subjectOf);
      if (!sides) return interrupted(runDir, out);
      const clock = await plannedClock(target);
      endpointsDiffer(sides, spec.subject, clock === 'instructions' ? config.bench.minEffectInstructions : config.bench.minEffect, config.bench.alpha, clock !== 'instructions');
      evaluate = metricStep(ctx, await metricPlan(flags, target, config), sides, { good, bad });
    }
    const result = await runBisection({ dir: runDir, spec, path, subjectOf, evaluate, signal: signals.signal, log: out });
    if (result.kind === 'interrupted') return interrupted(runDir, out);
    for (const c of result.answer.kind === 'found' ? [result.answer.commit] : result.answer.candidates) await subjectOf(c);
    const what = spec.mode === 'test' ? `test ${spec.subject}` : `metric ${spec.subject}`;
    process.stdout.write(`\n${formatAnswer(result, what, subjects, 'text')}`);
    if (post) {
      const posted = await upsertPullRequestComment(post, `${bisectMarker(good, bad, spec.subject)}\n${formatAnswer(result, what, subjects, 'markdown')}`, bisectMarker(good, bad, spec.subject));
      out(`${posted.action} the comment ${posted.url}`);
    }
    return ExitCode.ok;
  } catch (err) {
    if (signals.signal.aborted) {
      process.stderr.write(`tsuite: bisect interrupted: ${describeError(err)}\n`);
      return interrupted(runDir, out);
    }
    throw err;
  } finally {
    await worktree.remove();
    signals.dispose();
  }
}

function interrupted(runDir: string, out: (line: string) => void): number {
  out(`interrupted: the finished steps are kept in ${join(runDir, 'bisect.jsonl')}; run the same command again, or tsuite bisect --resume ${runDir}, to continue`);
  return ExitCode.interrupted;
}

async function metricPlan(flags: BisectFlags, target: ReturnType<typeof resolveTarget>, config: Awaited<ReturnType<typeof loadContext>>): Promise<MetricPlan> {
  const suites = benchSuites(flags.suite, config.catalog.suites);
  // Only the benchmark the metric comes from (`<benchmark>/<measure>`), when a pattern plans it.
  const bench = flags.metric!.split('/')[0]!;
  let grep: string[] | undefined = [bench];
  try {
    planFor(target, suites, grep, config.catalog.suites);
  } catch {
    grep = undefined;
  }
  const instructions = (await plannedClock(target)) === 'instructions';
  // Instruction counts repeat from boot to boot: one boot a step; real time needs several.
  const boots = flags.boots ?? (instructions ? 1 : 3);
  return { metric: flags.metric!, suites, ...(grep ? { grep } : {}), boots, maxBoots: flags.maxBoots ?? Math.max(boots, instructions ? 3 : 9), bracketed: !instructions };
}

/**
 * The endpoints' measurements (at least two boots each), from the log or measured now and logged.
 * In real time they are measured together, pair by pair; a log holding only one of them (cut
 * short by an older tsuite) is measured again, and the newest records count.
 */
async function measureEndpoints(
  ctx: StepContext, spec: BisectSpec, path: readonly string[], plan: MetricPlan, out: (line: string) => void, subjectOf: (c: string) => Promise<string>,
): Promise<MetricSides | undefined> {
  const records = await openLog(ctx.runDir, spec, path);
  const logged = (role: StepRecord['role']) => [...records].reverse().find((r): r is StepRecord => r.kind === 'step' && r.role === role)?.evidence.samples;
  const known = { good: logged('good-endpoint'), bad: logged('bad-endpoint') };
  if (known.good && known.bad) return { good: known.good, bad: known.bad };
  const commits = { good: spec.good, bad: spec.bad };
  const boots = Math.max(2, plan.boots);
  const measured: Partial<Record<'good' | 'bad', StepEvidence>> = {};
  if (plan.bracketed) {
    if (ctx.signal.aborted) return undefined;
    out(`measuring the good and bad endpoints ${short(spec.good)} and ${short(spec.bad)}, pair by pair`);
    Object.assign(measured, await measureEndpointPairs(ctx, plan, commits, boots));
  }
  const sides: Partial<MetricSides> = {};
  for (const role of ['good', 'bad'] as const) {
    let evidence = measured[role];
    if (!evidence && known[role]) {
      sides[role] = known[role];
      continue;
    }
    if (ctx.signal.aborted) return undefined;
    if (!evidence) {
      out(`measuring the ${role} endpoint ${short(commits[role])}`);
      evidence = await measureEndpoint(ctx, plan, commits[role], role, boots);
    }
    if (ctx.signal.aborted) return undefined;
    const record: StepRecord = { kind: 'step', role: `${role}-endpoint`, commit: commits[role], subject: await subjectOf(commits[role]), verdict: role, evidence, at: new Date().toISOString() };
    await appendRecord(ctx.runDir, record);
    out(`${role} endpoint ${short(commits[role])}: ${evidence.samples!.map((s) => +s.toPrecision(6)).join(', ')} ${evidence.unit ?? ''}`);
    sides[role] = evidence.samples!;
  }
  return sides as MetricSides;
}
