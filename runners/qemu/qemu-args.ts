import { existsSync } from 'node:fs';
import type { ProvisionRequest } from '../../src/core/runner.js';
import type { ArchProfile } from './arch-profile.js';

export interface QemuPaths {
  consoleLog: string;
  qmpSocket: string;
}

/** QEMU splits option values on ',' and reads ',,' as a literal comma. */
const optionValue = (path: string) => path.replace(/,/g, ',,');

/** Guest port → host port, for user-mode networking. */
export type PortMap = ReadonlyMap<number, number>;

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
  const args = [
    '-nodefaults', '-no-user-config', '-display', 'none',
    // A guest reset (panic=-1, triple fault) ends QEMU instead of rebooting forever.
    '-no-reboot',
    '-accel', accel,
    '-M', profile.machine,
    '-cpu', profile.cpu[accel],
    '-smp', String(req.cpus),
    '-m', String(req.memoryMb),
    // The console log is written by QEMU itself, so it holds every byte even if tsuite dies.
    '-chardev', `stdio,id=console0,signal=off,logfile=${optionValue(paths.consoleLog)}`,
    '-serial', 'chardev:console0',
    '-qmp', `unix:${optionValue(paths.qmpSocket)},server=on,wait=off`,
  ];
  if (profile.exitDevice) args.push('-device', profile.exitDevice);
  if (profile.firmware && existsSync(profile.firmware)) args.push('-bios', profile.firmware);
  args.push('-kernel', req.boot.kernel);
  if (req.boot.initrd) args.push('-initrd', req.boot.initrd);
  args.push('-append', req.boot.cmdline);
  if (ports.size > 0) {
    const fwd = [...ports].map(([guest, host]) => `,hostfwd=tcp:127.0.0.1:${host}-:${guest}`).join('');
    args.push('-netdev', `user,id=net0${fwd}`, '-device', 'virtio-net-pci,netdev=net0');
  }
  return args;
}
