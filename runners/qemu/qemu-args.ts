import { existsSync } from 'node:fs';
import { chmod, copyFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { UsageError } from '../../src/core/errors.js';
import { defaultFirmware, type BootSpec, type Firmware, type ImageKind, type ProvisionRequest } from '../../src/core/runner.js';
import type { ArchProfile } from './arch-profile.js';
import { accelOption, icountArgs, sessionClock, vcpusFor } from './bench-clock-args.js';
import { concreteMachine, iommuArgs, machineArgs, machineOption, type PortMap } from './machine-args.js';

export interface QemuPaths {
  qmpSocket: string;
  /**
   * This machine's own writable copy of the UEFI variable store (see `sessionUefiVars`). Without
   * one, the profile's template is used under `snapshot=on`: writes go to a throwaway overlay.
   */
  uefiVars?: string;
  /** The unix socket of the guest agent's chardev; the agent port exists only when the request asks for it. */
  agentSocket?: string;
}

/** The virtio-serial port name QGA agents open, and the QEMU id of that port (named in VSERPORT_CHANGE events). */
export const AGENT_PORT_NAME = 'org.qemu.guest_agent.0';
export const AGENT_PORT_ID = 'qga0port';

/** The NVMe serial of the root filesystem disk (the guest sees it in /sys/block/nvme0n1/device/serial). */
export const ROOTFS_SERIAL = 'tsuite-root';

/** QEMU splits option values on ',' and reads ',,' as a literal comma. */
const optionValue = (path: string) => path.replace(/,/g, ',,');

export { forwardedGuestPorts, type PortMap } from './machine-args.js';

/**
 * The QEMU command line for one machine. Pure apart from checking that the firmware file exists,
 * so the exact flags are unit-tested.
 */
export function qemuArgs(
  req: ProvisionRequest,
  profile: ArchProfile,
  accel: 'kvm' | 'tcg',
  paths: QemuPaths,
  ports: PortMap = new Map(),
): string[] {
  const machine = concreteMachine(req, profile, ports);
  const args = [
    '-nodefaults', '-no-user-config', '-display', 'none',
    // A guest reset (panic=-1, triple fault) ends QEMU instead of rebooting forever.
    '-no-reboot',
    '-accel', accelOption(accel, sessionClock(req, accel)),
    '-M', machineOption(machine, accel),
    '-cpu', profile.cpu[accel],
    '-smp', String(vcpusFor(req, sessionClock(req, accel))),
    '-m', String(req.memoryMb),
    // The console on QEMU's stdio; tsuite writes the session's console.log from it (console-log.ts).
    '-chardev', 'stdio,id=console0,signal=off',
    // Named by its session folder, so `ps` says which run a QEMU belongs to (and tests find it).
    '-name', `guest=${optionValue(req.dir)}`,
    '-serial', 'chardev:console0',
    '-qmp', `unix:${optionValue(paths.qmpSocket)},server=on,wait=off`,
  ];
  args.push(...icountArgs(sessionClock(req, accel)));
  args.push(...iommuArgs(machine));
  if (profile.exitDevice) args.push('-device', profile.exitDevice);
  if (req.boot.image) {
    args.push(...imageArgs(req.boot, req.boot.image, profile, paths));
  } else if (req.boot.driveBoot) {
    // The firmware boots the machine's own drives (SeaBIOS by default; qboot boots only -kernel).
    args.push(...firmwareArgs(req.boot.firmware ?? 'bios', profile, paths));
  } else {
    if (profile.firmware && existsSync(profile.firmware)) args.push('-bios', profile.firmware);
    args.push('-kernel', req.boot.kernel);
    if (req.boot.initrd) args.push('-initrd', req.boot.initrd);
    args.push('-append', req.boot.cmdline);
  }
  if (req.boot.rootfs) {
    // NVMe: built into the cloud kernel (virtio-blk is a module there), so the kernel mounts the
    // root with no initramfs. snapshot=on: the guest writes to a throwaway overlay, never the cache.
    args.push('-drive', `file=${optionValue(req.boot.rootfs)},format=raw,if=none,id=root0,snapshot=on`,
      '-device', `nvme,serial=${ROOTFS_SERIAL},drive=root0`);
  }
  if (req.agent && paths.agentSocket) {
    // A virtio-serial controller (PCI: both pc and virt have it) with the agent's port on a socket
    // tsuite connects to; wait=off so QEMU never blocks on it.
    args.push('-device', 'virtio-serial-pci,id=vserial0',
      '-chardev', `socket,id=qga0,path=${optionValue(paths.agentSocket)},server=on,wait=off`,
      '-device', `virtserialport,bus=vserial0.0,chardev=qga0,name=${AGENT_PORT_NAME},id=${AGENT_PORT_ID}`);
  }
  // Drives, NICs (tsuite's own forwards included), shares, extra devices, then the raw arguments.
  args.push(...machineArgs(machine));
  return args;
}

/**
 * Firmware and drive for an image boot. The image's bootloader chooses kernel, initrd and command
 * line, so there is no -kernel/-append; and no -bios either: qboot boots only -kernel, so `bios`
 * is QEMU's own SeaBIOS.
 */
function imageArgs(boot: BootSpec, image: string, profile: ArchProfile, paths: QemuPaths): string[] {
  const { kind, firmware } = imageBoot(boot, image);
  const args = firmwareArgs(firmware, profile, paths);
  const file = optionValue(image);
  if (kind === 'iso') {
    // virtio-scsi: SeaBIOS, OVMF and AAVMF all boot a CD from it, and it needs only PCI (aarch64 virt has no IDE).
    args.push('-device', 'virtio-scsi-pci,id=scsi0',
      '-drive', `file=${file},format=raw,if=none,id=cd0,media=cdrom,readonly=on`,
      '-device', 'scsi-cd,drive=cd0,bus=scsi0.0');
  } else {
    // snapshot=on: the guest writes to a throwaway overlay, so the user's image is never modified.
    args.push('-drive', `file=${file},format=raw,if=none,id=disk0,snapshot=on`, '-device', 'virtio-blk-pci,drive=disk0');
  }
  return args;
}

/** UEFI as two pflash drives; SeaBIOS is QEMU's default, so `bios` needs nothing. */
function firmwareArgs(firmware: Firmware, profile: ArchProfile, paths: QemuPaths): string[] {
  if (firmware !== 'uefi') return [];
  if (!profile.uefi) throw new UsageError(`no UEFI firmware is known for ${profile.arch}`, 'use --firmware bios');
  return [
    '-drive', `if=pflash,format=raw,readonly=on,file=${optionValue(profile.uefi.code)}`,
    // The firmware writes its variables (BootOrder) at every boot: never into the system's template.
    '-drive', paths.uefiVars
      ? `if=pflash,format=raw,file=${optionValue(paths.uefiVars)}`
      : `if=pflash,format=raw,file=${optionValue(profile.uefi.vars)},snapshot=on`,
  ];
}

/** Resolution normally sets kind and firmware; a bare request falls back on the file name. */
function imageBoot(boot: BootSpec, image: string): { kind: ImageKind; firmware: Firmware } {
  const kind = boot.imageKind ?? (extname(image).toLowerCase() === '.iso' ? 'iso' : 'raw');
  return { kind, firmware: boot.firmware ?? defaultFirmware(kind) };
}

/**
 * Gives one machine its own writable UEFI variable store, a copy of the profile's template in the
 * session folder, so machines never share one and the system file is never written. Undefined when
 * the boot does not use UEFI.
 */
export async function sessionUefiVars(req: ProvisionRequest, profile: ArchProfile): Promise<string | undefined> {
  const firmware = req.boot.image ? imageBoot(req.boot, req.boot.image).firmware : req.boot.driveBoot ? req.boot.firmware ?? 'bios' : undefined;
  if (!profile.uefi || firmware !== 'uefi') return undefined;
  const vars = join(req.dir, 'uefi-vars.fd');
  await copyFile(profile.uefi.vars, vars);
  await chmod(vars, 0o644); // QEMU opens it read-write; the template may be read-only
  return vars;
}
