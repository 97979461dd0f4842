import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exec, type ExecResult } from '../../src/core/exec.js';
import { onPath } from '../../src/core/host-requirement.js';
import { assetPath } from '../../src/core/paths.js';
import { parseKtap, type KtapDocument } from '../../src/parsers/ktap.js';
import { buildProbes } from '../../kernel/probes/build-probes.js';

/**
 * Runs the x86_64 syscall probes on this host as root (the guest runs them as root too) and reads
 * their stdout with tsuite's own KTAP parser: well-formed, no failure anywhere (a behaviour this
 * host's kernel cannot show is an honest SKIP with a reason), and at least 150 distinct system
 * calls, each named as in the kernel's syscall table. The isolation probe has its own test.
 */
const isRoot = process.getuid?.() === 0;
const canRun = isRoot && process.arch === 'x64' && onPath('gcc');
const table = JSON.parse(readFileSync(assetPath('fixtures', 'syscalls', 'x86_64.json'), 'utf8')) as Record<string, number>;

interface ProbeRun {
  probe: string;
  run: ExecResult;
  doc?: KtapDocument;
}

describe.skipIf(!canRun)('syscall probes, run as root on this host', () => {
  let cwd = '';
  const runs: ProbeRun[] = [];

  beforeAll(async () => {
    const built = await buildProbes('x86_64', undefined, join(tmpdir(), 'tsuite-test-probes'));
    cwd = await mkdtemp(join(tmpdir(), 'tsuite-probes-'));
    await chmod(cwd, 0o755); // the uid 1000 checks run inside the probes' scratch directories
    for (const probe of built.probes.filter((p) => p !== 'isolation')) {
      const run = await exec(join(built.dir, probe), [], { cwd });
      runs.push({ probe, run, doc: parseKtap(run.stdout.split('\n')) });
    }
  }, 300_000);

  afterAll(async () => {
    if (cwd) await rm(cwd, { recursive: true, force: true });
  });

  it('each probe exits 0 and prints exactly one well-formed KTAP document', () => {
    expect(runs.length).toBeGreaterThanOrEqual(12);
    for (const { probe, run, doc } of runs) {
      expect(run.code, `${probe}: ${run.stderr}`).toBe(0);
      expect(doc, probe).toBeDefined();
      expect(doc!.version).toBe('KTAP version 1');
      expect(doc!.startLine, probe).toBe(0);
      expect(doc!.warnings, probe).toEqual([]);
      expect(doc!.expectedCount, probe).toBe(doc!.tests.length);
      expect(run.stdout.trimEnd().split('\n').length, `${probe}: stdout holds only KTAP`).toBe(doc!.endLine + 1);
      for (const t of doc!.tests) {
        expect(t.warnings, `${probe}/${t.name}`).toEqual([]);
        expect(t.log, `${probe}/${t.name}`).toEqual([]);
        expect(t.expectedCount, `${probe}/${t.name}`).toBe(t.subtests.length);
        expect(t.subtests.length, `${probe}/${t.name} checks something`).toBeGreaterThan(0);
      }
    }
  });

  it('nothing fails: every behaviour passes or is skipped with a reason', () => {
    const bad: string[] = [];
    for (const { probe, doc } of runs)
      for (const t of doc?.tests ?? [])
        for (const b of t.subtests) {
          if (b.status === 'skipped' && !b.reason) bad.push(`${probe}/${t.name}/${b.name}: SKIP without a reason`);
          else if (b.status !== 'passed' && b.status !== 'skipped') bad.push(`${probe}/${t.name}/${b.name}: ${b.status} ${b.diagnostics.join(' | ')}`);
        }
    expect(bad).toEqual([]);
  });

  it('covers at least 150 distinct system calls, named as in the x86_64 syscall table, each once', () => {
    const names = runs.flatMap(({ doc }) => doc?.tests.map((t) => t.name) ?? []);
    expect(new Set(names).size).toBe(names.length);
    expect(names.filter((n) => !(n in table))).toEqual([]);
    expect(names.length).toBeGreaterThanOrEqual(150);
  });

  it('behaviour names are snake_case and unique within their syscall', () => {
    for (const { probe, doc } of runs)
      for (const t of doc?.tests ?? []) {
        const names = t.subtests.map((b) => b.name);
        expect(new Set(names).size, `${probe}/${t.name}`).toBe(names.length);
        for (const n of names) expect(n, `${probe}/${t.name}`).toMatch(/^[a-z0-9_]+$/);
      }
  });

  it('leaves nothing behind in the working directory', async () => {
    expect(await readdir(cwd)).toEqual([]);
  });
});
