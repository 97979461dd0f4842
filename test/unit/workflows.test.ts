import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The GitHub Actions workflows shipped for kernel repositories: their structure, and every
 * `tsuite <command> --flag` they run checked against the commands and options the CLI really has,
 * so renaming a flag breaks this test instead of a user's CI.
 */

const root = new URL('../../', import.meta.url);
const workflow = (name: string) => parse(readFileSync(new URL(`.github/workflows/${name}`, root), 'utf8')) as Workflow;

interface Step {
  name?: string;
  id?: string;
  if?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
  'working-directory'?: string;
}
interface Job {
  'runs-on': string;
  container?: { image: string } | string;
  strategy?: { matrix: { include?: Record<string, string>[]; target?: string[] } };
  env?: Record<string, string>;
  steps: Step[];
}
interface Workflow {
  on: Record<string, unknown>;
  permissions: Record<string, string>;
  concurrency?: { group: string; 'cancel-in-progress': boolean };
  env?: Record<string, string>;
  jobs: Record<string, Job>;
}

// ---- the CLI's commands and options, from commander itself ----

interface CliOption {
  long?: string;
  short?: string;
  takesValue: boolean;
}

/** The program the bin runs, with every command: the real commands with their real options. */
async function loadProgram(): Promise<Command> {
  return (await import('../../src/cli/program.js')).buildProgram();
}

/**
 * Commands the workflows use that the CLI does not have yet, with the flags planned for them.
 * Each entry is used only while the command is missing: once it exists, its real options count.
 */
const PLANNED: Record<string, CliOption[]> = {
  report: [
    { long: '--results', takesValue: true },
    { long: '--bench', takesValue: true },
    { long: '--history', takesValue: true },
    { long: '--output', short: '-o', takesValue: true },
  ],
};

let commands: Map<string, CliOption[]>;
const savedExitCode = process.exitCode;
beforeAll(async () => {
  const program = await loadProgram();
  const optionsOf = (c: Command) => c.options.map((o) => ({ long: o.long, short: o.short, takesValue: o.required || o.optional }));
  // A command with subcommands (`tsuite cloud gc`) is checked as `cloud gc`, against the subcommand's options.
  commands = new Map(program.commands.flatMap((c) => [[c.name(), optionsOf(c)] as const, ...c.commands.map((sub) => [`${c.name()} ${sub.name()}`, optionsOf(sub)] as const)]));
  for (const [name, options] of Object.entries(PLANNED)) if (!commands.has(name)) commands.set(name, options);
});
afterAll(() => {
  process.exitCode = savedExitCode;
});

// ---- shell commands in run: steps ----

/** Words of a shell script, with quotes removed; operators (| && ; > ...) as their own words; comments dropped. */
function shellWords(script: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  const push = () => {
    if (word !== undefined) words.push(word);
    word = undefined;
  };
  for (let i = 0; i < script.length; i++) {
    const ch = script[i]!;
    if (ch === '\\' && script[i + 1] === '\n') { i++; continue; } // line continuation
    if (ch === '\\') { word = (word ?? '') + (script[++i] ?? ''); continue; }
    if (ch === "'") {
      const end = script.indexOf(ch, i + 1);
      if (end < 0) throw new Error(`unterminated ' in: ${script}`);
      word = (word ?? '') + script.slice(i + 1, end);
      i = end;
      continue;
    }
    if (ch === '"') {
      let text = '';
      for (i++; i < script.length && script[i] !== '"'; i++) text += script[i] === '\\' && '"\\$`'.includes(script[i + 1]!) ? script[++i] : script[i];
      if (i >= script.length) throw new Error(`unterminated " in: ${script}`);
      word = (word ?? '') + text;
      continue;
    }
    if (ch === '$' && script[i + 1] === '(') {
      // A command substitution is part of the word it is in.
      let depth = 0;
      let j = i + 1;
      for (; j < script.length; j++) if (script[j] === '(') depth++; else if (script[j] === ')' && --depth === 0) break;
      word = (word ?? '') + script.slice(i, j + 1);
      i = j;
      continue;
    }
    if (ch === '#' && word === undefined) { while (i < script.length && script[i] !== '\n') i++; push(); words.push(';'); continue; }
    if (ch === '\n') { push(); words.push(';'); continue; }
    if (/\s/.test(ch)) { push(); continue; }
    if ('|&;<>()'.includes(ch)) {
      push();
      let op = ch;
      while (i + 1 < script.length && '|&;<>'.includes(script[i + 1]!) && op.length < 2) op += script[++i];
      words.push(op);
      continue;
    }
    word = (word ?? '') + ch;
  }
  push();
  return words;
}

