import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pinnedDebianKernel, type DebianKernel } from '../../kernel/reference/debian-kernel.js';
import { foreignAptOptions } from '../../kernel/reference/foreign-apt.js';
import { clearResolutions, pinnedResolution, RESOLUTION_FILE } from '../../kernel/reference/resolution-cache.js';
import { InfraError } from '../../src/core/errors.js';
import { createProgress } from '../../src/core/progress.js';

const quiet = createProgress(process.stderr, true);
let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'tsuite-resolution-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A lookup that counts its calls and answers `folder`, whose content `load` reads back. */
function fakeApt(folder = 'kernels/k_1') {
  const calls = { lookups: 0 };
  const lookup = async () => {
    calls.lookups++;
    await mkdir(join(root, folder), { recursive: true });
    await writeFile(join(root, folder, 'value.txt'), 'v1');
    return { value: 'v1', folder };
  };
  const load = async (f: string) => readFile(join(root, f, 'value.txt'), 'utf8');
  const resolve = () => pinnedResolution('kernel meta', load, lookup, root);
  return { calls, resolve };
}

describe('pinnedResolution', () => {
  it('looks up once, then reuses the recorded folder without asking again', async () => {
    const apt = fakeApt();
    expect(await apt.resolve()).toBe('v1');
    expect(await apt.resolve()).toBe('v1');
    expect(apt.calls.lookups).toBe(1);
    expect(JSON.parse(await readFile(join(root, RESOLUTION_FILE), 'utf8'))).toEqual({ 'kernel meta': 'kernels/k_1' });
  });

  it.each([
    ['not JSON', '{"kernel meta": "kern'],
    ['an array', '["kernels/k_1"]'],
    ['a non-string entry', '{"kernel meta": 42}'],
    ['empty', ''],
  ])('falls back to the lookup, with no error, when the file is %s, and rewrites it', async (_what, text) => {
    await writeFile(join(root, RESOLUTION_FILE), text);
    const apt = fakeApt();
    expect(await apt.resolve()).toBe('v1');
    expect(apt.calls.lookups).toBe(1);
    expect(JSON.parse(await readFile(join(root, RESOLUTION_FILE), 'utf8'))).toEqual({ 'kernel meta': 'kernels/k_1' });
  });

  it('looks up again when the recorded folder has left the cache', async () => {
    const apt = fakeApt();
    await apt.resolve();
    await rm(join(root, 'kernels'), { recursive: true });
    expect(await apt.resolve()).toBe('v1');
    expect(apt.calls.lookups).toBe(2);
  });

  it('asks apt again after setup clears the resolutions, and keeps other entries otherwise', async () => {
    const apt = fakeApt();
    await apt.resolve();
    await pinnedResolution('guest-agent amd64', async () => 'a', async () => ({ value: 'a', folder: 'guest-agent/a' }), root);
    expect(Object.keys(JSON.parse(await readFile(join(root, RESOLUTION_FILE), 'utf8')))).toEqual(['kernel meta', 'guest-agent amd64']);
    await clearResolutions(root);
    await apt.resolve();
    expect(apt.calls.lookups).toBe(2);
  });

  it('records nothing when the lookup fails', async () => {
    await expect(pinnedResolution('k', async () => 'x', async () => Promise.reject(new InfraError('apt knows no package k')), root)).rejects.toThrow(InfraError);
    await expect(readFile(join(root, RESOLUTION_FILE), 'utf8')).rejects.toThrow(/ENOENT/);
  });
});

describe('pinnedDebianKernel', () => {
  // apt with empty package lists of its own: any lookup fails, so a result proves none was made.
  const noPackages = () => foreignAptOptions('amd64', join(root, 'empty-apt'));
  const kernel = (dir: string): DebianKernel => ({
    package: 'linux-image-6.1.0-9-cloud-amd64', version: '6.1.0-9', release: '6.1.0-9-cloud-amd64',
    vmlinuz: join(dir, 'root', 'boot', 'vmlinuz-6.1.0-9-cloud-amd64'), modulesDir: join(dir, 'root', 'lib', 'modules', '6.1.0-9-cloud-amd64'),
  });

  it('returns the kernel setup resolved without an apt lookup, and asks apt when there is none', async () => {
    const apt = noPackages();
    await mkdir(join(root, 'empty-apt', 'lists', 'partial'), { recursive: true });
    await mkdir(join(root, 'empty-apt', 'cache', 'archives', 'partial'), { recursive: true });
    // Without a resolution the lookup runs, and fails on the empty lists.
    await expect(pinnedDebianKernel('linux-image-cloud-amd64', quiet, apt, root)).rejects.toThrow(InfraError);

    const folder = join('kernels', 'linux-image-6.1.0-9-cloud-amd64_6.1.0-9');
    await mkdir(join(root, folder), { recursive: true });
    await writeFile(join(root, folder, 'kernel.json'), JSON.stringify(kernel(join(root, folder))));
    await writeFile(join(root, RESOLUTION_FILE), JSON.stringify({ [['kernel', ...apt, 'linux-image-cloud-amd64'].join(' ')]: folder }));
    await expect(pinnedDebianKernel('linux-image-cloud-amd64', quiet, apt, root)).resolves.toEqual(kernel(join(root, folder)));
  });
});
