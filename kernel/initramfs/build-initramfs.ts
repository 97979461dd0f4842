import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import { gzipSync } from 'node:zlib';
import { InfraError } from '../../src/core/errors.js';
import { execChecked, execOk } from '../../src/core/exec.js';
import { assetPath, cacheDir } from '../../src/core/paths.js';
import type { Progress } from '../../src/core/progress.js';
import { statMemo, type Computed } from '../../src/core/stat-memo.js';
import { indexModules, resolveLoadOrder } from '../modules.js';
import { DEFAULT_OPTIONAL_MODULES, OPTIONAL_MODULES_DIR, resolveOptionalModules } from './optional-modules.js';

/** The shell functions tsuite's guest inits share (the boot report), and where they go in a guest. */
export const GUEST_LIB_SOURCE = ['kernel', 'guest', 'guest-lib.sh'] as const;
export const GUEST_LIB = '/lib/tsuite/guest-lib.sh';

/** Modules the reference guest loads: virtio PCI transport, console/agent port, network, disk. */
export const GUEST_MODULES = ['virtio_pci', 'virtio_console', 'virtio_net', 'virtio_blk'] as const;

export interface InitramfsRequest {
  /** `lib/modules/<release>` of the kernel the image is for. */
  modulesDir: string;
  release: string;
  /** A static busybox for the guest's arch (Debian's busybox-static). */
  busybox: string;
  /** The guest init; the tsuite init by default. */
  init?: string;
  modules?: readonly string[];
  /**
   * Modules carried but not loaded at boot, in OPTIONAL_MODULES_DIR with their own load-order
   * (optional-modules.ts); VFIO by default. Any the kernel lacks are left out.
   */
  optionalModules?: readonly string[];
  /** More files for the image: the guest agent and its libraries, probe binaries. */
  extraFiles?: readonly ExtraFile[];
}

/** A host file copied into the image at an absolute guest path, with its mode (default: the host file's). */
export interface ExtraFile {
  from: string;
  to: string;
  mode?: number;
}

/** The guest path inside the staging folder (an absolute path normalises to one inside it). */
function stagePath(stage: string, to: string): string {
  const normal = posix.normalize(to);
  if (!posix.isAbsolute(to) || normal === '/') {
    throw new InfraError(`initramfs file destination must be an absolute path inside the image: '${to}'`);
  }
  return join(stage, normal);
}

/**
 * Builds a gzip'd newc cpio: busybox, /init, the modules with their dependencies and any extra
 * files. Cached by the hash of everything that goes in, so a second call is a lookup; and finding
 * that hash (walking the kernel's module tree, reading busybox, the agent and the modules) is itself
 * skipped while none of those files has changed (statMemo): 0.1 s of every run's start-up.
 */
export async function buildInitramfs(req: InitramfsRequest, progress: Progress, root = cacheDir()): Promise<string> {
  const init = req.init ?? assetPath('kernel', 'initramfs', 'init.sh');
  const guestLib = assetPath(...GUEST_LIB_SOURCE);
  const modules = req.modules ?? GUEST_MODULES;
  if (!existsSync(req.busybox)) throw new InfraError(`no static busybox at ${req.busybox}`, 'run `npx tsuite setup` (installs busybox-static)');
  const extra = req.extraFiles ?? [];
  const request = JSON.stringify({
    init, guestLib, busybox: req.busybox, modulesDir: req.modulesDir, release: req.release, modules, optional: req.optionalModules ?? DEFAULT_OPTIONAL_MODULES,
    extra: extra.map((f) => [f.from, f.to, f.mode ?? null]),
  });
  const known = [init, guestLib, req.busybox, ...extra.map((f) => f.from)];
  return statMemo(join(root, 'initramfs', 'memo'), request, () => buildHashed(req, { init, guestLib, modules, extra }, progress, root), known);
}