const OPERATORS = new Set([';', '|', '||', '&&', '&', '>', '>>', '<', '(', ')', '2>', '&>']);

interface Invocation {
  command: string;
  args: string[];
  step: string;
}

/** `${{ ... }}` is replaced by Actions before the shell sees the script. */
const withoutExpressions = (script: string) => script.replace(/\$\{\{[^}]*\}\}/g, 'EXPR');

/** Every `tsuite <command> ...` in a step's script, up to the next shell operator. */
function stepInvocations(step: Step): Invocation[] {
  if (!step.run) return [];
  const words = shellWords(withoutExpressions(step.run));
  return words.flatMap((w, i) => {
    if (w !== 'tsuite' || (i > 0 && !OPERATORS.has(words[i - 1]!) && !wrapped(words, i))) return [];
    const rest = words.slice(i + 1);
    const end = rest.findIndex((x) => OPERATORS.has(x));
    const [first = '', ...more] = end < 0 ? rest : rest.slice(0, end);
    const [command, args] = commands.has(`${first} ${more[0]}`) ? [`${first} ${more[0]}`, more.slice(1)] : [first, more];
    return [{ command, args, step: step.name ?? step.run!.slice(0, 40) }];
  });
}

/** `timeout 90m tsuite run ...`: tsuite run by a command that runs its arguments. */
function wrapped(words: string[], i: number): boolean {
  let start = i - 1;
  while (start > 0 && !OPERATORS.has(words[start - 1]!)) start--;
  return ['timeout', 'env', 'nice', 'exec'].includes(words[start]!);
}

const invocations = (wf: Workflow) => Object.values(wf.jobs).flatMap((j) => j.steps.flatMap(stepInvocations));

function checkAgainstCli(inv: Invocation): string[] {
  const options = commands.get(inv.command);
  if (!options) return [`${inv.step}: tsuite has no command '${inv.command}' (it has: ${[...commands.keys()].join(', ')})`];
  const problems: string[] = [];
  for (let i = 0; i < inv.args.length; i++) {
    const arg = inv.args[i]!;
    if (!arg.startsWith('-')) continue;
    const flag = arg.split('=')[0]!;
    const option = options.find((o) => o.long === flag || o.short === flag);
    if (!option) {
      problems.push(`${inv.step}: 'tsuite ${inv.command}' has no option ${flag}`);
      continue;
    }
    if (option.takesValue && !arg.includes('=')) {
      const value = inv.args[i + 1];
      if (value === undefined || value.startsWith('-')) problems.push(`${inv.step}: ${flag} of 'tsuite ${inv.command}' needs a value`);
      i++;
    }
  }
  return problems;
}

const pr = workflow('tsuite-pr.yml');
const nightly = workflow('tsuite-nightly.yml');
const steps = (wf: Workflow) => Object.values(wf.jobs).flatMap((j) => j.steps);
const used = (wf: Workflow, command: string) => invocations(wf).filter((i) => i.command === command);

describe('shellWords', () => {
  it('splits like a shell: quotes, continuations, operators, comments', () => {
    expect(shellWords(`tsuite run --build "make -j\\"8\\" $X" -j$(nproc) \\\n  --x 'a b' | tee f # tsuite bogus --flag`))
      .toEqual(['tsuite', 'run', '--build', 'make -j"8" $X', '-j$(nproc)', '--x', 'a b', '|', 'tee', 'f', ';']);
    expect(shellWords('a && b; c > d 2>&1')).toEqual(['a', '&&', 'b', ';', 'c', '>', 'd', '2', '>&', '1']);
  });
});

