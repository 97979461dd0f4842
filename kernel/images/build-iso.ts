import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execChecked, execOk } from '../../src/core/exec.js';
import { cacheDir } from '../../src/core/paths.js';
import type { Progress } from '../../src/core/progress.js';
import { grubArgs, grubConfig, grubKernelCmdline, type GrubEntry } from './grub-config.js';
import { buildOnce, IMAGE_BASE_CMDLINE, imageInputs, inputsHash, type BuiltImage, type ImageBuildRequest } from './image-cache.js';
import { isoBuildRequirements, requireTools } from './requirements.js';

/** Bump when the ISO's layout changes, so cached images are rebuilt. */
const LAYOUT = 'iso-1';

/**
 * A hybrid ISO around a kernel, initramfs and command line, made by grub-mkrescue with GRUB for
 * both i386-pc and x86_64-efi: it boots under SeaBIOS (El Torito) and OVMF (its EFI boot image).
 * Cached under `<cache>/images/` by the hash of everything that goes in.
 */
export async function buildIso(req: ImageBuildRequest, progress: Progress, root = cacheDir()): Promise<BuiltImage> {
  const inputs = imageInputs(req);
  const entry: GrubEntry = {
    kernel: '/boot/vmlinuz',
    initrd: inputs.initrd ? '/boot/initrd.img' : undefined,
    args: grubArgs(`${IMAGE_BASE_CMDLINE} ${req.append ?? ''}`),
  };
  const cfg = grubConfig(entry);
  await requireTools('building an ISO', isoBuildRequirements());
  const grub = await execOk('grub-mkrescue', ['--version']);
  const path = join(root, 'images', `tsuite-${await inputsHash([inputs.kernel, inputs.initrd], [LAYOUT, cfg, grub])}.iso`);
  await buildOnce(path, (tmpOut, stage) =>
    progress.step('Building a bootable ISO (grub-mkrescue)', async () => {
      const tree = join(stage, 'tree');
      await mkdir(join(tree, 'boot', 'grub'), { recursive: true });
      await copyFile(inputs.kernel, join(tree, 'boot', 'vmlinuz'));
      if (inputs.initrd) await copyFile(inputs.initrd, join(tree, 'boot', 'initrd.img'));
      await writeFile(join(tree, 'boot', 'grub', 'grub.cfg'), cfg);
      await execChecked('grub-mkrescue', ['-o', tmpOut, tree], { fix: 'check that grub-pc-bin, grub-efi-amd64-bin, xorriso and mtools are installed' });
    }),
  );
  return { path, kind: 'iso', cmdline: grubKernelCmdline(entry) };
}
