import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendHistory, historyFile, loadHistory, rowsFromBenchRun, sameClock, selectComparable } from '../../src/bench/history.js';
import type { HistoryRow } from '../../src/bench/model.js';
import { benchRun } from '../bench-fixtures.js';

const historyModule = fileURLToPath(new URL('../../src/bench/history.ts', import.meta.url));
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tsuite-history-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs `body` (ESM, with `appendHistory` in scope) in a separate Node process. */
function child(body: string): { done: Promise<number | null>; out: string[]; kill: () => void; exited: () => boolean } {
  // jiti (a dependency already) runs the TypeScript source, so no build is needed.
  const script = `import { createJiti } from 'jiti';
    const { appendHistory } = await createJiti(import.meta.url).import(${JSON.stringify(historyModule)});
    ${body}`;
  const proc = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] });
  const out: string[] = [];
  let exited = false;
  proc.stdout.setEncoding('utf8').on('data', (d: string) => out.push(...d.split('\n').filter(Boolean)));
  const done = new Promise<number | null>((resolve) =>
    proc.on('exit', (code) => {
      exited = true;
      resolve(code);
    }),
  );
  return { done, out, kill: () => proc.kill('SIGKILL'), exited: () => exited };
}

const rowJson = (r: HistoryRow) => JSON.stringify(r);

describe('rowsFromBenchRun', () => {
  it('makes one row per metric, with the run identity and per-boot values', () => {
    const run = benchRun('r1');
    const rows = rowsFromBenchRun(run);
    expect(rows).toHaveLength(3);
    expect(rows[1]).toEqual({
      version: 1,
      runId: 'r1',
      date: run.date,
      commit: 'commit-r1',
      ref: 'main',
      target: 'qemu-x86',
      name: 'syscall/m1',
      unit: 'ns',
      better: 'lower',
      clock: 'time',
      kernel: run.kernel,
      fingerprint: run.fingerprint,
      samples: [101, 102, 100],
      stats: run.metrics[1]!.stats,
    });
    const { commit: _c, ref: _r, ...bare } = run;
    expect(Object.keys(rowsFromBenchRun(bare)[0]!)).not.toContain('commit');
  });
});