describe.each([
  ['tsuite-pr.yml', pr],
  ['tsuite-nightly.yml', nightly],
])('%s', (_name, wf) => {
  it('runs only tsuite commands and flags the CLI has, each with its value', () => {
    const all = invocations(wf);
    expect(all.length).toBeGreaterThan(3);
    expect(all.flatMap(checkAgainstCli)).toEqual([]);
  });

  it('has run: scripts bash can parse', () => {
    for (const step of steps(wf).filter((s) => s.run)) {
      const r = spawnSync('bash', ['-n'], { input: withoutExpressions(step.run!), encoding: 'utf8' });
      expect(r.stderr, step.name).toBe('');
      expect(r.status, step.name).toBe(0);
    }
  });

  it('builds tsuite from a documented repository and ref on Node 20, in Debian 12', () => {
    expect(wf.env?.TSUITE_REPOSITORY).toBeTruthy();
    expect(wf.env?.TSUITE_REF).toBeTruthy();
    const tsuite = steps(wf).find((s) => s.uses?.startsWith('actions/checkout@') && s.with?.repository === '${{ env.TSUITE_REPOSITORY }}');
    expect(tsuite?.with?.ref).toBe('${{ env.TSUITE_REF }}');
    expect(steps(wf).find((s) => s.uses?.startsWith('actions/setup-node@'))?.with?.['node-version']).toBe(20);
    const build = steps(wf).find((s) => s.run?.includes('npm ci'));
    expect(build?.run).toMatch(/npm ci\s+npm run build/);
    for (const job of Object.values(wf.jobs)) expect(JSON.stringify(job.container)).toContain('debian:12');
  });

  it('prepares the host, then runs the suites, then benchmarks', () => {
    const order = ['setup', 'run', 'bench'].map((c) => steps(wf).findIndex((s) => stepInvocations(s).some((i) => i.command === c)));
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    for (const run of [...used(wf, 'run'), ...used(wf, 'bench')]) expect(run.args).toEqual(expect.arrayContaining(['--kernel-src', '.', '--build', '--kernel-artifact']));
  });

  it('uploads reports/ even when a step failed', () => {
    // Other uploads (the shard durations) carry no reports.
    const uploads = steps(wf).filter((s) => s.uses?.startsWith('actions/upload-artifact@') && /^reports\/?$/.test(String(s.with?.path)));
    expect(uploads.length).toBeGreaterThan(0);
    for (const upload of uploads) expect(upload.if).toBe('always()');
  });
});

describe('tsuite-pr.yml', () => {
  it('runs on pull requests with the permissions the comment needs and no more', () => {
    expect(Object.keys(pr.on)).toEqual(['pull_request']);
    expect(pr.permissions).toEqual({ contents: 'read', 'pull-requests': 'write', issues: 'write' });
    expect(pr.concurrency?.group).toContain('github.event.pull_request.number');
  });

  it('checks out the kernel with its full history where it compares, so --base resolves', () => {
    const job = Object.values(pr.jobs).find((j) => j.steps.some((s) => s.run?.includes('tsuite compare')))!;
    const kernel = job.steps.find((s) => s.uses?.startsWith('actions/checkout@') && !s.with?.repository);
    expect(kernel?.with?.['fetch-depth']).toBe(0);
  });

  it('compares against the base branch and posts with GITHUB_TOKEN, re-measuring on the same kernel', () => {
    const [post, ...others] = used(pr, 'compare').filter((i) => i.args.includes('--post'));
    expect(others).toEqual([]);
    const step = steps(pr).find((s) => s.name === post!.step)!;
    expect(step.env?.GITHUB_TOKEN).toBe('${{ secrets.GITHUB_TOKEN }}');
    expect(step.env?.BASE_REF).toBe('${{ github.base_ref }}');
    const arg = (flag: string) => post!.args[post!.args.indexOf(flag) + 1];
    expect(arg('--base')).toBe('origin/$BASE_REF');
    expect(arg('--format')).toBe('markdown');
    // A re-measurement must boot the kernel that was benchmarked: the same kernel flags as bench.
    const bench = used(pr, 'bench')[0]!;
    const kernelFlags = (args: string[]) => args.flatMap((a, i) => (['--target', '--kernel-src', '--build', '--kernel-artifact', '--initrd'].includes(a) ? [a, args[i + 1]] : []));
    expect(kernelFlags(post!.args)).toEqual(kernelFlags(bench.args));
  });

  it('posts only where the token can write: a fork gets the job summary instead', () => {
    const compares = steps(pr).filter((s) => s.run?.includes('tsuite compare'));
    expect(compares).toHaveLength(2);
    const posting = compares.find((s) => s.run!.includes('--post'))!;
    const fork = compares.find((s) => !s.run!.includes('--post'))!;
    expect(posting.if).toContain('head.repo.full_name == github.repository');
    expect(fork.if).toContain('head.repo.full_name != github.repository');
  });
});

