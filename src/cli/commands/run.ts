import { Command } from 'commander';
import { join, resolve } from 'node:path';
import { UsageError, describeError } from '../../core/errors.js';
import { createProgress } from '../../core/progress.js';
import { newRunId } from '../../core/run-id.js';
import { loadReporters } from '../../reporters/index.js';
import { parseShard, type ShardSpec } from '../../core/shard.js';
import { parseWorkers } from '../../core/default-workers.js';
import { exitCodeFor } from '../exit-code.js';
import { workersFor } from '../run-workers.js';
import { durationsForSharding } from '../shard-durations.js';
import { abortOnSignals } from '../signals.js';
import { addRunFolderOptions, addSuiteFilesOption, knownSuiteNames, loadConfigStage, splitList, withBuiltInSuites, type ConfigStage } from '../load-context.js';
import { machineRequest, planFor, prepareTarget, refuseEmptyShellRun, runSuites, sweepOrphans } from '../suite-run.js';
import { bootAhead, firstSessionAsk, suiteMachineFacts, type BootAhead } from '../boot-ahead.js';
import { builtInManifest, type SuiteMachineFacts } from '../../../suites/manifest.js';
import { addTargetOptions, resolveTarget, type TargetFlags } from '../target-options.js';

interface RunFlags extends TargetFlags {
  suite?: string[];
  test?: string[];
  reporter?: string[];
  outputDir?: string;
  config?: string;
  runId?: string;
  testTimeout?: number;
  suiteFiles?: string[];
  allowDestructive?: boolean;
  shard?: ShardSpec;
  shardDurations?: string;
  workers?: number;
}

export function runCommand(): Command {
  return addSuiteFilesOption(addRunFolderOptions(addTargetOptions(new Command('run').description('boot the target and run suites against it')), 'reports'))
    .option('-s, --suite <names>', 'suites to run, comma-separated (default: all but bench, or the config\'s)', splitList)
    .option('--test <pattern>', 'only tests whose id contains this (or matches this * glob); repeatable', splitList)
    .option('-r, --reporter <names>', 'reporters, comma-separated: console, json, tap, junit, or the path of a reporter file', splitList)
    .option('--allow-destructive', 'let tests change a host tsuite does not own beyond the run (the local target: bind devices to vfio-pci, load modules); recorded in results.json')
    .option('--shard <i/n>', 'run only shard i of n of the plan, split by session (merge the shards\' output dirs with `tsuite merge`)', parseShard)
    .option('--shard-durations <file|dir>', 'balance --shard by the session durations of this results.json or run dir (default: the newest unsharded run under reports/; none: round-robin)')
    .option('-j, --workers <n>', 'sessions booted and run at once (default: from the host\'s CPUs and memory against the target\'s; 1: one after another)', parseWorkers)
    .option('--test-timeout <ms>', 'per-test time limit (default: the config\'s testTimeoutMs, 60000)', (v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 100) throw new UsageError(`--test-timeout takes whole milliseconds (at least 100), not '${v}'`);
      return n;
    })
    .action(async (flags: RunFlags) => {
      process.exitCode = await run(flags);
    });
}

async function run(flags: RunFlags): Promise<number> {
  const stage = await loadConfigStage(flags.config, flags);
  const target = resolveTarget(stage, flags);
  if (flags.allowDestructive) target.def.allowDestructive = true;
  const runId = flags.runId ?? newRunId();
  const outputDir = resolve(flags.outputDir ?? resolve(stage.outputDir, runId));
  const suites = flags.suite ?? stage.suites;
  // Only the suites this run plans are loaded (a --suite that names none loads them all, to list them).
  const loadSuites = () => withBuiltInSuites(stage, () => suites);
  // The plan is checked before anything is fetched or booted: a typo is a usage error at once. That
  // takes the suites' tests when --test patterns are to be matched against them or a suite name is
  // unknown (the error lists them all); a shard needs the whole plan to find its sessions. Otherwise
  // the plan cannot fail, and the suites load while the first machine boots (boot-ahead.ts).
  refuseEmptyShellRun(target, suites);
  const known = knownSuiteNames(stage);
  const planFirst = flags.test !== undefined || flags.shard !== undefined || suites.some((n) => !known.has(n));
  let context = planFirst ? await loadSuites() : undefined;
  if (context) planFor(target, suites, flags.test, context.catalog.suites);
  const reporters = await loadReporters(flags.reporter ?? stage.reporters, { outputDir });
  if (flags.shardDurations && !flags.shard) throw new UsageError('--shard-durations balances a sharded run', 'add --shard <i/n>, or drop --shard-durations');
  const timing = flags.shard ? await durationsForSharding(flags.shardDurations, resolve(stage.outputDir)) : undefined;
  if (flags.shard) {
    process.stderr.write(`tsuite: shard ${flags.shard.index}/${flags.shard.total}, ${timing ? `balanced by the session durations of ${timing.from}` : 'sessions round-robin in plan order (no earlier run to balance by)'}\n`);
  }
  const signals = abortOnSignals();
  let ahead: BootAhead | undefined;
  try {
    const progress = createProgress(process.stderr, !process.stderr.isTTY && process.env.CI === 'true');
    // The sweep waits on /proc reads: it runs while the target's boot files are checked.
    const [, prepared] = await Promise.all([sweepOrphans(target), prepareTarget(target, progress)]);
    const ask = context || !prepared.resolved ? undefined : firstSessionAsk(target, plannedFacts(stage, suites));
    if (ask) {
      const request = machineRequest({ ...prepared, resolved: prepared.resolved! }, ask, join(outputDir, ask.id), { runId, kernel: prepared.resolved!.kernel });
      ahead = bootAhead(prepared.runner, request, signals.signal);
    }
    context ??= await loadSuites();
    const planned = planFor(target, suites, flags.test, context.catalog.suites);
    const workers = await workersFor(target, flags.workers);
    if (workers.workers > 1 && planned.length > 1) process.stderr.write(`tsuite: up to ${workers.workers} sessions at once (${workers.why}); each session's lines print when it ends\n`);
    const result = await runSuites(prepared, {
      suites,
      available: context.catalog.suites,
      grep: flags.test,
      runId,
      outputDir,
      reporters,
      testTimeoutMs: stage.testTimeoutMs,
      testTimeoutOverrideMs: flags.testTimeout,
      signal: signals.signal,
      workers: workers.workers,
      ...(flags.shard ? { shard: { spec: flags.shard, durations: timing?.durations } } : {}),
      ...(ahead ? { bootAhead: ahead } : {}),
    });
    return exitCodeFor(result);
  } catch (err) {
    if (signals.signal.aborted) {
      process.stderr.write(`tsuite: run interrupted before any test ran: ${describeError(err)}\n`);
      return 130;
    }
    throw err;
  } finally {
    // A machine booted ahead that no session took (the plan asked for another) is stopped here.
    await ahead?.discard();
    signals.dispose();
  }
}

/** What the planned suites ask of the machine: the manifest's word for a built-in suite, the user's suite's own tests. */
function plannedFacts(stage: ConfigStage, names: readonly string[]): SuiteMachineFacts[] {
  return names.map((name) => {
    const user = stage.userSuites.suites.find((s) => s.name === name);
    return user ? suiteMachineFacts(user) : builtInManifest.find((e) => e.name === name)!;
  });
}
