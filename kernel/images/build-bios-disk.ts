import { basename, join } from 'node:path';
import { open, readFile, stat, writeFile } from 'node:fs/promises';
import { InfraError } from '../../src/core/errors.js';
import { execChecked, execOk } from '../../src/core/exec.js';
import { cacheDir } from '../../src/core/paths.js';
import type { Progress } from '../../src/core/progress.js';
import { grubArgs, grubConfig, grubKernelCmdline, type GrubEntry } from './grub-config.js';
import { buildOnce, IMAGE_BASE_CMDLINE, imageInputs, inputsHash, type BuiltImage, type ImageBuildRequest } from './image-cache.js';
import { biosDiskBuildRequirements, requireTools } from './requirements.js';

/** Bump when the disk's layout changes, so cached images are rebuilt. */
const LAYOUT = 'bios-disk-1';
const SECTOR = 512;
const MiB = 1024 * 1024;
/** The FAT partition starts at 1 MiB (sector 2048): GRUB's core image lives in the gap before it, as grub-install puts it. */
const PART_START = 2048;
const MIN_PART_MIB = 8;
/** Enough GRUB to read an MBR partition's FAT filesystem and boot a Linux or multiboot kernel from it, on the serial port. */
const GRUB_MODULES = ['biosdisk', 'part_msdos', 'fat', 'multiboot', 'linux', 'normal', 'configfile', 'serial', 'terminal'];
const BOOT_IMG = '/usr/lib/grub/i386-pc/boot.img';
/** MBR layout: boot code up to the disk signature, four 16-byte partition entries, then 55 AA. */
const MBR_CODE_BYTES = 440;
const PARTITION_TABLE = 446;

export interface BiosDiskRequest extends ImageBuildRequest {
  /** GRUB's loader: `linux` for a bzImage (default), `multiboot` for a multiboot ELF such as tsuite's fixture kernel. */
  loader?: 'linux' | 'multiboot';
}

/**
 * A raw MBR disk that a PC BIOS (SeaBIOS) boots as a hard disk on any controller it can read (IDE
 * included): GRUB for i386-pc as grub-install lays it out, boot.img in the MBR and the core image in
 * the gap up to 1 MiB, then one FAT partition holding /boot/<kernel>, the initrd and
 * /boot/grub/grub.cfg. The core image finds its config at (hd0,msdos1)/boot/grub, so this disk must
 * be the BIOS's first hard disk. Built without root or loop devices (mtools writes the FAT in place)
 * and cached by the hash of everything that goes in. A `linux` entry gets `console=ttyS0 panic=-1`
 * before `append`; a `multiboot` entry gets `append` alone (it is not Linux).
 */
export async function buildBiosDisk(req: BiosDiskRequest, progress: Progress, root = cacheDir()): Promise<BuiltImage> {
  const inputs = imageInputs(req);
  const loader = req.loader ?? 'linux';
  const args = grubArgs(loader === 'linux' ? `${IMAGE_BASE_CMDLINE} ${req.append ?? ''}` : req.append ?? '');
  const kernelName = loader === 'multiboot' ? basename(inputs.kernel) : 'vmlinuz';
  const entry: GrubEntry = { kernel: `/boot/${kernelName}`, initrd: inputs.initrd ? '/boot/initrd.img' : undefined, args, loader };
  const cfg = grubConfig(entry);
  await requireTools('building a BIOS-bootable disk', biosDiskBuildRequirements());
  const grub = await execOk('grub-mkimage', ['--version']);
  const id = await inputsHash([inputs.kernel, inputs.initrd, BOOT_IMG], [LAYOUT, GRUB_MODULES.join(' '), cfg, grub]);
  const path = join(root, 'images', `tsuite-${id}.bios.raw`);

  await buildOnce(path, (tmpOut, stage) =>
    progress.step('Building a BIOS-bootable MBR disk (GRUB i386-pc, FAT partition)', async () => {
      const core = join(stage, 'core.img');
      await execChecked('grub-mkimage', ['-O', 'i386-pc', '-o', core, '-p', '(hd0,msdos1)/boot/grub', ...GRUB_MODULES]);
      const coreBytes = await readFile(core);
      if (SECTOR + coreBytes.length > PART_START * SECTOR) {
        throw new InfraError(`GRUB's core image (${coreBytes.length} bytes) does not fit in the ${PART_START - 1} sectors before the partition`, 'check the GRUB_MODULES list in build-bios-disk.ts');
      }

      let bytes = 0;
      for (const f of [inputs.kernel, inputs.initrd]) if (f) bytes += (await stat(f)).size;
      const partMiB = Math.max(MIN_PART_MIB, Math.ceil((bytes * 1.1) / MiB) + 2);
      const partSectors = partMiB * 2048;
      const disk = await open(tmpOut, 'w');
      try {
        await disk.truncate((PART_START + partSectors) * SECTOR); // sparse
        await disk.write(mbr(await readFile(BOOT_IMG), partSectors), 0, SECTOR, 0);
        // Core image at sector 1: boot.img's default kernel sector, and diskboot.img's default
        // blocklist (the rest from sector 2, its length filled in by grub-mkimage).
        await disk.write(coreBytes, 0, coreBytes.length, SECTOR);
      } finally {
        await disk.close();
      }

      const part = `${tmpOut}@@${PART_START * SECTOR}`;
      const mtools = (cmd: string, a: string[]) => execChecked(cmd, ['-i', part, ...a], { env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } });
      await mtools('mformat', ['-T', String(partSectors), '-H', String(PART_START), '-N', id.slice(0, 8).toUpperCase(), '-v', 'TSUITE', '::']);
      await mtools('mmd', ['::/boot', '::/boot/grub']);
      const cfgFile = join(stage, 'grub.cfg');
      await writeFile(cfgFile, cfg);
      await mtools('mcopy', [cfgFile, '::/boot/grub/grub.cfg']);
      await mtools('mcopy', [inputs.kernel, `::${entry.kernel}`]);
      if (inputs.initrd) await mtools('mcopy', [inputs.initrd, '::/boot/initrd.img']);
    }),
  );
  return { path, kind: 'raw', cmdline: grubKernelCmdline(entry) };
}

/** Sector 0: GRUB's boot code, one active FAT16 (LBA) partition from PART_START, the boot signature. */
function mbr(bootImg: Buffer, partSectors: number): Buffer {
  const sector = Buffer.alloc(SECTOR);
  bootImg.copy(sector, 0, 0, MBR_CODE_BYTES);
  const entry = sector.subarray(PARTITION_TABLE, PARTITION_TABLE + 16);
  entry[0] = 0x80; // active
  entry.set([0xfe, 0xff, 0xff], 1); // CHS unused: LBA only, as every BIOS since the 90s reads it
  entry[4] = 0x0e; // FAT16, LBA
  entry.set([0xfe, 0xff, 0xff], 5);
  entry.writeUInt32LE(PART_START, 8);
  entry.writeUInt32LE(partSectors, 12);
  sector[510] = 0x55;
  sector[511] = 0xaa;
  return sector;
}
