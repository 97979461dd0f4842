import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { InfraError } from '../../src/core/errors.js';
import { cacheDir } from '../../src/core/paths.js';
import type { Progress } from '../../src/core/progress.js';
import { aptFix, showPackage, type AptOptions } from './debian-package.js';
import { debianArch, foreignApt, foreignAptDir, foreignListsAge, hostArch, isForeignArch } from './foreign-apt.js';
import { unpackWithLibraries } from './package-closure.js';
import { pinnedResolution } from './resolution-cache.js';

export const GUEST_AGENT_PACKAGE = 'qemu-guest-agent';
/** Where the agent lives in the guest; the tsuite init starts it from there. */
export const GUEST_AGENT_PATH = '/usr/sbin/qemu-ga';

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

/**
 * Debian's qemu-guest-agent for `debArch` (apt as `apt` selects it), reduced to what it needs to
 * run in a busybox initramfs: the binary, the dynamic loader at the path its PT_INTERP names, and
 * its shared libraries, from the Debian packages of that arch. Cached under
 * `<cache>/guest-agent/qemu-guest-agent_<version>_<debArch>/` (appearing, by rename, only once
 * complete), so a second call is a lookup.
 */
export async function fetchDebianGuestAgent(apt: AptOptions, debArch: string, progress: Progress, root = cacheDir()): Promise<GuestAgentFiles> {
  // The version apt named when `tsuite setup` ran, while its folder is still in the cache: no apt-cache call per run.
  return pinnedResolution(
    ['guest-agent', ...apt, debArch].join(' '),
    async (folder) => withSources(join(root, folder), JSON.parse(await readFile(join(root, folder, 'manifest.json'), 'utf8')) as Manifest),
    async () => {
      const agent = await lookUpGuestAgent(apt, debArch, progress, root);
      return { value: agent, folder: join('guest-agent', agentFolder(agent.version, debArch)) };
    },
    root,
  );
}

const agentFolder = (version: string, debArch: string) => `${GUEST_AGENT_PACKAGE}_${version.replace(/:/g, '%3a')}_${debArch}`;

/** The candidate version apt names today, fetched unless already in the cache. */
async function lookUpGuestAgent(apt: AptOptions, debArch: string, progress: Progress, root: string): Promise<GuestAgentFiles> {
  const record = await showPackage(GUEST_AGENT_PACKAGE, apt);
  if (!record) throw new InfraError(`apt knows no package ${GUEST_AGENT_PACKAGE} for ${debArch}`, aptFix(apt));
  const dir = join(root, 'guest-agent', agentFolder(record.version, debArch));
  const manifest = join(dir, 'manifest.json');
  if (existsSync(manifest)) return withSources(dir, JSON.parse(await readFile(manifest, 'utf8')) as Manifest);

  await mkdir(join(root, 'guest-agent'), { recursive: true });
  const stage = await mkdtemp(join(root, 'guest-agent', '.fetch-'));
  // One progress line for the whole fetch, not two per library package.
  const quiet: Progress = { step: (_label, work) => work() };
  try {
    const { version, closures } = await progress.step(`Fetching ${GUEST_AGENT_PACKAGE} ${record.version} (${debArch}) and its libraries`, () =>
      unpackWithLibraries(GUEST_AGENT_PACKAGE, [GUEST_AGENT_PATH], apt, stage, quiet),
    );
    const out = join(stage, 'out');
    const files: Manifest['files'] = [];
    for (const f of closures[0]!.files) {
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
