import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { InfraError } from '../../src/core/errors.js';
import { appendHistory, loadHistory, rowsFromBenchRun } from '../../src/bench/history.js';
import { benchRun } from '../bench-fixtures.js';

/** Which step of the next append fails: writing the temp file (half written) or renaming it. */
const fault = vi.hoisted(() => ({ at: undefined as 'write' | 'rename' | undefined }));

vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  const enospc = () => Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
  return {
    ...fs,
    rename: async (from: string, to: string) => {
      if (fault.at === 'rename' && from.endsWith('.tmp')) throw enospc();
      return fs.rename(from, to);
    },
    open: async (...args: Parameters<typeof fs.open>) => {
      const fh = await fs.open(...args);
      if (fault.at !== 'write' || !String(args[0]).endsWith('.tmp')) return fh;
      // The disk fills up half way through the temp file.
      return Object.assign(Object.create(fh) as typeof fh, {
        writeFile: async (data: Buffer) => {
          await fh.writeFile(data.subarray(0, data.length >> 1));
          throw enospc();
        },
        close: () => fh.close(),
        sync: () => fh.sync(),
      });
    },
  };
});

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tsuite-history-'));
  fault.at = undefined;
});
afterEach(async () => {
  fault.at = undefined;
  await rm(dir, { recursive: true, force: true });
});

describe('an interrupted append', () => {
  for (const at of ['write', 'rename'] as const) {
    it(`leaves the old file intact when the ${at} fails`, async () => {
      const file = await appendHistory(dir, rowsFromBenchRun(benchRun('r1')));
      const before = await readFile(file);
      fault.at = at;
      const err = await appendHistory(dir, rowsFromBenchRun(benchRun('r2'))).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InfraError);
      expect((err as InfraError).message).toMatch(/ENOSPC/);
      expect((err as InfraError).fix).toMatch(/unchanged/);
      expect((await readFile(file)).equals(before)).toBe(true);
      // No temp file, no lock left behind; the next append works.
      expect(await readdir(dir)).toEqual(['qemu-x86.jsonl']);
      fault.at = undefined;
      await appendHistory(dir, rowsFromBenchRun(benchRun('r3')));
      const loaded = await loadHistory(dir);
      expect(loaded.problems).toEqual([]);
      expect([...new Set(loaded.rows.map((r) => r.runId))]).toEqual(['r1', 'r3']);
    });
  }
});
