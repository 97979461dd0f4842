import { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { bisect, type BisectFlags } from '../bisect-run.js';
import { addSuiteFilesOption, splitList } from '../load-context.js';
import { addTargetOptions } from '../target-options.js';

const count = (flag: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 100) throw new UsageError(`${flag} takes a whole number from 1 to 100, not '${v}'`);
  return n;
};

export function bisectCommand(): Command {
  return addSuiteFilesOption(addTargetOptions(new Command('bisect').description('find the commit of a kernel source tree that broke a test or slowed a metric')))
    .option('--good <ref>', 'a commit where the test passes (or the metric is as it should be)')
    .option('--bad <ref>', 'a later commit where the test fails (or the metric regressed)')
    .option('--test <id>', 'bisect this test (its id in results.json, e.g. kernel/fixture/syscall_add): passed is good; failed, crashed, timedOut are bad')
    .option('--metric <name>', 'bisect this benchmark metric (e.g. syscall/getppid): each step is good or bad by which endpoint it measures closer to')
    .option('--suite <names>', "with --metric: the benchmark suites that measure it (default: bench)", splitList)
    .option('--boots <n>', 'with --metric: boots per step at first (default 1 in instruction mode, 3 in time mode, where each is between a boot of each endpoint; the endpoints get at least 2)', count('--boots'))
    .option('--max-boots <n>', 'with --metric: the most boots a step may grow to while it is too near the midpoint to classify (default 3 / 9)', count('--max-boots'))
    .option('-o, --output-dir <dir>', 'the run folder: bisect.jsonl, the private worktree, each step\'s results (default: reports/bisect-<hash of the arguments>)')
    .option('--resume <dir>', 'continue the bisection logged in this run folder (its flags are reused; flags given now take precedence)')
    .option('--post <owner/repo#n>', 'comment the answer on this pull request or issue (GITHUB_TOKEN; GITHUB_API_URL for GitHub Enterprise)')
    .option('-c, --config <file>', 'config file (default: ./tsuite.config.ts if present)')
    .action(async (flags: BisectFlags) => {
      process.exitCode = await bisect(flags);
    });
}
