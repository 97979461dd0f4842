import { Command } from 'commander';
import { mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { loadHistory } from '../../bench/history.js';
import type { BenchRun } from '../../bench/model.js';
import { UsageError } from '../../core/errors.js';
import type { RunResult } from '../../core/result.js';
import { writeFileAtomic } from '../../core/write-file-atomic.js';
import { renderHtmlReport } from '../../report/html-report.js';
import { loadContext } from '../load-context.js';
import { givenRunFile, isDir, newestRunFile, readRunModel, rel } from '../run-files.js';

interface ReportFlags {
  results?: string;
  bench?: string;
  history?: string;
  output?: string;
  config?: string;
}

export function reportCommand(): Command {
  return new Command('report')
    .description('write one self-contained HTML report: run summary, failures, conformance matrix, benchmark history charts')
    .option('--results <file|dir>', "a run's results.json, or its run dir (default: the newest under reports/)")
    .option('--bench <file|dir>', "a bench run's bench.json, or its run dir (default: the newest under reports/)")
    .option('--history <dir>', "benchmark history folder (default: the config's bench.history, bench-history)")
    .option('-o, --output <file>', 'the HTML file to write (default: reports/report.html)')
    .option('-c, --config <file>', 'config file (default: ./tsuite.config.ts if present)')
    .action(async (flags: ReportFlags) => {
      const config = await loadContext(flags.config, {}, 'none');
      const reportsDir = resolve(config.outputDir);
      const resultsFile = flags.results ? givenRunFile(flags.results, 'results.json', '--results') : await newestRunFile(reportsDir, 'results.json');
      const benchFile = flags.bench ? givenRunFile(flags.bench, 'bench.json', '--bench') : await newestRunFile(reportsDir, 'bench.json');
      const historyDir = resolve(flags.history ?? config.bench.history);
      if (flags.history && !isDir(historyDir)) throw new UsageError(`--history ${flags.history}: no such folder`, 'give the benchmark history folder, e.g. --history bench-history');

      const results = resultsFile ? await readRunModel<RunResult>(resultsFile, 'results.json', (v) => Array.isArray(v.tests) && typeof v.run === 'object') : undefined;
      const bench = benchFile ? await readRunModel<BenchRun>(benchFile, 'bench.json', (v) => Array.isArray(v.metrics) && typeof v.runId === 'string') : undefined;
      const history = await loadHistory(historyDir);
      if (!results && !bench && history.rows.length === 0) {
        throw new UsageError(
          `nothing to report: no results.json or bench.json under ${rel(reportsDir)}/ and no rows in ${rel(historyDir)}/`,
          'run `tsuite run` or `tsuite bench` first, or point at their output with --results, --bench or --history',
        );
      }

      const output = resolve(flags.output ?? join(reportsDir, 'report.html'));
      await mkdir(dirname(output), { recursive: true });
      await writeFileAtomic(
        output,
        renderHtmlReport({ results, bench, history: history.rows, historyProblems: history.problems, generatedAt: new Date().toISOString() }),
      );
      const used = [
        resultsFile && `results ${rel(resultsFile)}`,
        benchFile && `bench ${rel(benchFile)}`,
        `history ${rel(historyDir)} (${history.rows.length} rows${history.problems.length ? `, ${history.problems.length} unreadable lines skipped` : ''})`,
      ].filter(Boolean);
      process.stderr.write(`Report from ${used.join(', ')}\n`);
      process.stdout.write(`${output}\n`);
    });
}
