import { describe, expect, it } from 'vitest';
import { ConsoleChannel } from '../../src/channels/console.js';
import { InfraError } from '../../src/core/errors.js';
import { parseGuestSshdLine, waitForGuestSshd } from '../../runners/qemu/guest-sshd.js';

/** The container host's sshd line (kernel/node/node-init.sh), as a qemu-x86-node boot printed it (captured from console.log). */
const CAPTURED = 'tsuite-node: sshd ready on port 22, host key SHA256:n2hEA4fu3lfXzrjftrA10F+jW+BeC/3U7I3YKNPt7jg (3.9 s)';

describe('the guest sshd line', () => {
  it('gives the port and the host key fingerprint of a captured line', () => {
    expect(parseGuestSshdLine(CAPTURED)).toEqual({ port: 22, hostKeyFingerprint: 'SHA256:n2hEA4fu3lfXzrjftrA10F+jW+BeC/3U7I3YKNPt7jg' });
  });

  it('gives the reason of a failure line, and nothing for other lines or a cut fingerprint', () => {
    expect(parseGuestSshdLine('tsuite-node: sshd failed: sshd exited at start')).toEqual({ failed: 'sshd exited at start' });
    expect(parseGuestSshdLine('tsuite-node: dockerd ready after 12.1 s')).toBeUndefined();
    expect(parseGuestSshdLine('tsuite-node: sshd ready on port 22, host key SHA256:n2hEA4fu3lfXzrjftrA10F')).toBeUndefined();
  });

  it('waits for the line on the console', async () => {
    const console = new ConsoleChannel(Date.now());
    console.push('tsuite-boot: ready\n');
    const waiting = waitForGuestSshd(console, 5_000);
    console.push(`${CAPTURED}\n`);
    expect((await waiting).hostKeyFingerprint).toBe('SHA256:n2hEA4fu3lfXzrjftrA10F+jW+BeC/3U7I3YKNPt7jg');
  });

  it('is an InfraError naming what the guest said when sshd failed, or when no line came', async () => {
    const console = new ConsoleChannel(Date.now());
    console.push('tsuite-node: sshd.log: /run/tsuite-sshd/ssh_host_ed25519_key: invalid format\ntsuite-node: sshd failed: sshd exited at start\n');
    const failed = await waitForGuestSshd(console, 1_000).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(InfraError);
    expect((failed as Error).message).toMatch(/did not start: sshd exited at start \(tsuite-node: sshd\.log: .*invalid format\)/);
    const silent = await waitForGuestSshd(new ConsoleChannel(Date.now()), 50).catch((e: unknown) => e);
    expect(silent).toBeInstanceOf(InfraError);
    expect((silent as Error).message).toMatch(/never reported on the console \(no console line matched .* within 50 ms\)/);
  });
});
