import { chmod, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exec, type ExecResult } from '../../src/core/exec.js';
import { parseKtap, type KtapDocument, type KtapTest } from '../../src/parsers/ktap.js';

/**
 * Builds fixtures/probes/isolation.c with the host gcc and runs it on this machine as root, the way
 * the guest runs it: the probe must print well-formed KTAP with at least 20 isolation properties,
 * every attempt failing as it must (`ok`) or skipped with a reason, and leave nothing behind.
 */
const source = join(import.meta.dirname, '..', '..', 'fixtures', 'probes', 'isolation.c');
const isRoot = process.getuid?.() === 0;

/** The cgroup2 mount point of this machine, where the probe makes (and must remove) its cgroups. */
async function cgroup2Root(): Promise<string | undefined> {
  const mounts = await readFile('/proc/self/mounts', 'utf8');
  return mounts
    .split('\n')
    .map((l) => l.split(' '))
    .find((f) => f[2] === 'cgroup2')?.[1];
}

describe.skipIf(!isRoot)('isolation probe, run as root on this host', () => {
  let dir = '';
  let run: ExecResult;
  let doc: KtapDocument | undefined;
  let hostnameBefore = '';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tsuite-isolation-'));
    // The probe's attacks run as uid 1000 inside its scratch directories: they must be reachable.
    await chmod(dir, 0o755);
    const bin = join(dir, 'isolation');
    const cc = await exec('gcc', ['-static', '-O1', '-Wall', '-Werror', '-o', bin, source]);
    if (cc.code !== 0) throw new Error(`gcc failed:\n${cc.stderr}`);
    hostnameBefore = hostname();
    run = await exec(bin, [], { cwd: dir });
    doc = parseKtap(run.stdout.split('\n'));
  }, 120_000);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const tests = (): KtapTest[] => doc?.tests ?? [];

  it('exits 0 and prints one well-formed KTAP document on stdout', () => {
    expect(run.code, run.stderr).toBe(0);
    expect(doc).toBeDefined();
    expect(doc!.version).toBe('KTAP version 1');
    expect(doc!.startLine).toBe(0);
    expect(doc!.warnings).toEqual([]);
    expect(doc!.expectedCount).toBe(tests().length);
    // Nothing but KTAP on stdout: every non-empty line belongs to the document.
    expect(run.stdout.trimEnd().split('\n').length).toBe(doc!.endLine + 1);
    for (const t of tests()) {
      expect(t.warnings, t.name).toEqual([]);
      expect(t.expectedCount, t.name).toBe(t.subtests.length);
      for (const b of t.subtests) expect(b.warnings, `${t.name}/${b.name}`).toEqual([]);
    }
  });

  it('checks at least 20 isolation properties, each with its own snake_case name and behaviours', () => {
    const names = tests().map((t) => t.name);
    expect(names.length).toBeGreaterThanOrEqual(20);
    expect(new Set(names).size).toBe(names.length);
    for (const t of tests()) {
      expect(t.name).toMatch(/^[a-z0-9_]+$/);
      expect(t.subtests.length, t.name).toBeGreaterThan(0);
      const behaviours = t.subtests.map((b) => b.name);
      expect(new Set(behaviours).size, t.name).toBe(behaviours.length);
    }
  });

  it('reports no failing property or behaviour', () => {
    const failed = tests().flatMap((t) =>
      [t, ...t.subtests]
        .filter((x) => x.status !== 'passed' && x.status !== 'skipped')
        .map((x) => `${x === t ? t.name : `${t.name}/${x.name}`}: ${x.status} ${x.diagnostics.join(' | ')}`),
    );
    expect(failed).toEqual([]);
  });

  it('gives a reason for every skip', () => {
    const skips = tests().flatMap((t) => [t, ...t.subtests].filter((x) => x.status === 'skipped'));
    for (const s of skips) expect(s.reason?.trim(), s.name).toBeTruthy();
  });

  it('runs the core attacks (not skipped) on any Linux host', () => {
    // These need no optional kernel feature, so a skip here would hide a broken probe.
    const core = ['proc_mem_other_process', 'ptrace_other_user', 'kill_other_user', 'write_root_owned_file', 'mount_unprivileged'];
    for (const name of core) {
      const t = tests().find((x) => x.name === name);
      expect(t?.status, name).toBe('passed');
      expect(t?.subtests.every((b) => b.status === 'passed'), name).toBe(true);
    }
  });

  it('leaves no files, mounts, cgroups or changed host names behind', async () => {
    expect(await readdir(dir)).toEqual(['isolation']);
    const mountinfo = await readFile('/proc/self/mountinfo', 'utf8');
    expect(mountinfo).not.toContain(dir);
    const cg = await cgroup2Root();
    if (cg) expect((await readdir(cg)).filter((n) => n.startsWith('tsuite-'))).toEqual([]);
    expect(hostname()).toBe(hostnameBefore);
  });
});
