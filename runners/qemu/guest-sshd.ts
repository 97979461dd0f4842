import type { ConsoleChannel } from '../../src/channels/console.js';
import { ConsoleClosed, ExpectTimeout } from '../../src/channels/console.js';
import { InfraError } from '../../src/core/errors.js';

/**
 * The container host's sshd as its init reports it on the console (kernel/node/node-init.sh): the
 * guest port it listens on and the SHA256 fingerprint of the host key made at this boot. That line
 * is the only trustworthy source of the key (it comes over the console, not over the network the
 * key is meant to secure), so it is what an `ssh` target's `hostKeyFingerprint` pins.
 */
export const GUEST_SSHD_LINE = /tsuite-node: sshd (?:ready on port (\d+), host key (SHA256:[A-Za-z0-9+/]{43})\b|failed: (.*))/;

export interface GuestSshd {
  /** The guest port sshd listens on (forward it to reach it from the host). */
  port: number;
  /** `SHA256:…`, as `ssh-keygen -lf` prints it: the value for `ssh.hostKeyFingerprint`. */
  hostKeyFingerprint: string;
}

/** The sshd line's meaning: ready (port and fingerprint), failed (the guest's reason), or not an sshd line. */
export function parseGuestSshdLine(text: string): GuestSshd | { failed: string } | undefined {
  const m = GUEST_SSHD_LINE.exec(text);
  if (!m) return undefined;
  if (m[3] !== undefined) return { failed: m[3].trim() };
  return { port: Number(m[1]), hostKeyFingerprint: m[2]! };
}

/**
 * Waits for the guest's sshd line and returns its port and host key fingerprint; a failure line,
 * the machine ending or no line in time is an InfraError saying what the guest said.
 */
export async function waitForGuestSshd(console: ConsoleChannel, timeoutMs: number, signal?: AbortSignal): Promise<GuestSshd> {
  let found;
  try {
    found = await console.expect(GUEST_SSHD_LINE, { timeoutMs, signal });
  } catch (err) {
    if (err instanceof ExpectTimeout || err instanceof ConsoleClosed) {
      throw new InfraError(`the guest's sshd never reported on the console (${err.message})`,
        'boot the container host rootfs (rootfs: \'node\', which runs sshd) and rebuild it with `npx tsuite setup` if it predates openssh-server');
    }
    throw err;
  }
  const parsed = parseGuestSshdLine(found.line.text)!;
  if ('failed' in parsed) {
    const said = console.lines.map((l) => l.text).filter((t) => t.includes('tsuite-node: sshd.log:'));
    throw new InfraError(`the guest's sshd did not start: ${parsed.failed}${said.length ? ` (${said.join('; ')})` : ''}`,
      'see /var/log/sshd.log in the guest (through the agent) and kernel/node/node-init.sh');
  }
  return parsed;
}
