import { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { builtInSuites } from '../../../suites/index.js';
import { splitList } from '../load-context.js';

export function listCommand(): Command {
  return new Command('list')
    .description('list suites and their tests, with what each test requires')
    .option('-s, --suite <names>', 'only these suites, comma-separated', splitList)
    .option('--json', 'machine-readable output')
    .action((flags: { suite?: string[]; json?: boolean }) => {
      const names = builtInSuites.map((s) => s.name);
      const unknown = (flags.suite ?? []).filter((n) => !names.includes(n));
      if (unknown.length) throw new UsageError(`unknown suite(s): ${unknown.join(', ')}`, `use one of: ${names.join(', ')}`);
      const suites = builtInSuites.filter((s) => !flags.suite?.length || flags.suite.includes(s.name));
      const rows = suites.map((s) => ({
        suite: s.name,
        description: s.description,
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
        process.stdout.write(`${s.suite} — ${s.description}\n`);
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
