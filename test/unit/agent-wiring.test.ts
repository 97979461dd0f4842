import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { buildInitramfs, type ExtraFile } from '../../kernel/initramfs/build-initramfs.js';
import aarch64 from '../../runners/qemu/profiles/aarch64.js';
import x86_64 from '../../runners/qemu/profiles/x86_64.js';
import { AGENT_PORT_ID, AGENT_PORT_NAME, qemuArgs } from '../../runners/qemu/qemu-args.js';
import { InfraError } from '../../src/core/errors.js';
import { createProgress } from '../../src/core/progress.js';
import type { ProvisionRequest } from '../../src/core/runner.js';
import { BOOT_REPORT_READY } from '../../src/parsers/boot-report.js';
import { LINUX_EVENT_PATTERNS } from '../../src/parsers/kernel-events.js';

/** How a machine gets the agent port, and how the agent's files get into the initramfs. */

const request = (arch: string, agent?: boolean): ProvisionRequest => ({
  sessionId: 's1',
  dir: '/tmp/run/s1',
  arch,
  boot: { kernel: '/k', initrd: '/i', cmdline: 'console=ttyS0' },
  cpus: 1,
  memoryMb: 256,
  accel: 'tcg',
  landmark: BOOT_REPORT_READY,
  bootTimeoutMs: 1000,
  eventPatterns: LINUX_EVENT_PATTERNS,
  agent,
});
const paths = { qmpSocket: '/tmp/q/qmp.sock', agentSocket: '/tmp/q/qga.sock' };

describe('QEMU arguments for the agent port', () => {
  for (const profile of [x86_64, aarch64]) {
    it(`${profile.arch}: a virtio-serial controller, the chardev socket and the named port, when asked`, () => {
      const args = qemuArgs(request(profile.arch, true), profile, 'tcg', paths).join(' ');
      expect(args).toContain('-device virtio-serial-pci,id=vserial0');
      expect(args).toContain('-chardev socket,id=qga0,path=/tmp/q/qga.sock,server=on,wait=off');
      expect(args).toContain(`-device virtserialport,bus=vserial0.0,chardev=qga0,name=${AGENT_PORT_NAME},id=${AGENT_PORT_ID}`);
      expect(args.indexOf('virtio-serial-pci')).toBeLessThan(args.indexOf('virtserialport'));
    });
  }

  it('none unless the request asks for the agent', () => {
    expect(qemuArgs(request('x86_64'), x86_64, 'tcg', paths).join(' ')).not.toMatch(/virtio-serial|qga0/);
    expect(qemuArgs(request('x86_64', true), x86_64, 'tcg', { ...paths, agentSocket: undefined }).join(' ')).not.toMatch(/qga0/);
  });

  it('a comma in the socket path is escaped for QEMU', () => {
    const args = qemuArgs(request('x86_64', true), x86_64, 'tcg', { ...paths, agentSocket: '/tmp/a,b/qga.sock' });
    expect(args).toContain('socket,id=qga0,path=/tmp/a,,b/qga.sock,server=on,wait=off');
  });
});

describe('buildInitramfs extraFiles', () => {
  const root = mkdtempSync(join(tmpdir(), 'tsuite-agent-initramfs-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const quiet = createProgress(process.stderr, true);
  mkdirSync(join(root, 'modules', 'kernel'), { recursive: true });
  const file = (name: string, content: string) => {
    writeFileSync(join(root, name), content);
    return join(root, name);
  };
  const base = { modulesDir: join(root, 'modules'), release: '6.1.0-test', busybox: file('busybox', 'not really busybox'), init: file('init.sh', '#!/bin/sh\n'), modules: [] };
  const build = (extraFiles: ExtraFile[]) => buildInitramfs({ ...base, extraFiles }, quiet, join(root, 'cache'));
  /** `path mode` of each entry in the archive. */
  const listing = (image: string) => {
    const out = execFileSync('cpio', ['-itv', '--quiet'], { input: gunzipSync(readFileSync(image)), encoding: 'utf8' });
    return out.split('\n').filter(Boolean).map((l) => `${l.split(/\s+/).at(-1)} ${l.split(/\s+/)[0]}`);
  };

  it('puts each file at its guest path with its mode', async () => {
    const image = await build([
      { from: file('agent', 'agent binary'), to: '/usr/sbin/qemu-ga', mode: 0o755 },
      { from: file('lib', 'a library'), to: '/lib/x86_64-linux-gnu/libc.so.6', mode: 0o644 },
    ]);
    const entries = listing(image);
    expect(entries).toContain('usr/sbin/qemu-ga -rwxr-xr-x');
    expect(entries).toContain('lib/x86_64-linux-gnu/libc.so.6 -rw-r--r--');
    expect(entries).toContain('init -rwxr-xr-x');
  });

  it('is cached by content, destination and mode of every extra file', async () => {
    const agent = file('agent2', 'agent v1');
    const first = await build([{ from: agent, to: '/usr/sbin/qemu-ga', mode: 0o755 }]);
    expect(await build([{ from: agent, to: '/usr/sbin/qemu-ga', mode: 0o755 }])).toBe(first);
    const moved = await build([{ from: agent, to: '/usr/bin/qemu-ga', mode: 0o755 }]);
    const chmodded = await build([{ from: agent, to: '/usr/sbin/qemu-ga', mode: 0o700 }]);
    writeFileSync(agent, 'agent v2');
    const changed = await build([{ from: agent, to: '/usr/sbin/qemu-ga', mode: 0o755 }]);
    expect(new Set([first, moved, chmodded, changed]).size).toBe(4);
  });

  it('refuses destinations outside the image, and missing sources, naming them', async () => {
    const from = file('x', 'x');
    for (const to of ['relative/path', '../escape', '/']) {
      await expect(build([{ from, to }])).rejects.toThrow(InfraError);
    }
    await expect(build([{ from: join(root, 'absent'), to: '/x' }])).rejects.toThrow(/initramfs file not found: .*absent/);
  });
});
