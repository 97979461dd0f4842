import { readFile } from 'node:fs/promises';
import { InfraError } from '../../src/core/errors.js';
import { execOk } from '../../src/core/exec.js';
import type { Progress } from '../../src/core/progress.js';
import { fetchBusybox } from '../../kernel/reference/reference-guest.js';
import { hostArch, isForeignArch } from '../../kernel/reference/foreign-apt.js';
import { profileFor } from '../../runners/qemu/profiles/index.js';
import type { LayerEntry } from './layer-tar.js';

/** Users every image has: root, nobody (65534, as Debian and Alpine number it) and tsuite (1000), the probes' unprivileged uid. */
export const PASSWD = ['root:x:0:0:root:/root:/bin/sh', 'nobody:x:65534:65534:nobody:/nonexistent:/bin/false', 'tsuite:x:1000:1000:tsuite:/home/tsuite:/bin/sh'];
export const GROUP = ['root:x:0:', 'tsuite:x:1000:', 'nogroup:x:65534:'];

/**
 * Applet names read from the binary itself: busybox keeps them as one sorted, NUL-separated
 * table starting with `[` and `[[`. For a foreign arch, whose busybox cannot run here.
 */
export function appletsFromBinary(binary: Buffer): string[] {
  const start = binary.indexOf(Buffer.from('\0[\0[[\0'));
  if (start < 0) return [];
  const names: string[] = [];
  let at = start + 1;
  for (;;) {
    const end = binary.indexOf(0, at);
    const name = binary.subarray(at, end).toString('latin1');
    // The table ends where the sorted run of plausible names ends.
    if (!/^[\w.[\]-]+$/.test(name) || (names.length > 0 && name <= names[names.length - 1]!)) break;
    names.push(name);
    at = end + 1;
  }
  return names;
}

/** Applet paths (`usr/bin/awk`) from `busybox --list-full`, or every applet in /bin for a foreign arch. */
async function appletPaths(arch: string, binary: string): Promise<string[]> {
  if (!isForeignArch(arch, hostArch())) {
    return (await execOk(binary, ['--list-full'], { fix: 'reinstall busybox-static (`apt-get install --reinstall busybox-static`)' }))
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
  }
  return appletsFromBinary(await readFile(binary)).map((n) => `bin/${n}`);
}

/**
 * Debian's static busybox for `arch` (the one the reference initramfs uses), an absolute symlink
 * per applet, the users and groups above, and the folders a container's root is expected to have.
 */
export async function busyboxEntries(arch: string, progress: Progress): Promise<LayerEntry[]> {
  const binary = await fetchBusybox(profileFor(arch), progress);
  const applets = await appletPaths(arch, binary);
  if (!applets.some((p) => p === 'bin/sh')) throw new InfraError(`busybox at ${binary} has no sh applet`, 'install Debian\'s busybox-static (`npx tsuite setup`)');
  return [
    { type: 'file', path: '/bin/busybox', content: await readFile(binary), mode: 0o755 },
    ...applets.filter((p) => p !== 'bin/busybox').map((p): LayerEntry => ({ type: 'symlink', path: `/${p}`, target: '/bin/busybox' })),
    { type: 'file', path: '/etc/passwd', content: Buffer.from(PASSWD.join('\n') + '\n'), mode: 0o644 },
    { type: 'file', path: '/etc/group', content: Buffer.from(GROUP.join('\n') + '\n'), mode: 0o644 },
    { type: 'dir', path: '/tmp', mode: 0o1777 },
    { type: 'dir', path: '/root', mode: 0o700 },
    { type: 'dir', path: '/home/tsuite', mode: 0o755, uid: 1000, gid: 1000 },
    ...['/proc', '/sys', '/dev', '/etc', '/run', '/var', '/usr/local/bin'].map((path): LayerEntry => ({ type: 'dir', path, mode: 0o755 })),
  ];
}
