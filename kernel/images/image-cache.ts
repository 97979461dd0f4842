import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { UsageError } from '../../src/core/errors.js';
import type { ImageKind } from '../../src/core/runner.js';

export interface ImageBuildRequest {
  /** A Linux kernel GRUB's `linux` command loads (bzImage). */
  kernel: string;
  initrd?: string;
  /** Added after the console and panic settings, `console=ttyS0 panic=-1`. */
  append?: string;
}

export interface BuiltImage {
  path: string;
  kind: ImageKind;
  /**
   * Exactly what the guest kernel gets as its command line (/proc/cmdline), BOOT_IMAGE= included:
   * give it to `tsuite run --image-cmdline` so `boot/cmdline` checks it.
   */
  cmdline: string;
}

/** The console and panic settings every built image passes, as the x86_64 profile does for -kernel. */
export const IMAGE_BASE_CMDLINE = 'console=ttyS0 panic=-1';

/** The request's files, as absolute paths that exist. */
export function imageInputs(req: ImageBuildRequest): { kernel: string; initrd?: string } {
  const check = (what: string, path: string) => {
    const full = resolve(path);
    if (!existsSync(full)) throw new UsageError(`${what} for the image not found: ${full}`, `pass an existing ${what} file`);
    return full;
  };
  return { kernel: check('kernel', req.kernel), initrd: req.initrd ? check('initrd', req.initrd) : undefined };
}

/** A short hash of everything that goes into an image: file contents and strings. */
export async function inputsHash(files: readonly (string | undefined)[], texts: readonly string[]): Promise<string> {
  const hash = createHash('sha256');
  for (const f of files) hash.update(f ? await readFile(f) : 'none').update('\0');
  for (const t of texts) hash.update(t).update('\0');
  return hash.digest('hex').slice(0, 16);
}

/**
 * Produces `out` once. `build` writes the file it is given inside a fresh staging folder next to
 * `out`; only a finished image is renamed into place, so a killed build leaves no half image.
 */
export async function buildOnce(out: string, build: (tmpOut: string, stage: string) => Promise<void>): Promise<void> {
  if (existsSync(out)) return;
  const dir = dirname(out);
  await mkdir(dir, { recursive: true });
  const stage = await mkdtemp(join(dir, '.stage-'));
  try {
    const tmpOut = join(stage, 'image.out');
    await build(tmpOut, stage);
    await rename(tmpOut, out);
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}