describe('tsuite-nightly.yml', () => {
  it('runs on a schedule and by hand, never two at once', () => {
    expect(Object.keys(nightly.on).sort()).toEqual(['schedule', 'workflow_dispatch']);
    expect((nightly.on.schedule as { cron: string }[])[0]!.cron.split(' ')).toHaveLength(5);
    expect(nightly.concurrency?.group).toBeTruthy();
    expect(nightly.concurrency?.['cancel-in-progress']).toBe(false);
    expect(nightly.permissions).toEqual({ contents: 'write' });
  });

  it('covers both QEMU targets and records, reports and commits the history', () => {
    const job = nightly.jobs.suites!;
    expect(job.strategy?.matrix.include?.map((m) => m.target)).toEqual(['qemu-x86', 'qemu-arm64']);
    const bench = used(nightly, 'bench');
    expect(bench).toHaveLength(1);
    expect(bench[0]!.args).toEqual(expect.arrayContaining(['--record', '--history']));
    const history = bench[0]!.args[bench[0]!.args.indexOf('--history') + 1];
    expect(used(nightly, 'report')[0]?.args).toEqual(expect.arrayContaining(['--history', history]));
    const commit = steps(nightly).find((s) => s.run?.includes('git push'));
    expect(commit?.['working-directory']).toBe(history!.replace(/^\.\.\//, ''));
    expect(commit?.run).toContain("git add -- '*.jsonl'");
  });
});

describe.each([
  ['tsuite-pr.yml', pr, 'suites', 'merge', 'tsuite-pr-${{ github.event.pull_request.number }}-shard-'],
  ['tsuite-nightly.yml', nightly, 'suites', 'nightly', 'tsuite-nightly-${{ matrix.target }}-shard-'],
])('%s: the suites as shards of one plan, merged', (_name, wf, shardJob, mergeJob, artifact) => {
  type ShardJob = Job & { strategy: { matrix: { shard?: number[] }; 'fail-fast'?: boolean } };
  type MergeJob = Job & { needs?: string; if?: string };

  it('runs one shard per matrix job, every index of SHARDS once, each uploaded whatever happened', () => {
    const job = wf.jobs[shardJob] as ShardJob;
    const total = Number(wf.env?.SHARDS);
    expect(total).toBeGreaterThan(1);
    expect(job.strategy.matrix.shard).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect(job.strategy['fail-fast']).toBe(false);
    const runs = job.steps.flatMap(stepInvocations).filter((i) => i.command === 'run');
    expect(runs).toHaveLength(1);
    expect(runs[0]!.args[runs[0]!.args.indexOf('--shard') + 1]).toBe('EXPR/$SHARDS');
    expect(job.steps.find((s) => s.run?.includes('--shard'))!.run).toContain('--shard "${{ matrix.shard }}/$SHARDS"');
    const out = runs[0]!.args[runs[0]!.args.indexOf('--output-dir') + 1]!;
    const upload = job.steps.find((s) => s.uses?.startsWith('actions/upload-artifact@'))!;
    expect(upload.if).toBe('always()');
    expect(upload.with?.name).toBe(`${artifact}\${{ matrix.shard }}`);
    // The run folder is inside the uploaded one: reports/suites in the artifact.
    expect(out).toBe('../reports/suites');
    expect(upload.with?.path).toBe('reports/');
    // No other job runs the suites unsharded.
    expect(used(wf, 'run')).toHaveLength(1);
  });

  it('merges after every shard, even failing ones, from the downloaded shard artifacts', () => {
    const job = wf.jobs[mergeJob] as MergeJob;
    expect(job.needs).toBe(shardJob);
    expect(job.if).toBe('${{ !cancelled() }}');
    const download = job.steps.findIndex((s) => s.uses?.startsWith('actions/download-artifact@'));
    expect(download).toBeGreaterThanOrEqual(0);
    expect(job.steps[download]!.with?.pattern).toBe(`${artifact}*`);
    const dir = String(job.steps[download]!.with?.path);
    const mergeAt = job.steps.findIndex((s) => stepInvocations(s).some((i) => i.command === 'merge'));
    expect(mergeAt).toBeGreaterThan(download);
    const merge = stepInvocations(job.steps[mergeAt]!).find((i) => i.command === 'merge')!;
    // Each artifact lands in <path>/<artifact name>/, holding the shard's suites/ run folder.
    const inputs = merge.args.filter((a, i) => !a.startsWith('-') && !merge.args[i - 1]?.startsWith('-'));
    expect(inputs.map((a) => a.replace(/^\.\.\//, ''))).toEqual([`${dir}/*/suites`]);
    expect(merge.args).toContain('--output-dir');
  });
});

// ---- the shards balanced by one durations file per workflow run ----

/** What the cache keys of the shard durations start with; the target follows, then the run. */
const DURATIONS_KEY = 'tsuite-shard-durations-';
const RESTORE = 'actions/cache/restore@';
const SAVE = 'actions/cache/save@';

type AnyJob = Job & { needs?: string | string[]; strategy?: { matrix: Record<string, unknown> } };
const needsOf = (job: AnyJob) => [job.needs ?? []].flat();
const usesAt = (job: Job, action: string) => job.steps.findIndex((s) => s.uses?.startsWith(action));
const installsZstd = (step: Step | undefined) => !!step?.run && /apt-get install[^\n]*\szstd(\s|$)/.test(step.run);

/** `${{ expr }}` replaced by `values[expr]`; an expression without a value is an error, not a guess. */
function expand(text: string, values: Record<string, string>): string {
  return text.replace(/\$\{\{\s*([^}]*?)\s*\}\}/g, (_, expr: string) => {
    if (!(expr in values)) throw new Error(`no value for \${{ ${expr} }} in: ${text}`);
    return values[expr]!;
  });
}

/**
 * Runs a step's script the way Actions runs `shell: bash` (`bash --noprofile --norc -eo pipefail
 * <file>`, with the workflow's, job's and step's env), in `<workspace>/<dir>`, with a stub `tsuite`
 * on the PATH that records its arguments.
 */
function runStep(wf: Workflow, step: Step, job: Job, workspace: string, dir: string, values: Record<string, string>) {
  const bin = join(workspace, '.bin');
  const argsFile = join(workspace, '.tsuite-args');
  const outputFile = join(workspace, '.github-output');
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, 'tsuite'), '#!/bin/sh\nprintf \'%s\\n\' "$@" > "$TSUITE_ARGS"\n', { mode: 0o755 });
  rmSync(argsFile, { force: true });
  writeFileSync(outputFile, '');
  const env: Record<string, string> = { PATH: `${bin}:${process.env.PATH}`, TSUITE_ARGS: argsFile, GITHUB_OUTPUT: outputFile, GITHUB_WORKSPACE: workspace };
  for (const [k, v] of Object.entries({ ...wf.env, ...job.env, ...step.env })) env[k] = expand(String(v), values);
  const cwd = join(workspace, dir);
  mkdirSync(cwd, { recursive: true });
  const script = join(workspace, '.step.sh');
  writeFileSync(script, expand(step.run!, values));
  const r = spawnSync('bash', ['--noprofile', '--norc', '-eo', 'pipefail', script], { cwd, env, encoding: 'utf8' });
  const tsuiteArgs = existsSync(argsFile) ? readFileSync(argsFile, 'utf8').split('\n').slice(0, -1) : undefined;
  return { status: r.status, out: r.stdout + r.stderr, tsuiteArgs, outputs: readFileSync(outputFile, 'utf8') };
}
let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'tsuite-workflows-'));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let workspaces = 0;
const newWorkspace = () => {
  const dir = join(scratch, `ws${++workspaces}`);
  mkdirSync(dir);
  return dir;
};

