import { defineProfile } from '../arch-profile.js';

export default defineProfile({
  arch: 'x86_64',
  qemuBinary: 'qemu-system-x86_64',
  machine: 'pc',
  cpu: { kvm: 'host', tcg: 'qemu64' },
  consoleDevice: 'ttyS0',
  firmware: '/usr/share/qemu/qboot.rom',
  // Debian's ovmf package; the 4 MiB build is the one it recommends.
  uefi: { code: '/usr/share/OVMF/OVMF_CODE_4M.fd', vars: '/usr/share/OVMF/OVMF_VARS_4M.fd' },
  exitDevice: 'isa-debug-exit,iobase=0xf4,iosize=0x04',
  // panic=-1: reboot at once on panic, which -no-reboot turns into QEMU exiting.
  defaultCmdline: 'console=ttyS0 panic=-1',
  referenceKernelPackage: 'linux-image-cloud-amd64',
  busybox: '/bin/busybox',
});
