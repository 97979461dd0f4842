import { createHash } from 'node:crypto';
import { open, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { execChecked, execOk } from '../../src/core/exec.js';
import { cacheDir } from '../../src/core/paths.js';
import type { Progress } from '../../src/core/progress.js';
import { grubArgs, grubConfig, grubKernelCmdline, type GrubEntry } from './grub-config.js';
import { buildOnce, IMAGE_BASE_CMDLINE, imageInputs, inputsHash, type BuiltImage, type ImageBuildRequest } from './image-cache.js';
import { diskBuildRequirements, requireTools, SGDISK } from './requirements.js';

/** Bump when the disk's layout changes, so cached images are rebuilt. */
const LAYOUT = 'disk-1';
const MiB = 1024 * 1024;
/** The ESP starts at 1 MiB (sector 2048), the usual alignment; the last MiB holds the backup GPT. */
const ESP_OFFSET_MIB = 1;
/** FAT32 needs 65525 clusters at least; 64 MiB of 512-byte clusters leaves room to spare. */
const MIN_ESP_MIB = 64;
/** GRUB modules the standalone image carries: enough to find the ESP and boot Linux or a multiboot kernel from it. */
const GRUB_MODULES = 'linux multiboot normal configfile search search_fs_uuid part_gpt part_msdos fat serial terminal';

export interface DiskRequest extends ImageBuildRequest {
  /** GRUB's loader: `linux` for a bzImage (default), `multiboot` for a multiboot ELF such as tsuite's fixture kernel. */
  loader?: 'linux' | 'multiboot';
}

/**
 * A raw GPT disk with one EFI system partition (FAT32) holding a standalone GRUB at
 * \EFI\BOOT\BOOTX64.EFI (the removable-media path UEFI boots with no boot entries) and the kernel
 * and initramfs under \EFI\tsuite\. GRUB's config is embedded in its binary and finds the ESP by
 * its volume id. Built without root or loop devices: sgdisk writes the GPT into a sparse file and
 * mtools formats and fills the partition in place. Cached by the hash of everything that goes in.
 * A `linux` entry gets `console=ttyS0 panic=-1` before `append`; a `multiboot` entry gets `append`
 * alone (it is not Linux), and GRUB leaves boot services before jumping to it in 32-bit protected mode.
 */
export async function buildDisk(req: DiskRequest, progress: Progress, root = cacheDir()): Promise<BuiltImage> {
  const inputs = imageInputs(req);
  const loader = req.loader ?? 'linux';
  const args = grubArgs(loader === 'linux' ? `${IMAGE_BASE_CMDLINE} ${req.append ?? ''}` : req.append ?? '');
  await requireTools('building a disk image', diskBuildRequirements());
  const grub = await execOk('grub-mkstandalone', ['--version']);
  // The ids are derived from the inputs, so the same inputs make the same disk.
  const id = await inputsHash([inputs.kernel, inputs.initrd], [LAYOUT, GRUB_MODULES, loader, args.join(' '), grub]);
  const fatSerial = id.slice(0, 8).toUpperCase();
  const entry: GrubEntry = {
    kernel: `/EFI/tsuite/${loader === 'multiboot' ? basename(inputs.kernel) : 'vmlinuz'}`,
    initrd: inputs.initrd ? '/EFI/tsuite/initrd.img' : undefined,
    args,
    rootFsUuid: `${fatSerial.slice(0, 4)}-${fatSerial.slice(4)}`,
    loader,
  };
  const path = join(root, 'images', `tsuite-${id}.raw`);

  await buildOnce(path, (tmpOut, stage) =>
    progress.step('Building a bootable GPT disk (GRUB on an EFI system partition)', async () => {
      const cfg = join(stage, 'grub.cfg');
      const efi = join(stage, 'BOOTX64.EFI');
      await writeFile(cfg, grubConfig(entry));
      await execChecked('grub-mkstandalone', ['-O', 'x86_64-efi', '-o', efi, `--install-modules=${GRUB_MODULES}`,
        '--modules=part_gpt fat', '--locales=', '--themes=', '--fonts=', `boot/grub/grub.cfg=${cfg}`]);

      let bytes = 0;
      for (const f of [efi, inputs.kernel, inputs.initrd]) if (f) bytes += (await stat(f)).size;
      const espMiB = Math.max(MIN_ESP_MIB, Math.ceil((bytes * 1.1) / MiB) + 4);
      const disk = await open(tmpOut, 'w');
      await disk.truncate((ESP_OFFSET_MIB + espMiB + 1) * MiB); // sparse: only what is written takes space
      await disk.close();

      await execChecked(SGDISK, ['--clear', `--new=1:${ESP_OFFSET_MIB * 2048}:+${espMiB}M`, '--typecode=1:ef00',
        '--change-name=1:EFI system partition', `--disk-guid=${guid(id, 'disk')}`, `--partition-guid=1:${guid(id, 'esp')}`, tmpOut]);
      // mtools addresses the partition inside the disk file as FILE@@OFFSET.
      const esp = `${tmpOut}@@${ESP_OFFSET_MIB}M`;
      const mtools = (cmd: string, a: string[]) => execChecked(cmd, ['-i', esp, ...a], { env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } });
      await mtools('mformat', ['-F', '-T', String(espMiB * 2048), '-H', String(ESP_OFFSET_MIB * 2048), '-N', fatSerial, '-v', 'TSUITE-ESP', '::']);
      await mtools('mmd', ['::/EFI', '::/EFI/BOOT', '::/EFI/tsuite']);
      await mtools('mcopy', [efi, '::/EFI/BOOT/BOOTX64.EFI']);
      await mtools('mcopy', [inputs.kernel, `::${entry.kernel}`]);
      if (inputs.initrd) await mtools('mcopy', [inputs.initrd, '::/EFI/tsuite/initrd.img']);
    }),
  );
  return { path, kind: 'raw', cmdline: grubKernelCmdline(entry) };
}

/** A version-4-shaped GUID derived from the image id, so rebuilding the same inputs gives the same disk. */
function guid(id: string, what: string): string {
  const h = createHash('sha256').update(`${id}/${what}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
