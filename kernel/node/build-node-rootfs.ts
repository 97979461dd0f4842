import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, cp, mkdir, mkdtemp, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { InfraError } from '../../src/core/errors.js';
import { execOk } from '../../src/core/exec.js';
import { assetPath, cacheDir } from '../../src/core/paths.js';
import type { Progress } from '../../src/core/progress.js';
import { GUEST_LIB, GUEST_LIB_SOURCE } from '../initramfs/build-initramfs.js';
import { requireTools } from '../images/requirements.js';
import { buildImage, PAUSE_IMAGE, type BuiltImage } from '../../oci-images/index.js';
import { cniConflist, containerdConfig, NODE_PAUSE_TAR, NODE_REGISTRY_CONFIG_DIR } from './cri-files.js';
import { hostSuiteSources, NODE_PACKAGES, NODE_SUITE, resolveNodePackages } from './node-packages.js';
import { DEPMOD, MKE2FS, nodeRootfsRequirements, USERADD } from './requirements.js';

/** Where the node init lives in the rootfs; the kernel runs it as PID 1 (`init=`). */
export const NODE_INIT = '/sbin/tsuite-node-init';
/** The disk is the guest's first NVMe namespace (built into the cloud kernel: no initramfs needed). */
export const NODE_ROOT_DEVICE = '/dev/nvme0n1';
/** What the kernel needs to boot the node rootfs. */
export const NODE_CMDLINE = `root=${NODE_ROOT_DEVICE} rootfstype=ext4 rw rootwait init=${NODE_INIT}`;
/** Image size: sparse, so only what is written takes disk; the rest is room for images and containers. */
export const NODE_ROOTFS_SIZE = '4G';
/** Bumped when the build steps change in a way the inputs below do not show. */
const BUILDER_REVISION = 3;

export interface NodeRootfsRequest {
  /** The kernel whose modules go into `/lib/modules/<release>` (the reference kernel). */
  kernel: { release: string; modulesDir: string; version?: string };
  /** The PID 1 script; kernel/node/node-init.sh by default. */
  init?: string;
  packages?: readonly string[];
}

/** A built container host rootfs in the cache (`node.json` beside the image). */
export interface NodeRootfs {
  /** The ext4 image, booted with `snapshot=on`: never written. */
  image: string;
  key: string;
  suite: string;
  release: string;
  /** `name=version` of every package in the rootfs, as dpkg lists it there. */
  packages: string[];
  /** Apparent size of the image file, and what it takes on disk (it is sparse). */
  sizeBytes: number;
  diskBytes: number;
  buildMs: number;
}

/** Small files the builder writes into the rootfs (part of the cache key through their text). */
const GUEST_FILES: Readonly<Record<string, string>> = Object.freeze({
  '/etc/hostname': 'tsuite-node\n',
  '/etc/hosts': '127.0.0.1\tlocalhost\n127.0.1.1\ttsuite-node\n::1\tlocalhost ip6-localhost ip6-loopback\n',
  // QEMU user-mode networking's DNS forwarder.
  '/etc/resolv.conf': 'nameserver 10.0.2.3\n',
  '/etc/fstab': '# tsuite node: the kernel mounts the root (root= on the cmdline); the init mounts the rest\n',
  // qemu-ga's guest-shutdown runs `/sbin/shutdown -P|-H|-r +0 <message>`; there is no systemd here.
  '/sbin/shutdown': '#!/bin/sh\nsync\ncase "$1" in -r) exec busybox reboot -f ;; -H) exec busybox halt -f ;; *) exec busybox poweroff -f ;; esac\n',
});

/**
 * Builds (or finds in the cache) the container host's root filesystem: Debian `NODE_SUITE` from the
 * host's apt sources with mmdebstrap (`apt` variant plus docker.io and friends), the kernel's
 * modules with depmod run, the tsuite node init, an unprivileged `tsuite` user (uid 1000), packed
 * into a sparse ext4 image. Cached in `<cache>/node-rootfs/` by the resolved package versions,
 * the init, the kernel and the builder; the folder appears by rename only once complete.
 */