describe.each([
  ['tsuite-pr.yml', pr, 'suites', 'qemu-x86', { 'github.event.pull_request.number': '42' }],
  ['tsuite-nightly.yml', nightly, 'suites', '${{ matrix.target }}', { 'matrix.target': 'qemu-x86' }],
])('%s: every shard of a run balanced by the same session durations', (_name, wf, shardJob, target, context) => {
  const values: Record<string, string> = { ...context, 'matrix.shard': '2', 'matrix.build': 'make', 'matrix.artifact': 'vmlinux', 'github.run_id': '7', 'github.run_attempt': '1' };
  const durationsJobs = () => Object.entries(wf.jobs).filter(([, j]) => usesAt(j, RESTORE) >= 0) as [string, AnyJob][];

  it('restores them once per run, in a job every shard needs, keyed by target and handed on as one artifact', () => {
    const found = durationsJobs();
    expect(found.map(([name]) => name)).toHaveLength(1);
    const [name, job] = found[0]!;
    expect(name).not.toBe(shardJob);
    // Once per run (per target): not a shard, and nothing it waits for.
    expect(job.strategy?.matrix.shard).toBeUndefined();
    expect(needsOf(job)).toEqual([]);
    expect(needsOf(wf.jobs[shardJob] as AnyJob)).toContain(name);
    if (target.includes('matrix.target')) expect(job.strategy?.matrix.target).toEqual((wf.jobs[shardJob] as AnyJob).strategy?.matrix.target);
    else expect(job.strategy?.matrix).toBeUndefined();
    const at = usesAt(job, RESTORE);
    const restore = job.steps[at]!;
    expect(restore.with?.['restore-keys']).toBe(`${DURATIONS_KEY}${target}-`);
    expect(String(restore.with?.key).startsWith(`${DURATIONS_KEY}${target}-`)).toBe(true);
    expect(restore.with?.path).toBe(`shard-durations/${target}/results.json`);
    expect(installsZstd(job.steps.slice(0, at).find((s) => s.run?.includes('zstd')))).toBe(true);
    // The artifact: the restored file's folder, uploaded whatever was restored, never empty.
    const upload = job.steps[usesAt(job, 'actions/upload-artifact@')]!;
    expect(job.steps.indexOf(upload)).toBeGreaterThan(at);
    expect(upload.if).toBeUndefined();
    expect(upload.with?.path).toBe(`shard-durations/${target}/`);
    expect(upload.with?.['if-no-files-found']).toBe('error');
    const say = job.steps.slice(at + 1, job.steps.indexOf(upload)).filter((s) => s.run);
    expect(say).toHaveLength(1);
    for (const restored of [true, false]) {
      const ws = newWorkspace();
      const folder = join(ws, expand(String(upload.with!.path), values));
      if (restored) {
        mkdirSync(folder, { recursive: true });
        writeFileSync(join(folder, 'results.json'), '{}');
      }
      const r = runStep(wf, say[0]!, job, ws, '.', { ...values, 'steps.restore.outputs.cache-matched-key': restored ? `${DURATIONS_KEY}qemu-x86-6-1` : '' });
      expect(r.status, r.out).toBe(0);
      expect(readdirSync(folder).sort(), 'the artifact has a file whether or not the cache had one').toEqual(restored ? ['from.txt', 'results.json'] : ['from.txt']);
      if (restored) expect(readFileSync(join(folder, 'from.txt'), 'utf8')).toContain(`${DURATIONS_KEY}qemu-x86-6-1`);
      else expect(r.out).toMatch(/::notice::.*round-robin/);
    }
  });

  it('every shard downloads that artifact and passes --shard-durations <its file> exactly when the file is there', () => {
    const [, durations] = durationsJobs()[0]!;
    const artifact = durations.steps[usesAt(durations, 'actions/upload-artifact@')]!.with!.name;
    const job = wf.jobs[shardJob]!;
    const download = usesAt(job, 'actions/download-artifact@');
    expect(download).toBeGreaterThanOrEqual(0);
    expect(job.steps[download]!.with?.name).toBe(artifact);
    const runAt = job.steps.findIndex((s) => stepInvocations(s).some((i) => i.command === 'run'));
    expect(runAt).toBeGreaterThan(download);
    const step = job.steps[runAt]!;
    const file = `${job.steps[download]!.with!.path}/results.json`;
    expect(step.env?.SHARD_DURATIONS).toBe(`../${file}`);
    // The flag is in the script, once, with that file: check it against the CLI as if on the command line.
    expect(step.run!.match(/--shard-durations/g)).toHaveLength(1);
    const words = shellWords(withoutExpressions(step.run!));
    const flagAt = words.indexOf('--shard-durations');
    expect(checkAgainstCli({ command: 'run', args: words.slice(flagAt, flagAt + 2), step: String(step.name) })).toEqual([]);
    for (const present of [true, false]) {
      const ws = newWorkspace();
      if (present) {
        mkdirSync(join(ws, expand(file, values), '..'), { recursive: true });
        writeFileSync(join(ws, expand(file, values)), '{}');
      }
      const r = runStep(wf, step, job, ws, 'kernel', values);
      expect(r.status, r.out).toBe(0);
      const args = r.tsuiteArgs!;
      expect(args.slice(0, 2)).toEqual(['run', '--target']);
      expect(args[args.indexOf('--shard') + 1]).toBe(`2/${wf.env!.SHARDS}`);
      if (present) {
        expect(args.filter((a) => a === '--shard-durations')).toHaveLength(1);
        expect(args[args.indexOf('--shard-durations') + 1]).toBe(`../${expand(file, values)}`);
      } else {
        expect(args).not.toContain('--shard-durations');
        expect(args).not.toContain('');
        expect(r.out).toMatch(/::notice::.*round-robin/);
      }
    }
  });
});

