import { defineProfile } from '../arch-profile.js';

export default defineProfile({
  arch: 'aarch64',
  qemuBinary: 'qemu-system-aarch64',
  // `virt`: PCIe (gpex), PL011 UART, PSCI, a device tree; no firmware needed for -kernel.
  machine: 'virt',
  // cortex-a57 under TCG: `max` emulates pointer authentication and boots ~4× slower.
  cpu: { kvm: 'host', tcg: 'cortex-a57' },
  consoleDevice: 'ttyAMA0',
  // No exit device: a Linux guest powers off through PSCI SYSTEM_OFF (QMP SHUTDOWN, QEMU status 0);
  // a bare kernel would use semihosting SYS_EXIT, which is not wired (see ../EXIT-DEVICES.md).
  defaultCmdline: 'console=ttyAMA0 panic=-1',
  referenceKernelPackage: 'linux-image-cloud-arm64',
  // Used as is on an aarch64 host; elsewhere kernel/reference/reference-guest.ts fetches Debian's
  // busybox-static for arm64 into the cache instead.
  busybox: '/bin/busybox',
});
