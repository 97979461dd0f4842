import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pack } from 'tar-stream';
import { cacheDir } from '../../src/core/paths.js';
import { buildOnce } from './image-cache.js';

/** Bump when the archive's layout changes, so cached disks are rebuilt. */
const LAYOUT = 'tar-disk-1';
/** Every entry's mtime: the same files make the same disk, byte for byte. */
const MTIME = new Date('2026-01-01T00:00:00Z');

/**
 * A raw disk whose whole content is a ustar archive of `files` (path → content): the simplest real
 * filesystem a young kernel can read from a block device (a header sector per file, data in whole
 * sectors, two zero sectors at the end), and one that `tar tvf` checks on the host. Parent
 * directories get their own entries. tar pads to 512-byte sectors, so the file is a valid disk
 * image as is. Cached under `<cache>/images/` by content.
 */
export async function buildTarDisk(files: Readonly<Record<string, string | Buffer>>, root = cacheDir()): Promise<string> {
  const names = Object.keys(files).sort();
  const hash = createHash('sha256').update(LAYOUT);
  for (const name of names) hash.update('\0').update(name).update('\0').update(files[name]!);
  const path = join(root, 'images', `tsuite-${hash.digest('hex').slice(0, 16)}.tar.raw`);
  await buildOnce(path, async (tmpOut) => writeFile(tmpOut, await ustar(names, files)));
  return path;
}

async function ustar(names: readonly string[], files: Readonly<Record<string, string | Buffer>>): Promise<Buffer> {
  const archive = pack();
  const chunks: Buffer[] = [];
  archive.on('data', (c) => void chunks.push(c as Buffer));
  const ended = new Promise<void>((resolve, reject) => archive.on('end', resolve).on('error', reject));
  const dirs = new Set<string>();
  for (const name of names) {
    const parts = name.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = `${parts.slice(0, i).join('/')}/`;
      if (dirs.has(dir)) continue;
      dirs.add(dir);
      archive.entry({ name: dir, type: 'directory', mode: 0o755, mtime: MTIME });
    }
    archive.entry({ name, mode: 0o644, mtime: MTIME }, files[name]!);
  }
  archive.finalize();
  await ended;
  return Buffer.concat(chunks);
}
