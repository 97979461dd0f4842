import { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { relative } from 'node:path';
import { addSuiteFilesOption, loadContext, splitList } from '../load-context.js';
import { findTarget } from '../../core/target.js';
import { withShellTests } from '../../../suites/shell/index.js';

export function listCommand(): Command {
  return addSuiteFilesOption(new Command('list'))
    .description('list suites (built-in and your own) and their tests, with what each test requires')
    .option('-s, --suite <names>', 'only these suites, comma-separated', splitList)
    .option('-c, --config <file>', 'config file (default: ./tsuite.config.ts if present)')
    .option('-t, --target <name>', "whose declarative shell tests (shellTests) the shell suite lists (default: the config's default target)")
    .option('--json', 'machine-readable output')
    .action(async (flags: { suite?: string[]; json?: boolean; config?: string; suiteFiles?: string[]; target?: string }) => {
      const context = await loadContext(flags.config, flags);
      // The shell suite holds the target's own shellTests.
      const catalog = { ...context.catalog, suites: withShellTests(context.catalog.suites, findTarget(flags.target ?? context.defaultTarget, context.targets)) };
      const names = catalog.suites.map((s) => s.name);
      const unknown = (flags.suite ?? []).filter((n) => !names.includes(n));
      if (unknown.length) throw new UsageError(`unknown suite(s): ${unknown.join(', ')}`, `use one of: ${names.join(', ')}`);
      const suites = catalog.suites.filter((s) => !flags.suite?.length || flags.suite.includes(s.name));
      const rows = suites.map((s) => ({
        suite: s.name,
        description: s.description,
        // Where a user suite came from; built-in suites have no file.
        ...(catalog.files.has(s.name) && { file: catalog.files.get(s.name)! }),
        explicit: s.explicit === true,
        tests: s.tests.map((t) => {
          const children = t.describeChildren?.();
          return {
            id: `${s.name}/${t.name}`,
            title: t.title,
            requires: t.requires ?? [],
            endsSession: Boolean(t.endsSession),
            ...(children && { children: children.ids.map((c) => `${s.name}/${c}`), notes: children.notes ?? [] }),
          };
        }),
      }));
      if (flags.json) {
        process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
        return;
      }
      for (const s of rows) {
        const from = s.file ? `  [from ${relative(process.cwd(), s.file).startsWith('..') ? s.file : relative(process.cwd(), s.file)}]` : '';
        process.stdout.write(`${s.suite} — ${s.description}${from}\n`);
        const width = Math.max(...s.tests.map((t) => t.id.length));
        for (const t of s.tests) {
          const needs = t.requires.length ? `  [requires: ${t.requires.map((r) => (typeof r === 'string' ? r : r.join(' or '))).join(', ')}]` : '';
          process.stdout.write(`  ${t.id.padEnd(width)}  ${t.title}${needs}\n`);
          for (const note of t.notes ?? []) process.stdout.write(`      (${note})\n`);
          if (t.children?.length) process.stdout.write(`      ${t.children.length} reported below it: ${t.children.join(', ')}\n`);
        }
      }
    });
}
