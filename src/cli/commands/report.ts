import { Command } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { mkdir, readFile, readdir, stat } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { loadHistory } from '../../bench/history.js';
import type { BenchRun } from '../../bench/model.js';
import { UsageError } from '../../core/errors.js';
import type { RunResult } from '../../core/result.js';
import { writeFileAtomic } from '../../core/write-file-atomic.js';
import { renderHtmlReport } from '../../report/html-report.js';
import { loadContext } from '../load-context.js';

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
    .option('--history <dir>', 'benchmark history folder (default: bench-history)')
    .option('-o, --output <file>', 'the HTML file to write (default: reports/report.html)')
    .option('-c, --config <file>', 'config file (default: ./tsuite.config.ts if present)')
    .action(async (flags: ReportFlags) => {
      const config = await loadContext(flags.config);
      const reportsDir = resolve(config.outputDir);
      const resultsFile = flags.results ? given(flags.results, 'results.json', '--results') : await newest(reportsDir, 'results.json');
      const benchFile = flags.bench ? given(flags.bench, 'bench.json', '--bench') : await newest(reportsDir, 'bench.json');
      const historyDir = resolve(flags.history ?? 'bench-history');
      if (flags.history && !isDir(historyDir)) throw new UsageError(`--history ${flags.history}: no such folder`, 'give the benchmark history folder, e.g. --history bench-history');

      const results = resultsFile ? await readModel<RunResult>(resultsFile, 'results.json', (v) => Array.isArray(v.tests) && typeof v.run === 'object') : undefined;
      const bench = benchFile ? await readModel<BenchRun>(benchFile, 'bench.json', (v) => Array.isArray(v.metrics) && typeof v.runId === 'string') : undefined;
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

const rel = (p: string) => relative(process.cwd(), p) || '.';
const isDir = (p: string) => existsSync(p) && statSync(p).isDirectory();

/** A path the user gave: the file itself, or a run dir holding `name`. */
function given(path: string, name: string, flag: string): string {
  const full = resolve(path);
  const file = isDir(full) ? join(full, name) : full;
  if (!existsSync(file)) throw new UsageError(`${flag} ${path}: no ${isDir(full) ? `${name} in that folder` : 'such file'}`, `give a ${name} or the run dir that holds it`);
  return file;
}

/** The most recently written `name` in a run dir directly under `dir`, if any. */
async function newest(dir: string, name: string): Promise<string | undefined> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  let best: { file: string; mtime: number } | undefined;
  for (const e of entries) {
    if (!e.isDirectory()) continue;
    const file = join(dir, e.name, name);
    const info = await stat(file).catch(() => undefined);
    if (info?.isFile() && (!best || info.mtimeMs > best.mtime)) best = { file, mtime: info.mtimeMs };
  }
  return best?.file;
}

async function readModel<T>(file: string, name: string, looksRight: (v: Record<string, unknown>) => boolean): Promise<T> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`${rel(file)} is not readable JSON: ${(err as Error).message}`, `give a ${name} written by tsuite`);
  }
  const v = value as Record<string, unknown> | null;
  if (v === null || typeof v !== 'object' || v.version !== 1 || !looksRight(v)) {
    throw new UsageError(`${rel(file)} is not a version 1 ${name}`, `give a ${name} written by this tsuite (regenerate it if it came from another version)`);
  }
  return value as T;
}