describe('tsuite-nightly.yml: the merged run saved as the next runs\' session durations', () => {
  const job = nightly.jobs.nightly!;
  const values = { 'matrix.target': 'qemu-x86', 'matrix.build': 'make', 'matrix.artifact': 'vmlinux', 'github.run_id': '7', 'github.run_attempt': '1' };

  it('saves, after the merge and whatever the tests did, the merged results.json where and under the key the restore reads', () => {
    const restore = nightly.jobs.durations!.steps.find((s) => s.uses?.startsWith(RESTORE))!;
    const mergeAt = job.steps.findIndex((s) => stepInvocations(s).some((i) => i.command === 'merge'));
    const saveAt = usesAt(job, SAVE);
    expect(saveAt).toBeGreaterThan(mergeAt);
    const save = job.steps[saveAt]!;
    expect(save.with?.path).toBe(restore.with?.path);
    const key = String(save.with?.key);
    expect(key.startsWith(String(restore.with?.['restore-keys']))).toBe(true);
    // Immutable keys: one per run and attempt.
    expect(key).toContain('${{ github.run_id }}');
    expect(key).toContain('${{ github.run_attempt }}');
    expect(save.if).toContain('!cancelled()');
    // The cache version hashes the compression: zstd installed here as where it is restored.
    expect(installsZstd(job.steps.slice(0, saveAt).find((s) => s.run?.includes('zstd')))).toBe(true);
    // The step between puts the merged results.json at the saved path and says so.
    const keep = job.steps.slice(mergeAt + 1, saveAt).filter((s) => s.run);
    expect(keep).toHaveLength(1);
    expect(keep[0]!.if).toContain('!cancelled()');
    expect(save.if).toContain(`steps.${keep[0]!.id}.outputs.saved == 'true'`);
    const merge = stepInvocations(job.steps[mergeAt]!).find((i) => i.command === 'merge')!;
    const mergedDir = merge.args[merge.args.indexOf('--output-dir') + 1]!;
    for (const merged of [true, false]) {
      const ws = newWorkspace();
      const results = join(ws, 'kernel', mergedDir.replace('$TARGET', 'qemu-x86'), 'results.json');
      if (merged) {
        mkdirSync(join(results, '..'), { recursive: true });
        writeFileSync(results, '{"tests":[]}');
      }
      const r = runStep(nightly, keep[0]!, job, ws, 'kernel', values);
      expect(r.status, r.out).toBe(0);
      const saved = join(ws, expand(String(save.with!.path), values));
      if (merged) {
        expect(readFileSync(saved, 'utf8')).toBe('{"tests":[]}');
        expect(r.outputs).toMatch(/^saved=true$/m);
      } else {
        expect(existsSync(saved)).toBe(false);
        expect(r.outputs).not.toMatch(/saved=true/);
        expect(r.out).toMatch(/::warning::/);
      }
    }
  });
});