describe('appendHistory and loadHistory', () => {
  it('round-trips rows and only ever adds to the file', async () => {
    const first = rowsFromBenchRun(benchRun('r1'));
    const file = await appendHistory(dir, first);
    expect(file).toBe(join(dir, 'qemu-x86.jsonl'));
    const before = await readFile(file);
    const second = rowsFromBenchRun(benchRun('r2', { date: '2026-01-03T00:00:00.000Z' }));
    await appendHistory(dir, second);
    const after = await readFile(file);
    expect(after.subarray(0, before.length).equals(before)).toBe(true);
    expect(after.toString().split('\n')).toHaveLength(7); // six rows, then the final newline
    const loaded = await loadHistory(dir);
    expect(loaded.problems).toEqual([]);
    expect(loaded.rows).toEqual([...first, ...second]);
    // Nothing else is left in the directory (no lock, no temp file).
    expect(await readdir(dir)).toEqual(['qemu-x86.jsonl']);
  });

  it('reads nothing from a missing directory', async () => {
    expect(await loadHistory(join(dir, 'absent'))).toEqual({ rows: [], problems: [] });
  });

  it('reports each corrupt line with its line number and loads the rest', async () => {
    const [a, b, c] = rowsFromBenchRun(benchRun('r1'));
    const { runId: _drop, ...missing } = b!;
    const lines = [
      rowJson(a!),
      '{"version":1,"runId":', // bad JSON
      rowJson(b!),
      JSON.stringify(missing),
      JSON.stringify({ ...c, version: 2 }),
      JSON.stringify({ ...c, better: 'sideways' }),
      rowJson(c!),
      rowJson(a!).slice(0, 40), // cut short by a crash: no newline at the end
    ];
    const file = join(dir, 'qemu-x86.jsonl');
    const original = lines.join('\n');
    await writeFile(file, original);
    await writeFile(join(dir, 'notes.txt'), 'not history');

    const loaded = await loadHistory(dir);
    expect(loaded.rows).toEqual([a, b, c]);
    expect(loaded.problems.map((p) => [p.file, p.line])).toEqual([
      [file, 2],
      [file, 4],
      [file, 5],
      [file, 6],
      [file, 8],
    ]);
    const [badJson, missingField, version, badEnum, truncated] = loaded.problems.map((p) => p.message);
    expect(badJson).toMatch(/^not JSON/);
    expect(missingField).toBe('missing runId');
    expect(version).toMatch(/unsupported version 2/);
    expect(badEnum).toMatch(/^better:/);
    expect(truncated).toMatch(/^truncated last line/);

    // Appending keeps every existing byte, the corrupt ones included, and starts a new line.
    const d = rowsFromBenchRun(benchRun('r2'));
    await appendHistory(dir, d);
    const text = await readFile(file, 'utf8');
    expect(text.startsWith(`${original}\n`)).toBe(true);
    const again = await loadHistory(dir);
    expect(again.rows).toEqual([a, b, c, ...d]);
    expect(again.problems.at(-1)).toMatchObject({ line: 8, message: expect.stringMatching(/^not JSON/) });
  });

  it('writes one file per target and refuses rows it cannot place', async () => {
    await appendHistory(dir, rowsFromBenchRun(benchRun('r1', { target: 'qemu-arm64' })));
    expect(await readdir(dir)).toEqual(['qemu-arm64.jsonl']);
    await expect(appendHistory(dir, [])).rejects.toThrow(/no history rows/);
    const mixed = [...rowsFromBenchRun(benchRun('r1')), ...rowsFromBenchRun(benchRun('r2', { target: 'qemu-arm64' }))];
    await expect(appendHistory(dir, mixed)).rejects.toThrow(/several targets/);
    expect(() => historyFile(dir, '../escape')).toThrow(/cannot name a history file/);
  });

  it('loses nothing when appends race within one process', async () => {
    const runs = Array.from({ length: 12 }, (_, i) => rowsFromBenchRun(benchRun(`p${i}`)));
    await Promise.all(runs.map((rows) => appendHistory(dir, rows)));
    const loaded = await loadHistory(dir);
    expect(loaded.problems).toEqual([]);
    expect(loaded.rows).toHaveLength(36);
    expect(new Set(loaded.rows.map((r) => r.runId)).size).toBe(12);
  });

  it('loses nothing when two processes append at once', async () => {
    // Both start appending at the same moment, once their (slower) module loading is done.
    const startAt = Date.now() + 2000;
    const writer = (tag: string) =>
      child(`
        const rows = ${JSON.stringify(rowsFromBenchRun(benchRun('template')))};
        while (Date.now() < ${startAt}) await new Promise((r) => setTimeout(r, 1));
        for (let i = 0; i < 25; i++) await appendHistory(${JSON.stringify(dir)}, rows.map((r) => ({ ...r, runId: '${tag}' + i })));
      `);
    const [x, y] = [writer('x'), writer('y')];
    expect(await x.done).toBe(0);
    expect(await y.done).toBe(0);
    const loaded = await loadHistory(dir);
    expect(loaded.problems).toEqual([]);
    expect(loaded.rows).toHaveLength(150);
    expect(new Set(loaded.rows.map((r) => r.runId)).size).toBe(50);
  });

  it('leaves only whole appends when the writer is killed, and takes over its stale lock', async () => {
    const rows = rowsFromBenchRun(benchRun('template', { metrics: 40 }));
    const w = child(`
      const rows = ${JSON.stringify(rows)};
      for (let i = 0; ; i++) {
        await appendHistory(${JSON.stringify(dir)}, rows.map((r) => ({ ...r, runId: 'k' + i })));
        console.log('appended ' + i);
      }
    `);
    while (w.out.length < 3 && !w.exited()) await new Promise((r) => setTimeout(r, 5));
    expect(w.exited(), 'the writer died before three appends').toBe(false);
    w.kill();
    await w.done;
    const loaded = await loadHistory(dir);
    expect(loaded.problems).toEqual([]);
    expect(loaded.rows.length % 40).toBe(0);
    expect(loaded.rows.length / 40).toBeGreaterThanOrEqual(3);
    // The killed writer may have died holding the lock: its pid is dead, so the lock is stale.
    await appendHistory(dir, rowsFromBenchRun(benchRun('after')));
    const after = await loadHistory(dir);
    expect(after.rows.at(-1)!.runId).toBe('after');
    // No lock is left behind (a temp file of the killed writer may be: it is never read as history).
    expect((await readdir(dir)).filter((f) => f.endsWith('.lock'))).toEqual([]);
  });

  it('waits for a live lock holder instead of breaking its lock', async () => {
    const file = join(dir, 'qemu-x86.jsonl');
    const lock = `${file}.lock`;
    await writeFile(lock, JSON.stringify({ pid: process.pid, host: (await import('node:os')).hostname(), token: 'someone-else' }));
    let finished = false;
    const pending = appendHistory(dir, rowsFromBenchRun(benchRun('waiting'))).then(() => (finished = true));
    for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 10));
    expect(finished).toBe(false);
    expect(JSON.parse(await readFile(lock, 'utf8')).token).toBe('someone-else');
    await rm(lock);
    await pending;
    expect((await loadHistory(dir)).rows).toHaveLength(3);
  });

  it('breaks a lock left by a dead process', async () => {
    const dead = spawn(process.execPath, ['-e', '']);
    const pid = dead.pid!;
    await new Promise((r) => dead.on('exit', r));
    const file = join(dir, 'qemu-x86.jsonl');
    await writeFile(`${file}.lock`, JSON.stringify({ pid, host: (await import('node:os')).hostname(), token: 'dead' }));
    await appendHistory(dir, rowsFromBenchRun(benchRun('r1')));
    expect(await readdir(dir)).toEqual(['qemu-x86.jsonl']);
  });
});

