import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadContext } from '../../src/cli/load-context.js';
import { builtInSuites } from '../../suites/index.js';
import { builtInManifest, loadBuiltInSuites } from '../../suites/manifest.js';
import { suiteMachineFacts } from '../../src/cli/boot-ahead.js';

describe('built-in suite manifest', () => {
  it('names every built-in suite, in order, with its own explicit flag, and loads that very suite', async () => {
    expect(builtInManifest.map((e) => e.name)).toEqual(builtInSuites.map((s) => s.name));
    expect(builtInManifest.map((e) => e.explicit)).toEqual(builtInSuites.map((s) => s.explicit === true));
    const loaded = await loadBuiltInSuites();
    loaded.forEach((s, i) => expect(s).toBe(builtInSuites[i]));
    expect((await loadBuiltInSuites(['bench', 'boot', 'nope'])).map((s) => s.name)).toEqual(['boot', 'bench']);
  });

  it("says what each suite's sessions ask of the machine, as its tests do (tsuite run boots the first one on this word)", () => {
    for (const [i, e] of builtInManifest.entries()) {
      expect({ name: e.name, engines: e.engines, benchmarks: e.benchmarks, ownMachine: e.ownMachine }).toEqual({ name: e.name, ...suiteMachineFacts(builtInSuites[i]!) });
    }
    // The facts are read from the tests: an engine a test requires outright counts, one of a choice does not.
    const def = { name: 'x', description: '', tests: [{ name: 'a', title: '', requires: ['agent', 'cri'], run() {} }, { name: 'b', title: '', requires: [['agent', 'docker']], run() {} }] } as const;
    expect(suiteMachineFacts(def as never)).toEqual({ engines: ['cri'], benchmarks: false, ownMachine: false });
  });
});

describe('loadContext loads the built-in suites a command plans', () => {
  const cwd = process.cwd();
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsuite-manifest-'));
    process.chdir(dir);
  });
  afterAll(() => {
    process.chdir(cwd);
    rmSync(dir, { recursive: true, force: true });
  });
  const names = async (planned: Parameters<typeof loadContext>[2]) => (await loadContext(undefined, {}, planned)).catalog.suites.map((s) => s.name);

  it('only the named ones; none; all; and all when a name is no suite, so its error can list them', async () => {
    expect(await names((c) => (c.suites.includes('boot') ? ['boot'] : []))).toEqual(['boot']);
    expect(await names(() => ['cri', 'boot'])).toEqual(['boot', 'cri']);
    expect(await names('none')).toEqual([]);
    const all = builtInSuites.map((s) => s.name);
    expect(await names('all')).toEqual(all);
    expect(await names(() => ['boot', 'no-such-suite'])).toEqual(all);
    // The config's default suites still come from the manifest: bench and gpu are explicit.
    const config = await loadContext(undefined, {}, 'none');
    expect(config.suites).toEqual(all.filter((n) => n !== 'bench' && n !== 'gpu'));
  });
});