describe('tsuite-pr.yml: balanced by the nightly\'s session durations', () => {
  it('restores exactly what the nightly saves for its target, and saves none itself', () => {
    expect(steps(pr).filter((s) => s.uses?.startsWith(SAVE))).toEqual([]);
    const target = used(pr, 'run')[0]!.args[used(pr, 'run')[0]!.args.indexOf('--target') + 1]!;
    expect(nightly.jobs.suites!.strategy?.matrix.target).toContain(target);
    const restore = steps(pr).find((s) => s.uses?.startsWith(RESTORE))!;
    const save = steps(nightly).find((s) => s.uses?.startsWith(SAVE))!;
    const asTarget = (v: unknown) => String(v).replaceAll('${{ matrix.target }}', target);
    // The cache version hashes the path: a restore with another path never finds the entry.
    expect(restore.with?.path).toBe(asTarget(save.with?.path));
    expect(asTarget(save.with?.key).startsWith(String(restore.with?.['restore-keys']))).toBe(true);
  });
});

describe('tsuite-nightly-cloud.yml', () => {
  const cloud = workflow('tsuite-nightly-cloud.yml');
  const text = readFileSync(new URL('.github/workflows/tsuite-nightly-cloud.yml', root), 'utf8');

  it('runs only tsuite commands and flags the CLI has, and bash can parse every script', () => {
    const all = invocations(cloud);
    expect(all.map((i) => i.command)).toEqual(expect.arrayContaining(['setup', 'run', 'cloud ls', 'cloud gc']));
    expect(all.flatMap(checkAgainstCli)).toEqual([]);
    for (const step of steps(cloud).filter((s) => s.run)) {
      const r = spawnSync('bash', ['-n'], { input: withoutExpressions(step.run!), encoding: 'utf8' });
      expect(r.status, `${step.name}: ${r.stderr}`).toBe(0);
    }
    const keeper = spawnSync('bash', ['-n'], { input: cloud.env!.OIDC_TOKEN_FILE_KEEPER, encoding: 'utf8' });
    expect(keeper.status, keeper.stderr).toBe(0);
  });

  it('runs every provider in both jobs, one failure never cancelling another, and gc after the night whatever happened', () => {
    for (const job of Object.values(cloud.jobs)) {
      expect((job.strategy?.matrix as { provider?: string[] }).provider).toEqual(['gcp', 'aws', 'azure']);
      expect((job.strategy as { 'fail-fast'?: boolean })['fail-fast']).toBe(false);
    }
    const gc = cloud.jobs.gc as Job & { needs?: string; if?: string };
    expect(gc.needs).toBe('nightly');
    expect(gc.if).toBe('always()');
    const gcRuns = steps(cloud).filter((s) => s.run?.includes('tsuite cloud gc'));
    expect(gcRuns).toHaveLength(1);
    expect(gcRuns[0]!.run).toMatch(/--run "gha-\$GITHUB_RUN_ID-\$GITHUB_RUN_ATTEMPT-\$\{\{ matrix.provider \}\}"/);
    expect(steps(cloud).find((s) => s.run?.includes('tsuite run'))?.run).toContain('--run-id "gha-$GITHUB_RUN_ID-$GITHUB_RUN_ATTEMPT-${{ matrix.provider }}"');
  });

  it('authenticates keylessly to each provider: OIDC only, no secret anywhere', () => {
    expect(cloud.permissions).toEqual({ contents: 'read', 'id-token': 'write' });
    expect(text).not.toMatch(/secrets\./);
    for (const job of Object.values(cloud.jobs)) {
      const auth = (p: string) => job.steps.filter((s) => s.if === `matrix.provider == '${p}'`);
      expect(auth('gcp').map((s) => s.uses)).toEqual(['google-github-actions/auth@v2']);
      expect(auth('aws')[0]?.run).toMatch(/sts\.amazonaws\.com[\s\S]*AWS_WEB_IDENTITY_TOKEN_FILE[\s\S]*AWS_ROLE_ARN/);
      expect(auth('azure')[0]?.run).toMatch(/api:\/\/AzureADTokenExchange[\s\S]*AZURE_FEDERATED_TOKEN_FILE[\s\S]*AZURE_CLIENT_ID[\s\S]*AZURE_TENANT_ID/);
    }
  });

  it('configures one target per provider, named as the matrix runs them', () => {
    const config = cloud.env!.TSUITE_CLOUD_CONFIG!;
    for (const p of ['gcp', 'aws', 'azure']) expect(config).toMatch(new RegExp(`'${p}-nightly': \\{\\s*runner: '${p}'`));
  });
});
