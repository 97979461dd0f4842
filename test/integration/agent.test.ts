import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildInitramfs } from '../../kernel/initramfs/build-initramfs.js';
import { fetchGuestAgent } from '../../kernel/reference/debian-guest-agent.js';
import { fetchReferenceGuest } from '../../kernel/reference/reference-guest.js';
import { profileFor } from '../../runners/qemu/profiles/index.js';
import { referenceRequest } from './reference-request.js';
import { qemuRunner } from '../../runners/qemu/qemu-runner.js';
import { AgentError, FILE_CHUNK_BYTES, type AgentClient } from '../../src/channels/agent.js';
import { InfraError } from '../../src/core/errors.js';
import { createProgress } from '../../src/core/progress.js';
import type { Session } from '../../src/core/session.js';
import { parseBootReport } from '../../src/parsers/boot-report.js';

/**
 * The agent channel against the real qemu-ga (Debian's qemu-guest-agent in the tsuite initramfs),
 * in the reference guest booted through the QEMU runner.
 */

const quiet = createProgress(process.stderr, true);

/** Boots the reference guest of `arch`; `withAgent: false` leaves qemu-ga out of the initramfs. */
async function bootGuest(arch: 'x86_64' | 'aarch64', name: string, withAgent = true): Promise<{ session: Session; release: string }> {
  const profile = profileFor(arch);
  const guest = await fetchReferenceGuest(profile, quiet);
  const extraFiles = withAgent ? (await fetchGuestAgent(arch, quiet)).files : [];
  const initrd = await buildInitramfs({ modulesDir: guest.kernel.modulesDir, release: guest.kernel.release, busybox: guest.busybox, extraFiles }, quiet);
  const req = referenceRequest(`agent-${name}`, arch, { kernel: guest.kernel.vmlinuz, initrd, cmdline: profile.defaultCmdline }, { agent: true });
  const session = await qemuRunner.provision(req, new AbortController().signal);
  // The agent's handshake may still be under way at the landmark.
  await session.settling;
  return { session, release: guest.kernel.release };
}

const text = (b: Buffer) => b.toString('utf8');

describe('agent channel on qemu-x86 (real qemu-ga)', () => {
  let session: Session;
  let release: string;
  let agent: AgentClient;

  beforeAll(async () => {
    ({ session, release } = await bootGuest('x86_64', 'x86'));
    agent = session.agent!;
  }, 300_000);
  afterAll(async () => {
    await session?.[Symbol.asyncDispose]();
  });

  it('is a channel of the session once the agent answered', async () => {
    expect(session.agentProblem).toBeUndefined();
    expect(session.channels.has('agent')).toBe(true);
    expect(parseBootReport(session.console.lines.map((l) => l.text))).toBeDefined();
    expect(session.console.lines.map((l) => l.text)).toContainEqual(expect.stringContaining('tsuite-boot: agent=qemu-ga'));
    await agent.ping();
  });

  it('guest-info: qemu-ga 7.2 with the commands of the tsuite subset enabled', async () => {
    const info = await agent.info();
    expect(info.version).toMatch(/^7\.2\b/);
    const enabled = new Set(info.commands.filter((c) => c.enabled).map((c) => c.name));
    for (const c of ['guest-sync-delimited', 'guest-ping', 'guest-info', 'guest-get-osinfo', 'guest-exec', 'guest-exec-status',
      'guest-file-open', 'guest-file-read', 'guest-file-write', 'guest-file-close', 'guest-shutdown']) expect(enabled, c).toContain(c);
    expect(info.commands.find((c) => c.name === 'guest-shutdown')?.successResponse).toBe(false);
  });

  it('guest-get-osinfo: the kernel the boot report names, and the guest os-release', async () => {
    const os = await agent.osInfo();
    const report = parseBootReport(session.console.lines.map((l) => l.text))!;
    expect(os.kernelRelease).toBe(report.release);
    expect(os.kernelRelease).toBe(release);
    expect(os.machine).toBe('x86_64');
    expect(os.id).toBe('tsuite');
  });

  it('exec captures stdout and the exit code', async () => {
    const r = await agent.exec(['/bin/busybox', 'uname', '-r']);
    expect(r).toMatchObject({ exitCode: 0, signal: undefined, truncated: false });
    expect(text(r.stdout)).toBe(`${release}\n`);
    expect(text(r.stderr)).toBe('');
  });

  it('exec reports a non-zero exit code and stderr', async () => {
    const r = await agent.exec(['/bin/sh', '-c', 'echo oops >&2; exit 3']);
    expect(r.exitCode).toBe(3);
    expect(text(r.stderr)).toBe('oops\n');
  });

  it('exec reports death by a signal', async () => {
    const r = await agent.exec(['/bin/sh', '-c', 'kill -9 $$']);
    expect(r.signal).toBe(9);
    expect(r.exitCode).toBeUndefined();
  });

  it('exec passes stdin through (binary bytes included)', async () => {
    const input = Buffer.concat([Buffer.from('line one\n'), randomBytes(3000), Buffer.from([0, 0xff, 0x0a])]);
    const r = await agent.exec(['/bin/cat'], { input });
    expect(r.exitCode).toBe(0);
    expect(r.stdout.equals(input)).toBe(true);
  });

  it('exec gives the command exactly the environment asked for', async () => {
    const r = await agent.exec(['/bin/sh', '-c', 'echo "$GREETING"; env | sort'], { env: { GREETING: 'hello agent', PATH: '/bin:/sbin' } });
    expect(r.exitCode).toBe(0);
    const [greeting, ...env] = text(r.stdout).trim().split('\n');
    expect(greeting).toBe('hello agent');
    expect(env).toContain('GREETING=hello agent');
    expect(env).toContain('PATH=/bin:/sbin');
    expect(env.filter((l) => l.startsWith('HOME='))).toEqual([]);
  });

  it('a program that does not exist is refused by the agent (AgentError, rejected)', async () => {
    const err = await agent.exec(['/nonexistent/program']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AgentError);
    expect(err).toMatchObject({ kind: 'rejected', command: 'guest-exec' });
  });

  it('writes a binary file in chunks and reads it back, with its mode', async () => {
    const data = randomBytes(FILE_CHUNK_BYTES * 3 + 1234);
    await agent.writeFile('/tmp/agent-blob', data, 0o750);
    expect((await agent.readFile('/tmp/agent-blob')).equals(data)).toBe(true);
    const st = await agent.exec(['stat', '-c', '%s %a', '/tmp/agent-blob']);
    expect(text(st.stdout).trim()).toBe(`${data.length} 750`);
    const sum = await agent.exec(['md5sum', '/tmp/agent-blob']);
    const { createHash } = await import('node:crypto');
    expect(text(sum.stdout).split(' ')[0]).toBe(createHash('md5').update(data).digest('hex'));
  });

  it('reading a file that does not exist is an AgentError (rejected)', async () => {
    const err = await agent.readFile('/tmp/no-such-file').catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'rejected', command: 'guest-file-open' });
    await agent.ping(); // the stream is still in step
  });

  it('the guest is what the probe contract promises: /tmp tmpfs, cgroup2 with memory and pids, lo up, user tsuite', async () => {
    const sh = async (cmd: string) => text((await agent.exec(['/bin/sh', '-c', cmd])).stdout);
    const mounts = await sh('cat /proc/mounts');
    expect(mounts).toMatch(/^tmpfs \/tmp tmpfs /m);
    expect(mounts).toMatch(/^cgroup2 \/sys\/fs\/cgroup cgroup2 /m);
    expect((await sh('cat /sys/fs/cgroup/cgroup.subtree_control')).split(/\s+/)).toEqual(expect.arrayContaining(['memory', 'pids']));
    expect(await sh('ip link show lo')).toMatch(/<LOOPBACK,UP,LOWER_UP>/);
    expect(await sh('id tsuite')).toMatch(/^uid=1000\(tsuite\) gid=1000\(tsuite\)/);
    expect(await sh('grep ^tsuite: /etc/passwd')).toBe('tsuite:x:1000:1000:tsuite:/tmp:/bin/sh\n');
    expect(await sh('umask')).toBe('0022\n');
  });

  it('guest-shutdown powers the guest off cleanly', async () => {
    await agent.shutdown();
    const exit = await session.ended!;
    expect(exit).toMatchObject({ kind: 'clean', code: 0 });
    // The machine is gone: the agent fails at once, as an InfraError.
    const err = await agent.ping().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InfraError);
    expect(err).toMatchObject({ kind: 'dead' });
  });
});