describe('selectComparable', () => {
  it('keeps one target and fingerprint (and metric, ref), oldest first', () => {
    const rows = [
      ...rowsFromBenchRun(benchRun('late', { date: '2026-03-01T00:00:00Z' })),
      ...rowsFromBenchRun(benchRun('other-machine', { fingerprintId: 'fp2' })),
      ...rowsFromBenchRun(benchRun('other-target', { target: 'qemu-arm64' })),
      ...rowsFromBenchRun(benchRun('early', { date: '2026-01-01T00:00:00Z' })),
    ];
    const picked = selectComparable(rows, { target: 'qemu-x86', fingerprintId: 'fp1', clock: 'time', metric: 'syscall/m0' });
    expect(picked.map((r) => r.runId)).toEqual(['early', 'late']);
    expect(selectComparable(rows, { target: 'qemu-x86', fingerprintId: 'fp1', clock: 'time' })).toHaveLength(6);
    expect(selectComparable(rows, { target: 'qemu-x86', fingerprintId: 'fp1', clock: 'time', ref: 'release' })).toEqual([]);
  });

  it('never mixes clock modes, even under one fingerprint id', () => {
    // A forged or hand-edited row: same fingerprint id, but counted in instructions.
    const rows = [...rowsFromBenchRun(benchRun('timed')), ...rowsFromBenchRun(benchRun('counted', { clock: 'instructions' }))];
    expect(rows.filter((r) => r.fingerprint.id === 'fp1')).toHaveLength(6);
    expect(selectComparable(rows, { target: 'qemu-x86', fingerprintId: 'fp1', clock: 'time' }).map((r) => r.runId)).toEqual(['timed', 'timed', 'timed']);
    expect(selectComparable(rows, { target: 'qemu-x86', fingerprintId: 'fp1', clock: 'instructions' }).map((r) => r.runId)).toEqual(['counted', 'counted', 'counted']);
  });

  it('reads a row written before the clock existed as real time', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tsuite-history-'));
    const [row] = rowsFromBenchRun(benchRun('old', { metrics: 1 }));
    const { clock: _metricClock, ...old } = row!;
    const { clock: _runClock, ...oldFingerprint } = old.fingerprint;
    await writeFile(join(dir, 'qemu-x86.jsonl'), `${JSON.stringify({ ...old, fingerprint: oldFingerprint })}\n`);
    const loaded = await loadHistory(dir);
    expect(loaded.problems).toEqual([]);
    expect(loaded.rows[0]!.fingerprint.clock).toBe('time');
    expect(sameClock(loaded.rows[0]!, { runClock: 'time', metricClock: 'time' })).toBe(true);
    expect(sameClock(loaded.rows[0]!, { runClock: 'instructions', metricClock: 'instructions' })).toBe(false);
    await rm(dir, { recursive: true, force: true });
  });
});
