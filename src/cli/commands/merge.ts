import { Command } from 'commander';
import { cp, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { notify } from '../../core/dispatch.js';
import { UsageError } from '../../core/errors.js';
import { mergeResults, type ShardBlob } from '../../core/merge-results.js';
import type { RunResult } from '../../core/result.js';
import { writeFileAtomic } from '../../core/write-file-atomic.js';
import { renderHtmlReport } from '../../report/html-report.js';
import { loadReporters } from '../../reporters/index.js';
import { exitCodeFor } from '../exit-code.js';
import { addSuiteFilesOption, loadContext, splitList } from '../load-context.js';
import { isDir, readRunModel, rel } from '../run-files.js';

interface MergeFlags {
  outputDir: string;
  reporter?: string[];
  config?: string;
  runId?: string;
  allowMissing?: boolean;
  suiteFiles?: string[];
}

export function mergeCommand(): Command {
  return addSuiteFilesOption(new Command('merge'))
    .description('join the output dirs of `tsuite run --shard i/n` into one run: results.json, session folders, the reporters\' files and report.html')
    .argument('<shard-dirs...>', 'the output dir of each shard (read only: nothing is written into them)')
    .requiredOption('-o, --output-dir <dir>', 'where the merged run goes (not inside a shard dir)')
    .option('-r, --reporter <names>', 'reporters fed the merged run, comma-separated (default: the config\'s); json writes results.json', splitList)
    .option('--allow-missing', 'merge even when some shards are absent (recorded in run.merged.missing); by default a missing shard is an error')
    .option('--run-id <id>', 'the merged run\'s id (default: the first shard\'s)')
    .option('-c, --config <file>', 'config file (default: ./tsuite.config.ts if present)')
    .action(async (dirs: string[], flags: MergeFlags) => {
      process.exitCode = await merge(dirs, flags);
    });
}

async function merge(dirs: readonly string[], flags: MergeFlags): Promise<number> {
  // The suites' conformance specs rebuild the matrices exactly as one run builds them.
  const config = await loadContext(flags.config, flags);
  const outputDir = resolve(flags.outputDir);
  const blobs: ShardBlob[] = [];
  for (const dir of dirs) {
    const full = resolve(dir);
    if (!isDir(full)) throw new UsageError(`${dir}: no such folder`, 'give the output dir of each `tsuite run --shard i/n`');
    const file = join(full, 'results.json');
    if (!existsSync(file)) throw new UsageError(`${dir}: no results.json in that folder`, 'give the output dir of a `tsuite run --shard i/n` that finished (its json reporter writes results.json)');
    const result = await readRunModel<RunResult>(file, 'results.json', (v) => Array.isArray(v.tests) && Array.isArray(v.sessions) && typeof v.run === 'object' && typeof v.summary === 'object');
    blobs.push({ dir, result });
    if (within(outputDir, full) || within(full, outputDir)) {
      throw new UsageError(`--output-dir ${flags.outputDir} overlaps the shard dir ${dir}`, 'merge into a folder of its own, outside every shard dir (shard dirs are never written)');
    }
  }
  const conformanceSpecs = new Map(config.catalog.suites.filter((s) => s.conformance).map((s) => [s.name, s.conformance!] as const));
  const merged = mergeResults(blobs, { allowMissing: flags.allowMissing, runId: flags.runId, conformanceSpecs });

  await mkdir(outputDir, { recursive: true });
  // Each session's folder (console log, cloud.json, ...) as a single run leaves it.
  for (const b of blobs) {
    for (const s of b.result.sessions) {
      const from = join(resolve(b.dir), s.id);
      if (isDir(from)) await cp(from, join(outputDir, s.id), { recursive: true, force: true });
    }
  }
  const reporters = await loadReporters(flags.reporter ?? config.reporters, { outputDir });
  // The same hooks, in the same order, as a live run calls them.
  await notify(reporters, 'onRunStart', merged.run);
  for (const s of merged.sessions) {
    await notify(reporters, 'onSessionStart', s);
    for (const t of merged.tests.filter((x) => x.session === s.id)) await notify(reporters, 'onTestEnd', t);
    await notify(reporters, 'onSessionEnd', s);
  }
  // Tests without a session result (skipped before any boot) were reported too.
  const known = new Set(merged.sessions.map((s) => s.id));
  for (const t of merged.tests.filter((x) => !known.has(x.session))) await notify(reporters, 'onTestEnd', t);
  await notify(reporters, 'onRunEnd', merged);
  await writeFileAtomic(join(outputDir, 'report.html'), renderHtmlReport({ results: merged, history: [], generatedAt: new Date().toISOString() }));

  const m = merged.run.merged!;
  process.stderr.write(`tsuite: merged ${m.shards.length} of ${m.total} shard(s), ${merged.sessions.length} session(s), ${merged.tests.length} test(s) into ${rel(outputDir)}${m.missing ? ` (missing shard(s) ${m.missing.join(', ')})` : ''}\n`);
  return exitCodeFor(merged);
}

/** `inner` is `outer` or below it. */
function within(inner: string, outer: string): boolean {
  const r = relative(outer, inner);
  return r === '' || (r !== '..' && !r.startsWith(`..${sep}`) && !isAbsolute(r));
}
