import { describe, expect, it } from 'vitest';
import { ConsoleChannel } from '../../src/channels/console.js';
import { connectGuestDocker, type DockerGuest } from '../../runners/qemu/guest-docker.js';
import type { DockerRequest } from '../../src/core/runner.js';

/**
 * The wait before the docker channel connects: the guest's console decides whether and when the
 * runner tries the forwarded port. Nothing listens on the port here, so every case must end on
 * what the console says, without a connection attempt.
 */

const BOOT = ['[    2.9] Run /sbin/tsuite-node-init as init process', 'tsuite-boot: version=1', 'tsuite-boot: ready'];

function guest(): DockerGuest & { attached: number } {
  const console = new ConsoleChannel(Date.now());
  console.push(BOOT.join('\n') + '\n');
  return {
    console,
    landmarkLine: 2,
    attached: 0,
    attachDocker() {
      this.attached++;
    },
  };
}

const request = (extra: Partial<DockerRequest> = {}): DockerRequest => ({
  guestPort: 2375, readyPattern: /tsuite-node: dockerd ready/, readyTimeoutMs: 600_000, publishPorts: [], ...extra,
});
const ports = new Map([[2375, 1]]);
const signal = new AbortController().signal;

describe('connectGuestDocker waiting for the engine', () => {
  it('stops at once when the guest says dockerd failed, quoting what it said', async () => {
    const g = guest();
    const done = connectGuestDocker(g, request(), ports, signal);
    g.console.push('tsuite-node: dockerd.log: level=fatal msg="failed to start daemon: no space left"\n');
    g.console.push('tsuite-node: dockerd failed: dockerd exited (last log line: level=fatal)\n');
    await done;
    expect(g.attached).toBe(0);
    expect(g.dockerProblem).toContain('no Docker Engine API at tcp://127.0.0.1:1 (guest port 2375)');
    expect(g.dockerProblem).toContain("the guest's engine did not start: tsuite-node: dockerd failed: dockerd exited");
    expect(g.dockerProblem).toContain('the guest said: tsuite-node: dockerd.log: level=fatal msg="failed to start daemon: no space left"');
    expect(g.dockerReadyMs).toBeUndefined();
  });

  it('treats a failure line that the ready pattern also matches as a failure', async () => {
    const g = guest();
    const done = connectGuestDocker(g, request({ readyPattern: /tsuite-node: dockerd (?:ready|failed)/ }), ports, signal);
    g.console.push('tsuite-node: dockerd failed: the API did not answer within 180 s\n');
    await done;
    expect(g.attached).toBe(0);
    expect(g.dockerProblem).toContain('did not start: tsuite-node: dockerd failed: the API did not answer within 180 s');
  });

  it('gives up after readyTimeoutMs when no line comes, saying the guest printed nothing', async () => {
    const g = guest();
    await connectGuestDocker(g, request({ readyTimeoutMs: 50 }), ports, signal);
    expect(g.dockerProblem).toContain('no console line matched /tsuite-node: dockerd ready/ within 50 ms after the boot landmark');
    expect(g.dockerProblem).toContain('the guest printed nothing about its engine');
  });

  it('gives up when the machine ends before the engine is ready', async () => {
    const g = guest();
    const done = connectGuestDocker(g, request(), ports, signal);
    g.console.end();
    await done;
    expect(g.dockerProblem).toContain('the machine ended before its engine was ready');
  });

  it('rethrows an abort instead of recording a problem', async () => {
    const g = guest();
    const abort = new AbortController();
    const done = connectGuestDocker(g, request(), ports, abort.signal);
    abort.abort(new Error('run interrupted'));
    await expect(done).rejects.toThrow('run interrupted');
    expect(g.dockerProblem).toBeUndefined();
  });
});