/** The image for this exact content: built unless it already is. Its inputs: every file that went in, and the image itself. */
async function buildHashed(req: InitramfsRequest, files: { init: string; guestLib: string; modules: readonly string[]; extra: readonly ExtraFile[] }, progress: Progress, root: string): Promise<Computed<string>> {
  const { init, guestLib, modules, extra } = files;

  const index = await indexModules(req.modulesDir);
  const order = await resolveLoadOrder(index, modules);
  const optional = await resolveOptionalModules(index, req.optionalModules ?? DEFAULT_OPTIONAL_MODULES, order);
  const hash = createHash('sha256');
  hash.update(await readFile(init)).update(await readFile(guestLib)).update(await readFile(req.busybox)).update(req.release).update(order.join(',')).update(`\0optional:${optional.join(',')}`);
  for (const f of extra) {
    stagePath('/', f.to);
    if (!existsSync(f.from)) throw new InfraError(`initramfs file not found: ${f.from}`, 'run `npx tsuite setup` to fetch and build it again');
    const mode = f.mode ?? (await stat(f.from)).mode & 0o7777;
    hash.update(`\0${f.to}\0${mode}\0`).update(await readFile(f.from));
  }
  const out = join(root, 'initramfs', `${req.release}-${hash.digest('hex').slice(0, 16)}.cpio.gz`);
  // Not the module tree's listing: it is the cache's unpacking of one kernel package (its release in the key), never changed in place.
  const inputs = [init, guestLib, req.busybox, ...[...order, ...optional].map((m) => index.get(m)!), ...extra.map((f) => f.from), out];
  if (existsSync(out)) return { value: out, inputs };

  await mkdir(join(root, 'initramfs'), { recursive: true });
  const stage = await mkdtemp(join(root, 'initramfs', '.stage-'));
  try {
    await progress.step(`Building initramfs for ${req.release}`, async () => {
      for (const d of ['bin', 'dev', 'proc', 'sys', 'tmp', 'lib/modules']) await mkdir(join(stage, d), { recursive: true });
      await copyFile(req.busybox, join(stage, 'bin', 'busybox'));
      await chmod(join(stage, 'bin', 'busybox'), 0o755);
      await copyFile(init, join(stage, 'init'));
      await chmod(join(stage, 'init'), 0o755);
      await mkdir(join(stage, dirname(GUEST_LIB)), { recursive: true });
      await copyFile(guestLib, join(stage, GUEST_LIB));
      for (const m of order) await copyFile(index.get(m)!, join(stage, 'lib', 'modules', `${m}.ko`));
      await writeFile(join(stage, 'lib', 'modules', 'load-order'), order.join('\n') + '\n');
      if (optional.length > 0) {
        const dir = join(stage, OPTIONAL_MODULES_DIR);
        await mkdir(dir, { recursive: true });
        for (const m of optional) await copyFile(index.get(m)!, join(dir, `${m}.ko`));
        await writeFile(join(dir, 'load-order'), optional.join('\n') + '\n');
      }
      for (const f of extra) {
        const to = stagePath(stage, f.to);
        await mkdir(dirname(to), { recursive: true });
        await copyFile(f.from, to);
        if (f.mode !== undefined) await chmod(to, f.mode);
      }
      await writeFile(out + '.tmp', gzipSync(await packCpio(stage), { level: 6 }));
      await rename(out + '.tmp', out);
    });
    return { value: out, inputs };
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

/** Packs a directory as a newc cpio archive (the format the kernel unpacks), owned by root. */
export async function packCpio(dir: string): Promise<Buffer> {
  const list = await execOk('find', ['.', '-mindepth', '1'], { cwd: dir });
  const names = list.split('\n').filter(Boolean).sort().join('\n') + '\n';
  const fix = 'run `npx tsuite setup` (installs cpio)';
  const r = await execChecked('cpio', ['--quiet', '-o', '-H', 'newc', '-R', '0:0', '--reproducible'], { cwd: dir, input: names, fix });
  return r.stdoutBytes;
}
