import { Command, Option } from 'commander';
import { join, resolve } from 'node:path';
import { ExitCode, UsageError, describeError } from '../../core/errors.js';
import { createProgress } from '../../core/progress.js';
import { newRunId } from '../../core/run-id.js';
import { writeFileAtomic } from '../../core/write-file-atomic.js';
import { formatComparison } from '../../bench/compare-format.js';
import { kernelIdentity } from '../../bench/fingerprint.js';
import type { Comparison } from '../../bench/model.js';
import { pullRequestFromEnv, upsertPullRequestComment } from '../../github/pr-comment.js';
import { allowedHostCpus } from '../../core/host-cpus.js';
import { measureBoots } from '../bench-boots.js';
import { defaultBoots, plannedClock } from '../bench-clock.js';
import type { BenchClock } from '../../bench/clock.js';
import { compareAb } from '../compare-ab.js';
import { compareWithHistory, loadBenchRun } from '../compare-history.js';
import { abortOnSignals } from '../signals.js';
import { addRunFolderOptions, addSuiteFilesOption, loadContext, splitList } from '../load-context.js';
import { benchSuites } from '../bench-suites.js';
import { planFor, prepareTarget, sweepOrphans } from '../suite-run.js';
import { addTargetOptions, resolveTarget, type ResolvedTarget } from '../target-options.js';
import { bootsOption, type BenchFlags } from './bench.js';
import { benchTarget } from '../bench-run.js';

interface CompareFlags extends BenchFlags {
  base?: string;
  bench?: string;
  kernelA?: string;
  kernelB?: string;
  appendA?: string;
  appendB?: string;
  format: 'table' | 'json' | 'markdown';
  post?: boolean;
  remeasure: boolean;
  minEffect?: number;
  minEffectInstructions?: number;
  alpha?: number;
  maxBoots?: number;
  duet?: boolean;
}

const maxBootsOption = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 2 || n > 100) throw new UsageError(`--max-boots takes a whole number from 2 to 100, not '${v}'`);
  return n;
};

const fraction = (flag: string) => (v: string) => {
  const n = Number(v);
  if (!(n > 0 && n < 1)) throw new UsageError(`${flag} takes a fraction between 0 and 1, not '${v}'`);
  return n;
};

export function compareCommand(): Command {
  return addRunFolderOptions(
    addSuiteFilesOption(addTargetOptions(
      new Command('compare').description('head against base from the history (--base), or kernel B against kernel A measured pair by pair (--kernel-a/--kernel-b)'),
    )),
    "compare.json and the boots' results",
  )
    .option('--base <git ref>', "compare the newest bench.json (or --bench) with main's current regime in the history, as of this ref")
    .option('--bench <file|dir>', 'the head measurement for --base (default: the newest reports/*/bench.json)')
    .option('--history <dir>', "history folder (default: the config's bench.history, bench-history)")
    .option('--kernel-a <kernel>', "kernel A (the baseline) for an A/B run: a file, 'reference' or 'fixture'")
    .option('--kernel-b <kernel>', 'kernel B (the candidate), measured interleaved with A on this machine')
    .option('--append-a <args>', 'extra kernel command line for A only')
    .option('--append-b <args>', 'extra kernel command line for B only')
    .option('--suite <names>', "benchmark suites measured (A/B and re-measurements), comma-separated: 'bench' (the default) or your own suites declared with benchmarks: true", splitList)
    .option('--boots <n>', "boots per kernel (A/B: pairs) and per re-measurement (default: the config's bench.instructionBoots, 5, in instruction mode; bench.boots, 8, in time mode)", bootsOption)
    .option('--max-boots <n>', "A/B: while a metric is still noisy, measure more pairs, up to this many (default in time mode: the config's bench.maxBoots, 20; in instruction mode: --boots, no growing)", maxBootsOption)
    .option('--duet', 'A/B: boot A and B at the same time, each QEMU pinned to its own half of the host CPUs, round by round (real time only: --clock time)')
    .option('--no-remeasure', 'report a suspected change as noisy instead of measuring it again')
    .option('--min-effect <fraction>', "smallest relative change reported (default: the config's bench.minEffect, 0.05, for real time; bench.minEffectInstructions, 0.02, for instruction counts)", fraction('--min-effect'))
    .option('--min-effect-instructions <fraction>', "the same for instruction counts only (default: --min-effect if given, else the config's bench.minEffectInstructions, 0.02)", fraction('--min-effect-instructions'))
    .option('--alpha <fraction>', "false discovery rate across metrics (default: the config's bench.alpha, 0.05)", fraction('--alpha'))
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json', 'markdown']).default('table'))
    .option('--post', 'upsert the markdown as one comment on the pull request (GitHub Actions: GITHUB_TOKEN, GITHUB_REPOSITORY, GITHUB_EVENT_PATH)')
    .action(async (flags: CompareFlags) => {
      process.exitCode = await compare(flags);
    });
}

