import { Command } from 'commander';
import { InfraError, UsageError } from '../../core/errors.js';
import { CloudApiError, describePlace, type CloudProvider } from '../../../runners/cloud/cloud-provider.js';
import { CLOUD_PROVIDERS, findTarget, isCloudRunner } from '../../core/target.js';
import { cloudProviderFor } from '../../../runners/index.js';
import { createdAt, findOrphans } from '../../../runners/cloud/orphans.js';
import { LABEL_OWNER, LABEL_RUN, LABEL_TARGET } from '../../../runners/cloud/cloud-labels.js';
import { DEFAULT_GRACE_MINUTES, sweepOrphans } from '../../../runners/cloud/sweep.js';
import { stepFix } from '../../../runners/cloud/cloud-lifecycle.js';
import { loadContext } from '../load-context.js';


interface CloudFlags {
  run?: string;
  target?: string;
  config?: string;
  olderThan?: number;
  dryRun?: boolean;
  json?: boolean;
}

/** `90m`, `2h`, `1d`, `0`: a duration in minutes. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(m|min|h|d)?$/.exec(text.trim());
  if (!m) throw new UsageError(`--older-than takes a duration such as 90m, 2h, 1d or 0, not '${text}'`);
  const n = Number(m[1]);
  return m[2] === 'h' ? n * 60 : m[2] === 'd' ? n * 1440 : n;
}

/** `tsuite cloud gc|ls`: what tsuite has in a cloud account, and sweeping its orphans now. */
export function cloudCommand(): Command {
  const cloud = new Command('cloud').description("manage what tsuite created in a cloud target's account");
  const common = (cmd: Command) => cmd
    .requiredOption('-t, --target <name>', 'a cloud target from tsuite.config.ts (its project, zone and bucket say where to look)')
    .option('-c, --config <file>', 'config file (default: ./tsuite.config.ts if present)');
  cloud.addCommand(common(new Command('ls').description("list tsuite's instances, images and staged objects, by run"))
    .option('--json', 'machine-readable output')
    .action(async (flags: CloudFlags) => {
      const { name, provider, grace } = await cloudTarget(flags);
      try {
        await withFix(provider, provider.checkCredentials());
        const resources = await withFix(provider, provider.list());
        const orphans = new Set(findOrphans(resources, { now: new Date(), graceMs: grace * 60_000 }).map((o) => o.resource));
        const rows = resources.map((r) => ({ ...r, run: r.labels[LABEL_RUN] ?? null, target: r.labels[LABEL_TARGET] ?? null, owner: r.labels[LABEL_OWNER] ?? null, createdAt: createdAt(r)?.toISOString() ?? null, orphan: orphans.has(r) }));
        if (flags.json) {
          process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
          return;
        }
        if (rows.length === 0) {
          process.stdout.write(`nothing of tsuite's in ${describePlace(provider.place)} (target ${name})\n`);
          return;
        }
        const byRun = new Map<string, typeof rows>();
        for (const r of rows) {
          const key = r.run ?? '(no run label: half-created)';
          byRun.set(key, [...(byRun.get(key) ?? []), r]);
        }
        for (const [run, items] of byRun) {
          process.stdout.write(`run ${run}${items[0]!.target ? ` (target ${items[0]!.target})` : ''}\n`);
          for (const r of items) process.stdout.write(`  ${r.kind.padEnd(8)} ${r.name}  ${r.location}  created ${r.createdAt ?? 'unknown'}${r.orphan ? '  ORPHAN' : ''}\n`);
        }
      } finally {
        await provider.close();
      }
    }));
  cloud.addCommand(common(new Command('gc').description("delete tsuite's orphans now: resources of runs older than --older-than, of dead runs on this host, and half-created ones"))
    .option('--older-than <duration>', "age past which another run's resources are orphans, e.g. 90m, 2h, 0 (default: the target's cloud.sweepGraceMinutes, else 120m)", parseDuration)
    .option('--run <id>', "delete everything of this run whatever its age (a CI job cleaning up after its own run, which it named with `tsuite run --run-id`)")
    .option('--dry-run', 'list what would be deleted, delete nothing')
    .action(async (flags: CloudFlags) => {
      const { provider, grace } = await cloudTarget(flags);
      try {
        const minutes = flags.olderThan ?? grace;
        await withFix(provider, provider.checkCredentials());
        const result = await withFix(provider, sweepOrphans(provider, { graceMs: minutes * 60_000, dryRun: flags.dryRun, run: flags.run }));
        if (flags.dryRun) for (const o of result.orphans) process.stdout.write(`would delete ${o.resource.kind} ${o.resource.name} (${o.why})\n`);
        const failed = result.records.filter((r) => r.result === 'failed');
        process.stdout.write(`${flags.dryRun ? 'found' : 'swept'} ${result.orphans.length} orphan(s) in ${describePlace(provider.place)}${failed.length ? `; ${failed.length} could NOT be deleted (see above)` : ''}\n`);
        if (failed.length > 0) process.exitCode = 3;
      } finally {
        await provider.close();
      }
    }));
  return cloud;
}

async function cloudTarget(flags: CloudFlags) {
  const config = await loadContext(flags.config, {}, 'none');
  const name = flags.target!;
  const def = findTarget(name, config.targets);
  if (!isCloudRunner(def.runner)) throw new UsageError(`target '${name}' is not a cloud target (runner ${def.runner})`, `give a target whose runner is ${CLOUD_PROVIDERS.map((p) => `'${p}'`).join(', ')} (see \`tsuite targets\`)`);
  return { name, provider: await cloudProviderFor(name, def), grace: def.cloud?.sweepGraceMinutes ?? DEFAULT_GRACE_MINUTES };
}

/** A provider error as the CLI reports it: the provider's words (already redacted) and what to check. */
async function withFix<T>(provider: CloudProvider, p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    if (!(err instanceof CloudApiError)) throw err;
    const fix = err.reason === 'NO_CREDENTIALS'
      ? stepFix(provider, 'credentials')
      : `check the target's ${provider.place.provider} settings (${Object.keys(provider.place.where).join(', ')}) and that the credentials hold the permissions listed under "Cloud targets" in the README`;
    throw new InfraError(err.message, fix);
  }
}