describe('agent killed mid-command (qemu-x86)', () => {
  let session: Session;
  beforeAll(async () => {
    ({ session } = await bootGuest('x86_64', 'kill'));
  }, 300_000);
  afterAll(async () => {
    await session?.[Symbol.asyncDispose]();
  });

  it('a command in flight ends in a clean AgentError (dead), not a hang or a time-out', async () => {
    const agent = session.agent!;
    const pid = await agent.execStart(['/bin/sleep', '30']);
    // qemu-ga runs this itself, so it dies while the host polls the sleep's status.
    await agent.execStart(['/bin/sh', '-c', 'sleep 0.5; kill -9 $(pidof qemu-ga)']);
    let err: unknown;
    for (let i = 0; i < 10_000 && !err; i++) err = await agent.execStatus(pid).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(AgentError);
    expect(err).toBeInstanceOf(InfraError);
    expect(err).toMatchObject({ kind: 'dead', message: expect.stringContaining('closed the agent port') });
    // Later calls fail at once too, and the machine itself is still up.
    await expect(agent.ping()).rejects.toMatchObject({ kind: 'dead' });
    expect(session.exit).toBeUndefined();
    expect(await session.shutdown('agent test')).toMatchObject({ kind: 'clean' });
  });
});

describe('a guest without an agent', () => {
  it('has no agent channel, and says why', async () => {
    const { session } = await bootGuest('x86_64', 'none', false);
    try {
      expect(session.channels.has('agent')).toBe(false);
      expect(session.agent).toBeUndefined();
      expect(session.agentProblem).toMatch(/no guest agent answered .* never opened the agent port/);
      expect(session.console.lines.map((l) => l.text)).toContainEqual(expect.stringContaining('tsuite-boot: agent=none'));
    } finally {
      await session[Symbol.asyncDispose]();
    }
  }, 120_000);
});

describe('agent channel on qemu-arm64 (real qemu-ga, aarch64)', () => {
  it('runs commands and moves files', async () => {
    const { session, release } = await bootGuest('aarch64', 'arm64');
    try {
      const agent = session.agent;
      expect(agent, session.agentProblem).toBeDefined();
      expect((await agent!.info()).version).toMatch(/^7\.2\b/);
      const r = await agent!.exec(['/bin/busybox', 'uname', '-rm']);
      expect(text(r.stdout)).toBe(`${release} aarch64\n`);
      const data = randomBytes(FILE_CHUNK_BYTES + 17);
      await agent!.writeFile('/tmp/blob', data);
      expect((await agent!.readFile('/tmp/blob')).equals(data)).toBe(true);
    } finally {
      await session[Symbol.asyncDispose]();
    }
  }, 180_000);
});
