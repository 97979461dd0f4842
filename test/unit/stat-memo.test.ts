import { mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fileStamp, SETTLED_MS, statMemo } from '../../src/core/stat-memo.js';

const dirs: string[] = [];
function scratch(): string {
  const d = mkdtempSync(join(tmpdir(), 'stat-memo-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Lets the files written so far age past SETTLED_MS, so their stamps may be recorded. */
const settle = () => new Promise((r) => setTimeout(r, SETTLED_MS + 50));

/** A memo over one input file that counts how often it really computed. */
function counter(input: string, memoDir: string) {
  let computed = 0;
  return {
    get computed() {
      return computed;
    },
    ask: (key = 'k') => statMemo(memoDir, key, async () => {
      computed++;
      return { value: `v${computed}`, inputs: [input] };
    }, [input]),
  };
}

describe('statMemo', () => {
  it('computes once, then answers from the record while the input is unchanged', async () => {
    const d = scratch();
    const input = join(d, 'in');
    writeFileSync(input, 'a');
    const m = counter(input, join(d, 'memo'));
    // Just written: not trusted yet (a rewrite within the same clock tick would keep its stamp).
    expect(await m.ask()).toBe('v1');
    expect(await m.ask()).toBe('v2');
    await settle();
    expect(await m.ask()).toBe('v3');
    expect(await m.ask()).toBe('v3');
    expect(m.computed).toBe(3);
  });

  it('computes again when the input is rewritten, even with the same size, or replaced, or removed', async () => {
    const d = scratch();
    const input = join(d, 'in');
    writeFileSync(input, 'a');
    const m = counter(input, join(d, 'memo'));
    await settle();
    expect(await m.ask()).toBe('v1');
    expect(await m.ask()).toBe('v1');
    writeFileSync(input, 'b'); // the same size: its ctime tells it apart
    expect(await m.ask()).toBe('v2');
    await settle();
    expect(await m.ask()).toBe('v3');
    const other = join(d, 'other');
    writeFileSync(other, 'b');
    renameSync(other, input); // replaced: a new inode
    expect(await m.ask()).toBe('v4');
    rmSync(input);
    expect(await m.ask()).toBe('v5');
    expect(await m.ask()).toBe('v6'); // a missing input is never recorded
  });

  it('keeps keys apart, and a corrupt record only means computing again', async () => {
    const d = scratch();
    const input = join(d, 'in');
    writeFileSync(input, 'a');
    const memo = join(d, 'memo');
    const m = counter(input, memo);
    await settle();
    expect(await m.ask('one')).toBe('v1');
    expect(await m.ask('two')).toBe('v2');
    expect(await m.ask('one')).toBe('v1');
    for (const f of readdirSync(memo)) writeFileSync(join(memo, f), '{ not json');
    expect(await m.ask('one')).toBe('v3');
    expect(await m.ask('one')).toBe('v3');
  });

  it('records nothing for an answer with no inputs (a failure), nor one whose input changed while it was computed', async () => {
    const d = scratch();
    const input = join(d, 'in');
    writeFileSync(input, 'a');
    const memo = join(d, 'memo');
    await settle();
    let calls = 0;
    const failing = () => statMemo(memo, 'k', async () => ({ value: `f${++calls}`, inputs: [] }), [input]);
    expect(await failing()).toBe('f1');
    expect(await failing()).toBe('f2');
    const racing = () => statMemo(memo, 'r', async () => {
      calls++;
      writeFileSync(input, `changed ${calls}`);
      await settle(); // old enough by the end: only the stamp taken before tells the change
      return { value: `r${calls}`, inputs: [input] };
    }, [input]);
    expect(await racing()).toBe('r3');
    expect(await racing()).toBe('r4');
  });

  it('stamps files only', async () => {
    const d = scratch();
    expect(await fileStamp(d)).toBeUndefined();
    expect(await fileStamp(join(d, 'missing'))).toBeUndefined();
    writeFileSync(join(d, 'f'), 'x');
    expect(await fileStamp(join(d, 'f'))).toMatch(/^\d+:\d+:1:\d+$/);
  });
});
