import { Command, CommanderError } from 'commander';
import { ExitCode, TsuiteError, describeError } from '../core/errors.js';
import { tsuiteVersion } from './version.js';

/**
 * Each command's module, loaded on demand: together they import every SDK tsuite speaks (cloud
 * providers, gRPC, Docker, statistics, GitHub), seconds of start-up a `tsuite run` never uses.
 * In the order `tsuite --help` lists them.
 */
const COMMANDS: Record<string, () => Promise<Command>> = {
  run: async () => (await import('./commands/run.js')).runCommand(),
  merge: async () => (await import('./commands/merge.js')).mergeCommand(),
  bench: async () => (await import('./commands/bench.js')).benchCommand(),
  compare: async () => (await import('./commands/compare.js')).compareCommand(),
  list: async () => (await import('./commands/list.js')).listCommand(),
  targets: async () => (await import('./commands/targets.js')).targetsCommand(),
  setup: async () => (await import('./commands/setup.js')).setupCommand(),
  doctor: async () => (await import('./commands/doctor.js')).doctorCommand(),
  parse: async () => (await import('./commands/parse.js')).parseCommand(),
  report: async () => (await import('./commands/report.js')).reportCommand(),
  cloud: async () => (await import('./commands/cloud.js')).cloudCommand(),
  bisect: async () => (await import('./commands/bisect.js')).bisectCommand(),
};

/** The `tsuite` program with the named commands (all of them unless told), as `--help` shows it. */
export async function buildProgram(names: readonly string[] = Object.keys(COMMANDS)): Promise<Command> {
  const program = new Command('tsuite')
    .description('Conformance and benchmark suites for cloud-native kernels, with Linux as the reference')
    .version(tsuiteVersion)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  for (const cmd of await Promise.all(names.map((name) => COMMANDS[name]!()))) {
    program.addCommand(cmd.exitOverride().showHelpAfterError('(run with --help for usage)'));
  }
  return program;
}

/** Runs tsuite as a program on Node's argv (the bin, main.ts, calls it), then ends the process. */
export async function runCli(argv: readonly string[]): Promise<void> {
  // `tsuite run ...` loads only `run`; help, a flag or a misspelt name loads every command (for the
  // listing and the suggestions).
  const invoked = argv[2];
  const wanted = invoked === undefined ? Object.keys(COMMANDS)
    : Object.hasOwn(COMMANDS, invoked) ? [invoked]
    : invoked === '--version' || invoked === '-V' ? []
    : Object.keys(COMMANDS);

  // `tsuite list | head` closes our stdout early: that is the reader's choice, not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });

  try {
    await (await buildProgram(wanted)).parseAsync([...argv]);
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
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  process.exit();
}
