import { Command } from 'commander';
import { resolve } from 'node:path';
import { UsageError, describeError } from '../../core/errors.js';
import { createProgress } from '../../core/progress.js';
import { newRunId } from '../../core/run-id.js';
import { loadReporters } from '../../reporters/index.js';
import { exitCodeFor } from '../exit-code.js';
import { abortOnSignals } from '../signals.js';
import { addRunFolderOptions, addSuiteFilesOption, loadContext, splitList } from '../load-context.js';
import { planFor, prepareTarget, runSuites, sweepOrphans } from '../suite-run.js';
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
}

export function runCommand(): Command {
  return addSuiteFilesOption(addRunFolderOptions(addTargetOptions(new Command('run').description('boot the target and run suites against it')), 'reports'))
    .option('-s, --suite <names>', 'suites to run, comma-separated (default: all but bench, or the config\'s)', splitList)
    .option('--test <pattern>', 'only tests whose id contains this (or matches this * glob); repeatable', splitList)
    .option('-r, --reporter <names>', 'reporters, comma-separated: console, json, tap, junit, or the path of a reporter file', splitList)
    .option('--allow-destructive', 'let tests change a host tsuite does not own beyond the run (the local target: bind devices to vfio-pci, load modules); recorded in results.json')
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
  const config = await loadContext(flags.config, flags);
  const target = resolveTarget(config, flags);
  if (flags.allowDestructive) target.def.allowDestructive = true;
  const runId = flags.runId ?? newRunId();
  const outputDir = resolve(flags.outputDir ?? resolve(config.outputDir, runId));
  // Planned before anything is fetched or booted: a bad --suite or --test is a usage error at once.
  planFor(target, flags.suite ?? config.suites, flags.test, config.catalog.suites);
  const reporters = await loadReporters(flags.reporter ?? config.reporters, { outputDir });
  const signals = abortOnSignals();
  try {
    await sweepOrphans(target);
    const progress = createProgress(process.stderr, !process.stderr.isTTY && process.env.CI === 'true');
    const prepared = await prepareTarget(target, progress);
    const result = await runSuites(prepared, {
      suites: flags.suite ?? config.suites,
      available: config.catalog.suites,
      grep: flags.test,
      runId,
      outputDir,
      reporters,
      testTimeoutMs: config.testTimeoutMs,
      testTimeoutOverrideMs: flags.testTimeout,
      signal: signals.signal,
    });
    return exitCodeFor(result);
  } catch (err) {
    if (signals.signal.aborted) {
      process.stderr.write(`tsuite: run interrupted before any test ran: ${describeError(err)}\n`);
      return 130;
    }
    throw err;
  } finally {
    signals.dispose();
  }
}
