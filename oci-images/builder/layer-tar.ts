import { posix } from 'node:path';
import { pack } from 'tar-stream';

/** One file, folder or symlink of a layer, at an absolute path in the image. */
export type LayerEntry =
  | { type: 'file'; path: string; content: Buffer; mode: number; uid?: number; gid?: number }
  | { type: 'dir'; path: string; mode: number; uid?: number; gid?: number }
  | { type: 'symlink'; path: string; target: string };

/**
 * Every entry's mtime: the Unix epoch, as reproducible builds do, so the same files make the
 * same bytes (and the same digest) on any host at any time.
 */
export const FIXED_MTIME = new Date(0);

/** `/usr/bin/` → `usr/bin`; rejects paths that would leave the image root. */
export function imagePath(path: string): string {
  const norm = posix.normalize(`/${path}`).replace(/\/+$/, '');
  // normalize() clamps `/../x` to `/x`: a definition saying `..` is a mistake to report, not to guess at.
  if (norm === '' || path.split('/').includes('..')) throw new Error(`bad image path '${path}'`);
  return norm.slice(1);
}

/**
 * The layer as an uncompressed tar, deterministic: entries sorted by path, every parent folder
 * present (0755, root), mtime fixed, no user or group names, no atime/ctime (plain ustar).
 * A later entry for the same path replaces an earlier one.
 */
export async function layerTar(entries: readonly LayerEntry[]): Promise<Buffer> {
  const byPath = new Map<string, LayerEntry>();
  for (const e of entries) {
    const p = imagePath(e.path);
    for (let d = posix.dirname(p); d !== '.'; d = posix.dirname(d)) {
      if (!byPath.has(d)) byPath.set(d, { type: 'dir', path: d, mode: 0o755 });
    }
    byPath.set(p, { ...e, path: p });
  }
  // Byte order, not locale order: the same on every host.
  const paths = [...byPath.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

  const tar = pack();
  const chunks: Buffer[] = [];
  tar.on('data', (b: unknown) => void chunks.push(b as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    tar.on('end', resolve);
    tar.on('error', reject);
  });
  const common = { mtime: FIXED_MTIME, uname: '', gname: '' };
  for (const p of paths) {
    const e = byPath.get(p)!;
    if (e.type === 'file') {
      tar.entry({ ...common, name: p, type: 'file', mode: e.mode, uid: e.uid ?? 0, gid: e.gid ?? 0, size: e.content.length }, e.content);
    } else if (e.type === 'dir') {
      tar.entry({ ...common, name: `${p}/`, type: 'directory', mode: e.mode, uid: e.uid ?? 0, gid: e.gid ?? 0 });
    } else {
      tar.entry({ ...common, name: p, type: 'symlink', linkname: e.target, mode: 0o777, uid: 0, gid: 0 });
    }
  }
  tar.finalize();
  await done;
  return Buffer.concat(chunks);
}
