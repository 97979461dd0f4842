import { Command } from 'commander';
import { resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import { InfraError, UsageError, describeError } from '../../core/errors.js';
import { assetPath } from '../../core/paths.js';
import { hostInfo } from '../../core/host-info.js';
import { buildPlan } from '../../core/plan.js';
import { createProgress } from '../../core/progress.js';
import type { KernelInfo, RunInfo } from '../../core/result.js';
import type { TargetDef } from '../../core/target.js';
import { newRunId } from '../../core/run-id.js';
import { dispatch } from '../../core/dispatch.js';
import { loadExpectations } from '../../core/expectations.js';
import { createReporters } from '../../reporters/index.js';
import { builtInSuites } from '../../../suites/index.js';
import { resolveBoot, type ResolvedBoot } from '../../../kernel/resolve-boot.js';
import { runnerFor } from '../../../runners/index.js';
import { profileFor } from '../../../runners/qemu/profiles/index.js';
import { qemuVersion } from '../../../runners/qemu/accel.js';
import { exitCodeFor } from '../exit-code.js';
import { targetFacts } from '../target-facts.js';
import { abortOnSignals } from '../signals.js';
import { loadContext, splitList } from '../load-context.js';
import { addTargetOptions, resolveTarget, type TargetFlags } from '../target-options.js';

export const tsuiteVersion: string = (JSON.parse(readFileSync(assetPath('package.json'), 'utf8')) as { version: string }).version;

interface RunFlags extends TargetFlags {
  suite?: string[];
  test?: string[];
  reporter?: string[];
  outputDir?: string;
  config?: string;
  runId?: string;
  testTimeout?: number;
}

/** What the results say about a kernel that could not be fetched or built. */
function unresolvedKernel(def: TargetDef): KernelInfo {
  if (def.image) return { path: def.image, source: 'image', cmdline: '' };
  if (def.kernelSrc) return { path: def.kernelSrc, source: 'source', cmdline: '' };
  const source = def.kernel === 'reference' ? 'debian-package' : def.kernel === 'fixture' ? 'fixture' : 'file';
  return { path: def.kernel, source, cmdline: '' };
}

export function runCommand(): Command {
  return addTargetOptions(new Command('run').description('boot the target and run suites against it'))
    .option('-s, --suite <names>', 'suites to run, comma-separated (default: all, or the config\'s)', splitList)
    .option('--test <pattern>', 'only tests whose id contains this (or matches this * glob); repeatable', splitList)
    .option('-r, --reporter <names>', 'reporters, comma-separated: console, json, tap, junit', splitList)
    .option('-o, --output-dir <dir>', 'where reports go (default: reports/<run-id>/)')
    .option('-c, --config <file>', 'config file (default: ./tsuite.config.ts if present)')
    .option('--run-id <id>', 'run id (default: date, time and a random suffix)')
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
  const config = await loadContext(flags.config);
  const target = resolveTarget(config, flags);
  const runId = flags.runId ?? newRunId();
  const outputDir = resolve(flags.outputDir ?? resolve(config.outputDir, runId));
  const reporters = createReporters(flags.reporter ?? config.reporters, { outputDir });
  const profile = profileFor(target.def.arch);
  const runner = runnerFor(target.def.runner);
  const plan = buildPlan({
    suites: builtInSuites,
    only: flags.suite ?? config.suites,
    grep: flags.test,
    target: target.name,
    sessionKey: JSON.stringify([target.name, target.def.kernel, target.def.kernelSrc, target.def.image, target.def.firmware, target.def.append ?? '']),
  });

  // Read before anything is fetched or booted: a bad file is a usage error, found at once.
  const expectations = target.def.expectations
    ? { file: resolve(target.def.expectations), entries: await loadExpectations(resolve(target.def.expectations)) }
    : undefined;
  const signals = abortOnSignals();
  try {
    const swept = (await runner.sweepOrphans?.()) ?? [];
    if (swept.length > 0) {
      process.stderr.write(`tsuite: stopped ${swept.length} QEMU process(es) left by an earlier tsuite that was killed (pids ${swept.join(', ')})\n`);
    }
    const progress = createProgress(process.stderr, !process.stderr.isTTY && process.env.CI === 'true');
    // A host that cannot provide the kernel still gets a report: every test is then infraError.
    let resolved: ResolvedBoot | undefined;
    let resolveError: InfraError | undefined;
    try {
      resolved = await resolveBoot(target.def, profile, progress);
    } catch (err) {
      if (!(err instanceof InfraError)) throw err;
      resolveError = err;
    }
    const info: RunInfo = {
      id: runId,
      target: target.name,
      startedAt: new Date().toISOString(),
      kernel: resolved?.kernel ?? unresolvedKernel(target.def),
      accel: 'none',
      qemuVersion: await qemuVersion(profile.qemuBinary),
      host: hostInfo(),
      tsuiteVersion,
    };
    const result = await dispatch({
      expectations,
      sessions: plan,
      target: targetFacts(target),
      run: info,
      reporters,
      outputDir,
      testTimeoutMs: config.testTimeoutMs,
      testTimeoutOverrideMs: flags.testTimeout,
      signal: signals.signal,
      provision: async (session, dir, signal) => {
        if (!resolved) throw resolveError!;
        return runner.provision(
          {
            sessionId: session.id,
            dir,
            arch: target.def.arch,
            boot: resolved.boot,
            cpus: target.def.cpus,
            memoryMb: target.def.memoryMb,
            accel: target.def.accel,
            landmark: target.landmark,
            bootTimeoutMs: target.def.bootTimeoutMs,
            eventPatterns: target.eventPatterns,
            powerOffCommand: target.def.powerOffCommand,
            agent: target.def.agent === true,
          },
          signal,
        );
      },
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