export async function buildNodeRootfs(req: NodeRootfsRequest, progress: Progress, root = cacheDir()): Promise<NodeRootfs> {
  const init = req.init ?? assetPath('kernel', 'node', 'node-init.sh');
  const packages = req.packages ?? NODE_PACKAGES;
  const base = join(root, 'node-rootfs');
  const resolved = await resolveNodePackages(packages, join(base, 'resolved'));
  const hash = createHash('sha256').update(`${BUILDER_REVISION}\0${NODE_SUITE}\0${NODE_ROOTFS_SIZE}\0${req.kernel.release}\0${req.kernel.version ?? ''}\0`);
  hash.update(resolved.join('\n')).update(await readFile(init)).update(await readFile(assetPath(...GUEST_LIB_SOURCE))).update(JSON.stringify(GUEST_FILES));
  // The pod sandbox image: its tar goes into the rootfs (imported at boot) and its ref into containerd's config.
  const pause = await buildImage(PAUSE_IMAGE, 'x86_64', progress);
  hash.update(pause.id).update(JSON.stringify(criFiles(pause)));
  const key = hash.digest('hex').slice(0, 16);
  const dir = join(base, `${req.kernel.release}-${key}`);
  const manifest = join(dir, 'node.json');
  if (existsSync(manifest)) return JSON.parse(await readFile(manifest, 'utf8')) as NodeRootfs;

  if (process.getuid?.() !== 0) {
    throw new InfraError('building the container host rootfs needs root (mmdebstrap installs packages as root, and the image must hold root-owned files)',
      'run `sudo npx tsuite setup --target qemu-x86-node` once: later runs use the cached image and need no root');
  }
  await requireTools('building the container host rootfs', nodeRootfsRequirements());
  const sources = await hostSuiteSources();
  if (!existsSync(req.kernel.modulesDir)) throw new InfraError(`kernel modules not found: ${req.kernel.modulesDir}`, 'run `npx tsuite setup` to fetch the reference kernel again');

  await mkdir(base, { recursive: true });
  await pruneStale(base);
  const started = Date.now();
  const stage = await mkdtemp(join(base, '.build-'));
  try {
    await chmod(stage, 0o755); // mkdtemp's 0700 would keep a non-root QEMU from the image
    const tree = join(stage, 'root');
    await progress.step(`Building the container host rootfs (Debian ${NODE_SUITE}: ${packages.join(', ')})`, () =>
      execOk('mmdebstrap', ['--variant=apt', '--mode=root', '--quiet', `--include=${packages.join(',')}`,
        // Documentation and translations are most of a minimal system's files and nothing reads them.
        '--dpkgopt=path-exclude=/usr/share/man/*', '--dpkgopt=path-exclude=/usr/share/locale/*',
        '--dpkgopt=path-exclude=/usr/share/doc/*', '--dpkgopt=path-include=/usr/share/doc/*/copyright',
        NODE_SUITE, tree, ...sources],
      { fix: 'check that the host reaches its apt mirror (`apt-get update`), then run again' }));
    const installed = await progress.step(`Installing the node init and the ${req.kernel.release} modules`, () => configure(tree, init, req.kernel, pause));
    const image = join(stage, 'rootfs.ext4');
    await progress.step(`Packing the rootfs into ext4 (${NODE_ROOTFS_SIZE}, sparse)`, () =>
      // Inode tables and journal written now (not lazily): the guest would otherwise spend its
      // first minutes under TCG zeroing them through the snapshot overlay.
      execOk(MKE2FS, ['-q', '-t', 'ext4', '-L', 'tsuite-node', '-E', 'lazy_itable_init=0,lazy_journal_init=0', '-d', tree, image, NODE_ROOTFS_SIZE],
        { fix: 'install e2fsprogs 1.43 or newer (mke2fs -d)' }));
    await rm(tree, { recursive: true, force: true });
    const s = await stat(image);
    const built: NodeRootfs = {
      image: join(dir, 'rootfs.ext4'), key, suite: NODE_SUITE, release: req.kernel.release, packages: installed,
      sizeBytes: s.size, diskBytes: s.blocks * 512, buildMs: Date.now() - started,
    };
    await writeFile(join(stage, 'node.json'), JSON.stringify(built, null, 2) + '\n');
    try {
      await rename(stage, dir);
    } catch (err) {
      // Another run finished the same build first: use its image.
      if (existsSync(manifest)) return JSON.parse(await readFile(manifest, 'utf8')) as NodeRootfs;
      throw err;
    }
    await pruneOtherBuilds(base, dir, req.kernel.release);
    return built;
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

/** Modules, init, guest files and the `tsuite` user into the tree; returns its dpkg package list. */
async function configure(tree: string, init: string, kernel: NodeRootfsRequest['kernel'], pause: BuiltImage): Promise<string[]> {
  const modules = join(tree, 'lib', 'modules', kernel.release);
  await cp(kernel.modulesDir, modules, { recursive: true });
  // Debian's kernel package ships no modules.dep: without it modprobe (and the kernel's own
  // module autoloading, which dockerd's iptables-nft relies on) finds nothing.
  await execOk(DEPMOD, ['-b', tree, kernel.release], { fix: 'install kmod' });
  await cp(init, join(tree, NODE_INIT));
  await chmod(join(tree, NODE_INIT), 0o755);
  await mkdir(join(tree, dirname(GUEST_LIB)), { recursive: true });
  await cp(assetPath(...GUEST_LIB_SOURCE), join(tree, GUEST_LIB));
  for (const [path, text] of Object.entries({ ...GUEST_FILES, ...criFiles(pause) })) {
    await mkdir(join(tree, dirname(path)), { recursive: true });
    await rm(join(tree, path), { force: true }); // may be a symlink to a host file (resolv.conf)
    await writeFile(join(tree, path), text);
    if (path.startsWith('/sbin/')) await chmod(join(tree, path), 0o755);
  }
  // openssh-server's postinst made host keys: one cached image is booted many times, so every guest
  // would share them (a private key in a file anyone with the cache can read). The init makes a
  // fresh key at each boot instead and prints its fingerprint.
  const sshDir = join(tree, 'etc', 'ssh');
  if (existsSync(sshDir)) for (const f of await readdir(sshDir)) if (f.startsWith('ssh_host_')) await rm(join(sshDir, f), { force: true });
  await mkdir(join(tree, dirname(NODE_PAUSE_TAR)), { recursive: true });
  await cp(pause.archive, join(tree, NODE_PAUSE_TAR));
  await mkdir(join(tree, NODE_REGISTRY_CONFIG_DIR), { recursive: true });
  // The unprivileged user of the probe contract (uid/gid 1000), as in the initramfs guest.
  await execOk(USERADD, ['--root', tree, '--uid', '1000', '--user-group', '--no-create-home', '--home-dir', '/tmp', '--shell', '/bin/sh', 'tsuite'],
    { fix: 'install passwd (useradd)' });
  const list = await execOk('dpkg-query', ['--admindir', join(tree, 'var', 'lib', 'dpkg'), '-W', '-f', '${Package}=${Version}\n']);
  return list.split('\n').filter(Boolean).sort();
}

/** containerd's config naming the sandbox image, and the pod network (kernel/node/cri-files.ts). */
function criFiles(pause: BuiltImage): Record<string, string> {
  return { '/etc/containerd/config.toml': containerdConfig(pause.ref), '/etc/cni/net.d/10-tsuite-pods.conflist': cniConflist() };
}

/** Build folders left by a killed build (over an hour old: a running build is younger). */
async function pruneStale(base: string): Promise<void> {
  for (const entry of await readdir(base)) {
    if (!entry.startsWith('.build-')) continue;
    const s = await stat(join(base, entry)).catch(() => undefined);
    if (s && Date.now() - s.mtimeMs > 3_600_000) await rm(join(base, entry), { recursive: true, force: true });
  }
}

/** Older complete builds for the same kernel: each is ~600 MB on disk, and only the newest is booted again. */
async function pruneOtherBuilds(base: string, keep: string, release: string): Promise<void> {
  for (const entry of await readdir(base)) {
    const path = join(base, entry);
    if (path === keep || !entry.startsWith(`${release}-`)) continue;
    if (existsSync(join(path, 'node.json'))) await rm(path, { recursive: true, force: true });
  }
}
