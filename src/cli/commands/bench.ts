import { Command } from 'commander';
import { join, resolve } from 'node:path';
import { ExitCode, UsageError, describeError } from '../../core/errors.js';
import { createProgress } from '../../core/progress.js';
import { newRunId } from '../../core/run-id.js';
import { writeFileAtomic } from '../../core/write-file-atomic.js';
import { formatBenchRun } from '../../bench/bench-format.js';
import { currentRevision } from '../../bench/git.js';
import { appendHistory, rowsFromBenchRun } from '../../bench/history.js';
import { measureBoots } from '../bench-boots.js';
import { benchExitCode, benchTarget } from '../bench-run.js';
import { defaultBoots, plannedClock } from '../bench-clock.js';
import { abortOnSignals } from '../signals.js';
import { addRunFolderOptions, addSuiteFilesOption, loadContext, splitList } from '../load-context.js';
import { benchSuites } from '../bench-suites.js';
import { planFor, prepareTarget, sweepOrphans } from '../suite-run.js';
import { addTargetOptions, resolveTarget, type TargetFlags } from '../target-options.js';

export interface BenchFlags extends TargetFlags {
  boots?: number;
  record?: boolean;
  history?: string;
  outputDir?: string;
  config?: string;
  runId?: string;
  test?: string[];
  suite?: string[];
  suiteFiles?: string[];
  commit?: string;
  ref?: string;
}

export const bootsOption = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 2 || n > 100) throw new UsageError(`--boots takes a whole number from 2 to 100, not '${v}' (one boot gives no error term)`);
  return n;
};

export function benchCommand(): Command {
  return addRunFolderOptions(
    addSuiteFilesOption(addTargetOptions(new Command('bench').description('run the bench suite (or your benchmark suites) on N independent boots; --record appends the result to the history'))),
    "bench.json and each boot's results",
  )
    .option('--boots <n>', "independent boots (default: the config's bench.instructionBoots, 5, in instruction mode; bench.boots, 8, in time mode)", bootsOption)
    .option('--record', 'append one row per metric to the history (bench-history/<target>.jsonl)')
    .option('--history <dir>', "history folder (default: the config's bench.history, bench-history)")
    .option('--test <pattern>', 'only benchmarks whose id contains this (or matches this * glob); repeatable', splitList)
    .option('--suite <names>', "benchmark suites to measure, comma-separated: 'bench' (the default) or your own suites declared with benchmarks: true", splitList)
    .option('--commit <sha>', 'the commit measured (default: GITHUB_SHA, or HEAD of --kernel-src or of the working directory)')
    .option('--ref <name>', 'the branch measured (default: GITHUB_HEAD_REF/GITHUB_REF_NAME, or the current branch)')
    .action(async (flags: BenchFlags) => {
      process.exitCode = await bench(flags);
    });
}

async function bench(flags: BenchFlags): Promise<number> {
  const config = await loadContext(flags.config, flags);
  const target = resolveTarget(config, flags);
  const suites = benchSuites(flags.suite, config.catalog.suites);
  planFor(target, suites, flags.test, config.catalog.suites);
  const runId = flags.runId ?? newRunId();
  const outputDir = resolve(flags.outputDir ?? resolve(config.outputDir, runId));
  const boots = flags.boots ?? defaultBoots(config.bench, await plannedClock(target));
  const historyDir = resolve(flags.history ?? config.bench.history);
  const signals = abortOnSignals();
  try {
    await sweepOrphans(target);
    const prepared = await prepareTarget(target, createProgress(process.stderr, !process.stderr.isTTY && process.env.CI === 'true'));
    const results = await measureBoots(prepared, boots, {
      runId,
      outputDir,
      grep: flags.test,
      suites,
      available: config.catalog.suites,
      testTimeoutMs: config.testTimeoutMs,
      signal: signals.signal,
      log: (line) => process.stderr.write(`${line}\n`),
    });
    const revision = await currentRevision(target.def.kernelSrc ?? process.cwd());
    const run = await benchTarget(prepared, results, { runId, commit: flags.commit ?? revision.commit, ref: flags.ref ?? revision.ref });
    await writeFileAtomic(join(outputDir, 'bench.json'), `${JSON.stringify(run, null, 2)}\n`);
    process.stdout.write(formatBenchRun(run));
    const code = benchExitCode(results);
    process.stdout.write(`\nbench.json and each boot's results: ${outputDir}\n`);
    if (flags.record) {
      if (code !== ExitCode.ok || results.length < boots || run.metrics.length === 0) {
        process.stderr.write(`tsuite: not recorded in the history: ${results.length < boots ? `only ${results.length} of ${boots} boots ran` : run.metrics.length === 0 ? 'no metric was measured' : 'a benchmark did not pass'}; fix that and run again\n`);
      } else {
        const file = await appendHistory(historyDir, rowsFromBenchRun(run));
        process.stdout.write(`recorded ${run.metrics.length} metrics in ${file}\n`);
      }
    }
    return code;
  } catch (err) {
    if (signals.signal.aborted) {
      process.stderr.write(`tsuite: bench interrupted: ${describeError(err)}\n`);
      return ExitCode.interrupted;
    }
    throw err;
  } finally {
    signals.dispose();
  }
}
