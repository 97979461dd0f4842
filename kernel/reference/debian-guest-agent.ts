import { existsSync } from 'node:fs';
import { chmod, copyFile, cp, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { InfraError } from '../../src/core/errors.js';
import { execOk } from '../../src/core/exec.js';
import { cacheDir } from '../../src/core/paths.js';
import type { Progress } from '../../src/core/progress.js';
import { aptFix, downloadAndUnpack, type AptOptions } from './debian-package.js';
import { debianArch, foreignApt, foreignAptDir, foreignListsAge, hostArch, isForeignArch } from './foreign-apt.js';
import { libraryClosure } from './shared-libraries.js';

export const GUEST_AGENT_PACKAGE = 'qemu-guest-agent';
/** Where the agent lives in the guest; the tsuite init starts it from there. */
export const GUEST_AGENT_PATH = '/usr/sbin/qemu-ga';
/** Library packages are unpacked along Depends at most this deep before giving up. */
const MAX_DEPTH = 4;

/** qemu-ga and everything it needs, in the cache, as files for the initramfs. */
export interface GuestAgentFiles {
  version: string;
  debArch: string;
  /** `from` in the cache, `to` in the guest: the binary, its loader, its libraries. */
  files: { from: string; to: string; mode: number }[];
}

/** What the cache keeps: guest paths only, so the cache folder can move. */
interface Manifest {
  version: string;
  debArch: string;
  files: { to: string; mode: number }[];
}

const withSources = (dir: string, m: Manifest): GuestAgentFiles => ({
  ...m,
  files: m.files.map((f) => ({ from: join(dir, 'files', f.to), ...f })),
});

interface PackageRecord {
  version: string;
  /** Depends and Pre-Depends, first alternative of each, without version or arch qualifiers. */
  depends: string[];
}

/** One package's candidate record, or undefined for a virtual or unknown name. */
async function showPackage(name: string, apt: AptOptions): Promise<PackageRecord | undefined> {
  const show = await execOk('apt-cache', [...apt, 'show', '--no-all-versions', name], { fix: aptFix(apt) }).catch(() => '');
  const version = /^Version:\s*(\S+)/m.exec(show)?.[1];
  if (!version) return undefined;
  const fields = [...show.matchAll(/^(?:Pre-)?Depends:\s*(.*)$/gm)].map((m) => m[1]!);
  const depends = fields.flatMap((f) => f.split(',')).map((d) => d.split('|')[0]!.trim().split(/[\s(:]/)[0]!).filter(Boolean);
  return { version, depends };
}

/**
 * Unpacks qemu-guest-agent into `stage/root`, then the library packages it depends on, one layer
 * of Depends at a time, until every library the binary needs (transitively) is there. Without
 * `apt-file` or a foreign dpkg database there is no lib→package map, so only the dependency graph
 * is walked; and only `lib*` packages (Debian policy names every shared library package so), which
 * keeps init-system-helpers and its Perl out.
 */
async function unpackWithLibraries(apt: AptOptions, stage: string, progress: Progress) {
  const seen = new Set<string>([GUEST_AGENT_PACKAGE]);
  let layer = [GUEST_AGENT_PACKAGE];
  let version = '';
  for (let depth = 0; depth <= MAX_DEPTH && layer.length > 0; depth++) {
    const next: string[] = [];
    for (const name of layer) {
      const record = await showPackage(name, apt);
      if (!record) {
        if (name === GUEST_AGENT_PACKAGE) throw new InfraError(`apt knows no package ${name}`, aptFix(apt));
        continue;
      }
      if (name === GUEST_AGENT_PACKAGE) version = record.version;
      // Each package unpacks on its own, then merges, so a failure names the package.
      const dir = join(stage, 'pkgs', name);
      await mkdir(dir, { recursive: true });
      const root = await downloadAndUnpack(name, record.version, apt, dir, progress);
      await cp(root, join(stage, 'root'), { recursive: true, verbatimSymlinks: true, force: true });
      await rm(dir, { recursive: true, force: true });
      for (const dep of record.depends) {
        if (!seen.has(dep) && dep.startsWith('lib')) {
          seen.add(dep);
          next.push(dep);
        }
      }
    }
    const closure = await libraryClosure(join(stage, 'root'), GUEST_AGENT_PATH);
    if (closure.missing.length === 0) return { version, closure };
    layer = next;
  }
  const closure = await libraryClosure(join(stage, 'root'), GUEST_AGENT_PATH);
  throw new InfraError(
    `${GUEST_AGENT_PACKAGE} ${version} needs ${closure.missing.join(', ')}, found in none of the packages it depends on (${[...seen].join(', ')})`,
    aptFix(apt),
  );
}

/**
 * Debian's qemu-guest-agent for `debArch` (apt as `apt` selects it), reduced to what it needs to
 * run in a busybox initramfs: the binary, the dynamic loader at the path its PT_INTERP names, and
 * its shared libraries, from the Debian packages of that arch. Cached under
 * `<cache>/guest-agent/qemu-guest-agent_<version>_<debArch>/` (appearing, by rename, only once
 * complete), so a second call is a lookup.
 */
export async function fetchDebianGuestAgent(apt: AptOptions, debArch: string, progress: Progress, root = cacheDir()): Promise<GuestAgentFiles> {
  const record = await showPackage(GUEST_AGENT_PACKAGE, apt);
  if (!record) throw new InfraError(`apt knows no package ${GUEST_AGENT_PACKAGE} for ${debArch}`, aptFix(apt));
  const dir = join(root, 'guest-agent', `${GUEST_AGENT_PACKAGE}_${record.version.replace(/:/g, '%3a')}_${debArch}`);
  const manifest = join(dir, 'manifest.json');
  if (existsSync(manifest)) return withSources(dir, JSON.parse(await readFile(manifest, 'utf8')) as Manifest);

  await mkdir(join(root, 'guest-agent'), { recursive: true });
  const stage = await mkdtemp(join(root, 'guest-agent', '.fetch-'));
  // One progress line for the whole fetch, not two per library package.
  const quiet: Progress = { step: (_label, work) => work() };
  try {
    const { version, closure } = await progress.step(`Fetching ${GUEST_AGENT_PACKAGE} ${record.version} (${debArch}) and its libraries`, () =>
      unpackWithLibraries(apt, stage, quiet),
    );
    const out = join(stage, 'out');
    const files: Manifest['files'] = [];
    for (const f of closure.files) {
      const copy = join(out, 'files', f.to);
      await mkdir(dirname(copy), { recursive: true });
      await copyFile(f.from, copy);
      await chmod(copy, 0o755);
      files.push({ to: f.to, mode: 0o755 });
    }
    const result: Manifest = { version, debArch, files };
    await writeFile(join(out, 'manifest.json'), JSON.stringify(result, null, 2) + '\n');
    await rm(dir, { recursive: true, force: true });
    await rename(out, dir);
    return withSources(dir, result);
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

export interface GuestAgentOptions {
  root?: string;
  /** The host's `uname -m`; the running machine's by default. */
  host?: string;
}

/**
 * qemu-ga for a guest of `arch`: through the host's apt for the host's own arch, through tsuite's
 * own package lists for another (aarch64 on x86), never touching the host's dpkg architectures.
 */
export async function fetchGuestAgent(arch: string, progress: Progress, opts: GuestAgentOptions = {}): Promise<GuestAgentFiles> {
  const root = opts.root ?? cacheDir();
  const deb = debianArch(arch);
  if (!isForeignArch(arch, opts.host ?? hostArch())) return fetchDebianGuestAgent([], deb, progress, root);
  const hadLists = (await foreignListsAge(foreignAptDir(deb, root))) !== undefined;
  try {
    return await fetchDebianGuestAgent(await foreignApt(deb, progress, { root }), deb, progress, root);
  } catch (err) {
    // Old lists can name a version the mirror has since replaced: refresh once and retry.
    if (!(err instanceof InfraError) || !hadLists) throw err;
    return fetchDebianGuestAgent(await foreignApt(deb, progress, { root, maxAgeMs: 0 }), deb, progress, root);
  }
}
