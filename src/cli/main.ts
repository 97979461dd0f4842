#!/usr/bin/env node
/**
 * The `tsuite` bin. It runs the CLI (program.ts) from the bundle `npm run build` makes of it
 * (dist/bundle/cli.js, see rolldown.config.mjs): Node 20 loads one bundle far faster than the
 * hundreds of modules tsc writes. The bin itself stays here, where npm has always linked it.
 */
import { fileURLToPath } from 'node:url';
import type * as Program from './program.js';

const bundle = new URL('../../bundle/cli.js', import.meta.url);
const cli = (await import(bundle.href).catch((err: NodeJS.ErrnoException) => {
  if (err.code !== 'ERR_MODULE_NOT_FOUND' || !String(err.message).includes(`'${fileURLToPath(bundle)}'`)) throw err;
  process.stderr.write(`tsuite: the bundled CLI (${fileURLToPath(bundle)}) is missing: run \`npm run build\`\n`);
  process.exit(3); // ExitCode.infra: the installation, not the kernel or the command line
})) as typeof Program;
await cli.runCli(process.argv);
