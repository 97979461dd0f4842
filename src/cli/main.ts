#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { ExitCode, TsuiteError, describeError } from '../core/errors.js';
import { benchCommand } from './commands/bench.js';
import { cloudCommand } from './commands/cloud.js';
import { compareCommand } from './commands/compare.js';
import { doctorCommand } from './commands/doctor.js';
import { listCommand } from './commands/list.js';
import { parseCommand } from './commands/parse.js';
import { reportCommand } from './commands/report.js';
import { runCommand } from './commands/run.js';
import { tsuiteVersion } from './suite-run.js';
import { setupCommand } from './commands/setup.js';
import { targetsCommand } from './commands/targets.js';

// `tsuite list | head` closes our stdout early: that is the reader's choice, not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

const program = new Command('tsuite')
  .description('Conformance and benchmark suites for cloud-native kernels, with Linux as the reference')
  .version(tsuiteVersion)
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

for (const cmd of [runCommand(), benchCommand(), compareCommand(), listCommand(), targetsCommand(), setupCommand(), doctorCommand(), parseCommand(), reportCommand(), cloudCommand()]) {
  program.addCommand(cmd.exitOverride().showHelpAfterError('(run with --help for usage)'));
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // Help and version are successes; every other commander error is a usage error (exit 2).
    process.exitCode = err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
  } else {
    process.stderr.write(`tsuite: ${describeError(err)}\n`);
    process.exitCode = err instanceof TsuiteError ? err.exitCode : ExitCode.infra;
  }
}

// Every machine, instance and file tsuite made is stopped, deleted or written by now. A cloud client
// library may still hold a retry timer or a keep-alive socket (an upload cut short by Ctrl-C
// retries in the background for minutes): that must not keep the command from ending.
// (Only as the program itself: a test that imports this file to read the commands keeps running.)
if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  process.exit();
}
