import { Command } from 'commander';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { UsageError } from '../../core/errors.js';
import { dispatch } from '../../core/dispatch.js';
import { hostInfo } from '../../core/host-info.js';
import { buildPlan } from '../../core/plan.js';
import { replaySession } from '../../core/replay-session.js';
import { newRunId } from '../../core/run-id.js';
import { parseBootReport } from '../../parsers/boot-report.js';
import { parseKtap } from '../../parsers/ktap.js';
import { loadReporters } from '../../reporters/index.js';
import { exitCodeFor } from '../exit-code.js';
import { targetFacts } from '../target-facts.js';
import { loadContext, splitList } from '../load-context.js';
import { resolveTarget } from '../target-options.js';
import { tsuiteVersion } from '../suite-run.js';
import { landmarkVerdict, offlineSuites } from './parse-offline.js';

interface ParseFlags {
  target?: string;
  landmark?: string;
  ktap?: boolean;
  suite?: string[];
  reporter?: string[];
  outputDir?: string;
  config?: string;
}

export function parseCommand(): Command {
  return new Command('parse')
    .description('parse a saved console log offline (no VM): boot report, kernel errors, and the tests that need no live machine')
    .argument('<console.log>', 'a console log, e.g. reports/<run-id>/<session>/console.log')
    .option('-t, --target <name>', 'target whose landmark and panic patterns apply')
    .option('--landmark <regex>', "console line that means the kernel was up (without one, a log lacking tsuite's boot landmark is still read for its KTAP, and the boot tests are skipped)")
    .option('--ktap', 'the kernel prints KTAP: a log without any reports noTests instead of skipping the kernel test')
    .option('-s, --suite <names>', 'suites to evaluate (default: boot,kernel)', splitList)
    .option('-r, --reporter <names>', 'reporters, comma-separated: console, json, tap, junit, or the path of a reporter file', splitList)
    .option('-o, --output-dir <dir>', 'where reports go (default: reports/<run-id>/)')
    .option('-c, --config <file>', 'config file')
    .action(async (file: string, flags: ParseFlags) => {
      const path = resolve(file);
      if (!existsSync(path)) throw new UsageError(`no such console log: ${path}`, 'give the path of a saved console.log');
      const text = await readFile(path, 'utf8');
      const config = await loadContext(flags.config);
      // A saved log came from some kernel; the landmark decides where boot ends, not the initrd.
      const target = resolveTarget(config, { target: flags.target, landmark: flags.landmark, ktap: flags.ktap, initrd: 'tsuite' });
      const runId = newRunId();
      const outputDir = resolve(flags.outputDir ?? resolve(config.outputDir, runId));
      const lines = text.split('\n');
      const report = parseBootReport(lines);
      const hasKtap = parseKtap(lines) !== undefined;
      const landmark = landmarkVerdict(lines, target.landmark, target.def.landmark !== undefined, hasKtap, file);
      process.stderr.write(
        report
          ? `Boot report in ${path}:\n${Object.entries(report).map(([k, v]) => `  ${k}: ${v}`).join('\n')}\n`
          : `No tsuite boot report in ${path}\n`,
      );
      if (landmark.note) process.stderr.write(landmark.note);
      const suites = offlineSuites(config.catalog.suites, { bootSkip: landmark.skipReason, hasBootReport: report !== undefined });
      const sessionId = basename(dirname(path)) || 'replay';
      const result = await dispatch({
        sessions: buildPlan({ suites, only: flags.suite ?? ['boot', 'kernel'], target: target.name, sessionKey: path }).map((s) => ({ ...s, id: sessionId })),
        // Offline, the log itself says whether the kernel printed KTAP.
        target: { ...targetFacts(target), ktap: targetFacts(target).ktap || hasKtap },
        provision: async () => replaySession(sessionId, dirname(path), text, target.landmark, target.eventPatterns, { landmarkOptional: landmark.optional }),
        reporters: await loadReporters(flags.reporter ?? config.reporters, { outputDir }),
        run: {
          id: runId,
          target: target.name,
          startedAt: new Date().toISOString(),
          kernel: { path, source: 'file', cmdline: report?.cmdline ?? '' },
          accel: 'none',
          host: hostInfo(),
          tsuiteVersion,
        },
        outputDir,
        testTimeoutMs: config.testTimeoutMs,
        signal: new AbortController().signal,
      });
      process.exitCode = exitCodeFor(result);
    });
}