/** What a kernel flag says: `reference` keeps the target's own kernel. */
function sideFlags(flags: CompareFlags, kernel: string | undefined, append: string | undefined): BenchFlags {
  const joined = [flags.append, append].filter(Boolean).join(' ');
  return { ...flags, kernel: kernel === 'reference' ? undefined : kernel, append: joined === '' ? undefined : joined };
}

function describeSide(target: ResolvedTarget, kernel: string | undefined, append: string | undefined): string {
  return `${kernel ?? 'reference'}${append ? ` + '${append}'` : ''} on ${target.name}`;
}

/**
 * A duet measures real time under host load that hits A and B alike; instruction counts do not
 * see the host at all, so a duet there would only halve each guest's CPUs. It needs two host CPUs.
 */
async function checkDuet(clock: BenchClock): Promise<void> {
  if (clock !== 'time') throw new UsageError('--duet measures real time, and this run counts instructions (the clock under TCG unless told)', 'add --clock time');
  const cpus = await allowedHostCpus();
  if (cpus.length < 2) {
    throw new UsageError(`--duet pins A and B to their own halves of the host CPUs, and tsuite may use only ${cpus.length} CPU here`, 'drop --duet');
  }
}

async function compare(flags: CompareFlags): Promise<number> {
  const config = await loadContext(flags.config, flags);
  const suites = benchSuites(flags.suite, config.catalog.suites);
  const ab = flags.kernelA !== undefined || flags.kernelB !== undefined || flags.appendA !== undefined || flags.appendB !== undefined;
  if (ab && flags.base) throw new UsageError('--base compares with the history; --kernel-a/--kernel-b measure two kernels here', 'give one or the other');
  if (!ab && !flags.base) throw new UsageError('nothing to compare', 'give --base <git ref> (head against the history) or --kernel-a X --kernel-b Y (an A/B run)');
  if (ab && flags.bench) throw new UsageError('--bench is the head measurement for --base; an A/B run measures both kernels itself', 'drop --bench');
  const settings = {
    minEffect: flags.minEffect ?? config.bench.minEffect,
    minEffectInstructions: flags.minEffectInstructions ?? flags.minEffect ?? config.bench.minEffectInstructions,
    alpha: flags.alpha ?? config.bench.alpha,
  };
  const clock = await plannedClock(resolveTarget(config, flags));
  const boots = flags.boots ?? defaultBoots(config.bench, clock);
  if (!ab && flags.maxBoots !== undefined) throw new UsageError('--max-boots grows an A/B run (--kernel-a/--kernel-b) while a metric is noisy', 'drop --max-boots, or compare two kernels');
  if (!ab && flags.duet) throw new UsageError('--duet boots kernels A and B at the same time (--kernel-a/--kernel-b)', 'drop --duet, or compare two kernels');
  if (flags.maxBoots !== undefined && flags.maxBoots < boots) {
    throw new UsageError(`--max-boots ${flags.maxBoots} is below the ${boots} pairs measured first (--boots)`, `give --max-boots ${boots} or more (${boots}: no adaptive boots)`);
  }
  // From the config, a maximum below an explicit --boots just means no adaptive boots. Instruction
  // counts repeat from boot to boot: more boots would not move them, so they do not grow unless asked.
  const maxPairs = flags.maxBoots ?? (clock === 'instructions' ? boots : Math.max(config.bench.maxBoots, boots));
  if (flags.duet) await checkDuet(clock);
  // Checked before anything is measured: a missing token must not cost a run of boots.
  const pullRequest = flags.post ? pullRequestFromEnv(process.env) : undefined;
  const runId = flags.runId ?? newRunId();
  const outputDir = resolve(flags.outputDir ?? resolve(config.outputDir, runId));
  const warn = (line: string) => process.stderr.write(`tsuite: ${line}\n`);
  const signals = abortOnSignals();
  const progress = createProgress(process.stderr, !process.stderr.isTTY && process.env.CI === 'true');
  const bootsReq = { runId, outputDir, suites, available: config.catalog.suites, testTimeoutMs: config.testTimeoutMs, signal: signals.signal, log: (l: string) => process.stderr.write(`${l}\n`) };
  try {
    let comparison: Comparison;
    let complete = true;
    if (ab) {
      const targetA = resolveTarget(config, sideFlags(flags, flags.kernelA, flags.appendA));
      const targetB = resolveTarget(config, sideFlags(flags, flags.kernelB, flags.appendB));
      planFor(targetA, suites, undefined, config.catalog.suites);
      await sweepOrphans(targetA);
      const a = await prepareTarget(targetA, progress);
      const b = await prepareTarget(targetB, progress);
      const labels = { a: describeSide(targetA, flags.kernelA, flags.appendA), b: describeSide(targetB, flags.kernelB, flags.appendB) };
      const r = await compareAb({ ...bootsReq, a, b, labels, pairs: boots, maxPairs, duet: flags.duet === true, settings, remeasure: flags.remeasure });
      comparison = r.comparison;
      complete = r.complete;
    } else {
      const { file, run: head } = await loadBenchRun(flags.bench, config.outputDir);
      const target = resolveTarget(config, flags);
      comparison = await compareWithHistory({
        head,
        base: flags.base!,
        historyDir: resolve(flags.history ?? config.bench.history),
        repoDir: process.cwd(),
        settings,
        warn,
        remeasure: flags.remeasure
          ? async () => {
              const prepared = await prepareTarget(target, progress);
              const kernel = prepared.resolved && (await kernelIdentity(prepared.resolved.kernel));
              if (kernel && kernel.id !== head.kernel.id) {
                throw new UsageError(
                  `the kernel the target flags name (${kernel.source} ${kernel.version ?? ''}, cmdline '${kernel.cmdline}', id ${kernel.id}) is not the one ${file} measured (id ${head.kernel.id}), so it cannot re-measure it`,
                  'give compare the same kernel flags as `tsuite bench` (--kernel/--kernel-src/--append...), or --no-remeasure',
                );
              }
              warn(`re-measuring ${head.target} (${boots} boots)`);
              const boots2 = await measureBoots(prepared, boots, bootsReq, 'recheck');
              return benchTarget(prepared, boots2, { runId: `${runId}-recheck` });
            }
          : undefined,
      });
    }
    await writeFileAtomic(join(outputDir, 'compare.json'), `${JSON.stringify(comparison, null, 2)}\n`);
    process.stdout.write(formatComparison(comparison, flags.format, { color: flags.format === 'table' && process.stdout.isTTY === true }));
    if (pullRequest) {
      const posted = await upsertPullRequestComment(pullRequest, formatComparison(comparison, 'markdown'));
      warn(`${posted.action} the pull request comment ${posted.url}`);
      if (posted.duplicates.length > 0) warn(`other tsuite comments on this pull request (ids ${posted.duplicates.join(', ')}) were left as they are; delete them by hand`);
    }
    if (signals.signal.aborted) return ExitCode.interrupted;
    if (!complete) warn('some boots did not run: the comparison uses the pairs that did');
    return comparison.metrics.some((m) => m.verdict === 'regressed') ? ExitCode.testFailed : ExitCode.ok;
  } catch (err) {
    if (signals.signal.aborted) {
      warn(`compare interrupted: ${describeError(err)}`);
      return ExitCode.interrupted;
    }
    throw err;
  } finally {
    signals.dispose();
  }
}
