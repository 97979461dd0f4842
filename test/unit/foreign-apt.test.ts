import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { aptFix } from '../../kernel/reference/debian-package.js';
import {
  debianArch,
  foreignApt,
  foreignAptDir,
  foreignAptOptions,
  foreignListsAge,
  hostArch,
  isForeignArch,
} from '../../kernel/reference/foreign-apt.js';
import { fetchBusybox, refreshReferenceLists } from '../../kernel/reference/reference-guest.js';
import { profiles } from '../../runners/qemu/profiles/index.js';
import { InfraError, UsageError } from '../../src/core/errors.js';
import { createProgress } from '../../src/core/progress.js';

const quiet = createProgress(process.stderr, true);
const HOUR = 60 * 60 * 1000;

describe('foreignAptOptions', () => {
  it('selects only the foreign arch, with lists and cache of its own and no dpkg status', () => {
    expect(foreignAptOptions('arm64', '/c/apt-arm64')).toEqual([
      '-o', 'APT::Architecture=arm64',
      '-o', 'APT::Architectures::=arm64',
      '-o', 'Dir::State::Lists=/c/apt-arm64/lists',
      '-o', 'Dir::Cache=/c/apt-arm64/cache',
      '-o', 'Dir::State::status=/dev/null',
    ]);
  });

  it('lives in the tsuite cache, one folder per Debian arch', () => {
    expect(foreignAptDir('arm64', '/c')).toBe('/c/apt-arm64');
    expect(foreignAptDir('amd64', '/c')).toBe('/c/apt-amd64');
  });

  it('gives an apt failure under these options a fix about the foreign lists, not the host’s', () => {
    expect(aptFix(foreignAptOptions('arm64', '/c'))).toMatch(/tsuite setup --target .*arm64 package lists/);
    expect(aptFix([])).toMatch(/apt-get update/);
  });
});

describe('arch names', () => {
  it('maps uname arches to Debian ones and refuses unknown ones with the valid list', () => {
    expect(debianArch('x86_64')).toBe('amd64');
    expect(debianArch('aarch64')).toBe('arm64');
    expect(() => debianArch('riscv64')).toThrow(UsageError);
    expect(() => debianArch('riscv64')).toThrow(/riscv64/);
  });

  it("maps Node's arch to uname's and tells foreign guests apart", () => {
    expect(hostArch('x64')).toBe('x86_64');
    expect(hostArch('arm64')).toBe('aarch64');
    expect(isForeignArch('aarch64', 'x86_64')).toBe(true);
    expect(isForeignArch('x86_64', 'x86_64')).toBe(false);
    expect(isForeignArch('x86_64', 'aarch64')).toBe(true);
  });

  it('every QEMU profile has a Debian arch, so its reference guest can be fetched on any host', () => {
    for (const p of Object.values(profiles)) expect(debianArch(p.arch)).toMatch(/^[a-z0-9]+$/);
  });
});

describe('foreign package lists', () => {
  let root: string;
  let path: string | undefined;
  const now = Date.parse('2026-11-21T12:00:00Z');
  /** Lists as `apt-get update` leaves them, refreshed `ageMs` before `now`. */
  const lists = async (ageMs: number) => {
    const dir = foreignAptDir('arm64', root);
    await mkdir(join(dir, 'lists'), { recursive: true });
    await writeFile(join(dir, 'lists', 'deb.debian.org_debian_dists_bookworm_main_binary-arm64_Packages.lz4'), '');
    await writeFile(join(dir, 'updated'), new Date(now - ageMs).toISOString() + '\n');
  };

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'tsuite-foreign-apt-'));
    path = process.env.PATH;
    // No apt-get on PATH: any attempt to refresh the lists fails, so a success proves none was made.
    process.env.PATH = '';
  });
  afterEach(async () => {
    process.env.PATH = path;
    await rm(root, { recursive: true, force: true });
  });

  it('has no age until both the stamp and a Packages list exist', async () => {
    const dir = foreignAptDir('arm64', root);
    expect(await foreignListsAge(dir, now)).toBeUndefined();
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'updated'), new Date(now).toISOString());
    expect(await foreignListsAge(dir, now)).toBeUndefined();
    await lists(3 * HOUR);
    expect(await foreignListsAge(dir, now)).toBe(3 * HOUR);
  });

  it('uses existing lists younger than the limit without running apt-get', async () => {
    await lists(3 * HOUR);
    const apt = await foreignApt('arm64', quiet, { root, now, maxAgeMs: 24 * HOUR });
    expect(apt).toEqual(foreignAptOptions('arm64', foreignAptDir('arm64', root)));
  });

  it('uses lists of any age when only their presence is asked for (a run, not setup)', async () => {
    await lists(90 * 24 * HOUR);
    await expect(foreignApt('arm64', quiet, { root, now })).resolves.toHaveLength(10);
  });

  it('runs apt-get update when the lists are stale or missing', async () => {
    await lists(25 * HOUR);
    await expect(foreignApt('arm64', quiet, { root, now, maxAgeMs: 24 * HOUR })).rejects.toThrow(/apt-get/);
    await rm(foreignAptDir('arm64', root), { recursive: true });
    await expect(foreignApt('arm64', quiet, { root, now })).rejects.toBeInstanceOf(InfraError);
  });

  it("leaves the host's own arch to the host's apt", async () => {
    await expect(refreshReferenceLists({ arch: 'x86_64' }, quiet, { root, host: 'x86_64', maxAgeMs: 0 })).resolves.toBeUndefined();
    await expect(refreshReferenceLists({ arch: 'aarch64' }, quiet, { root, host: 'x86_64', maxAgeMs: 0 })).rejects.toThrow(/apt-get/);
    const x86 = profiles.x86_64!;
    expect(await fetchBusybox(x86, quiet, { root, host: 'x86_64' })).toBe(x86.busybox);
  });
});
