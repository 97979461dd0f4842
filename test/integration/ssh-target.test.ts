import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SshChannel, SshError, type SshEndpoint } from '../../src/channels/ssh.js';
import type { RunResult } from '../../src/core/result.js';
import { hostSshdUnavailable, startHostSshd, type HostSshd } from '../support/host-sshd.js';
import { startCli, tempDir } from './cli.js';
import { HANG_SUITE } from './hang-suite.js';

/**
 * The ssh channel and the `ssh` target against Debian's OpenSSH server, started on this host in a
 * network namespace of the test's own (test/support/host-sshd.ts): commands, SFTP, timeouts that
 * kill the remote command, and each fault (changed or unknown host key, refused key, a connection
 * dropped mid-command) as a clear SshError / infraError, never a hang. Then the real CLI runs the
 * syscall and isolation suites there and must agree with the `local` target test for test.
 */
const unavailable = hostSshdUnavailable();
let sshd: HostSshd;
const open: SshChannel[] = [];

const endpoint = (over: Partial<SshEndpoint> = {}): SshEndpoint => ({
  host: sshd.host, port: sshd.port, user: sshd.user, privateKey: sshd.clientKey, knownHosts: sshd.knownHosts, ...over,
});

async function connected(over: Partial<SshEndpoint> = {}): Promise<SshChannel> {
  const ssh = await SshChannel.connect(endpoint(over));
  open.push(ssh);
  return ssh;
}

/** Live processes on this host (the test sshd shares its pid namespace) whose command line contains (or, `atStart`, begins with) `marker`. */
function processesWith(marker: string, atStart = false): number[] {
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2)[0] === 'Z') return false;
      const cmdline = readFileSync(`/proc/${p}/cmdline`, 'utf8').replaceAll('\0', ' ');
      return atStart ? cmdline.startsWith(marker) : cmdline.includes(marker);
    } catch {
      return false;
    }
  }).map(Number);
}

async function rejection(p: Promise<unknown>): Promise<SshError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(SshError);
  return err as SshError;
}

describe.skipIf(unavailable !== undefined)(`the ssh channel and target against OpenSSH${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  beforeAll(async () => {
    sshd = await startHostSshd();
  });
  afterAll(async () => {
    for (const s of open) s.close();
    await sshd?.stop();
  });

  it('runs commands (exit code, signal, stdout, stderr, stdin) and moves files by SFTP', async () => {
    const ssh = await connected();
    expect(ssh.hostKey.fingerprint).toBe(sshd.hostKeyFingerprint);
    const r = await ssh.exec('echo out; echo err >&2; exit 3');
    expect(r).toMatchObject({ exitCode: 3, truncated: false });
    expect(r.stdout.toString()).toBe('out\n');
    expect(r.stderr.toString()).toBe('err\n');
    expect(await ssh.exec('kill -TERM $$')).toMatchObject({ exitCode: undefined, signal: 'SIGTERM' });
    expect((await ssh.exec('tr a-z A-Z', { input: 'hello' })).stdout.toString()).toBe('HELLO');
    const dir = (await ssh.exec('mktemp -d')).stdout.toString().trim();
    const data = Buffer.from(Array.from({ length: 300_000 }, (_, i) => i % 251));
    await ssh.writeFile(`${dir}/blob`, data, 0o750);
    expect((await ssh.exec(`stat -c %a ${dir}/blob`)).stdout.toString().trim()).toBe('750');
    expect((await ssh.readFile(`${dir}/blob`)).equals(data)).toBe(true);
    await ssh.ping();
    await ssh.exec(`rm -rf ${dir}`);
  });

  it('logs in with the keys of an SSH agent (SSH_AUTH_SOCK) when the target names no key file', async () => {
    const sock = join(sshd.dir, 'agent.sock');
    const agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
    const saved = process.env.SSH_AUTH_SOCK;
    try {
      for (let i = 0; i < 50 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 100));
      execFileSync('ssh-add', ['-q', sshd.clientKey], { env: { ...process.env, SSH_AUTH_SOCK: sock }, stdio: 'ignore' });
      process.env.SSH_AUTH_SOCK = sock;
      const ssh = await connected({ privateKey: undefined });
      expect((await ssh.exec('id -un')).stdout.toString()).toBe('root\n');
    } finally {
      if (saved === undefined) delete process.env.SSH_AUTH_SOCK;
      else process.env.SSH_AUTH_SOCK = saved;
      agent.kill('SIGTERM');
    }
  });

  it('kills a command past its time limit on the machine, with what it started (setsid included)', async () => {
    const ssh = await connected();
    const started = Date.now();
    const err = await rejection(ssh.exec('sleep 7391 & setsid sleep 7392 & wait', { timeoutMs: 1_500 }));
    expect(err.kind).toBe('timeout');
    expect(err.message).toMatch(/still running .* after 1500 ms; it was killed/);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(processesWith('sleep 7391')).toEqual([]);
    expect(processesWith('sleep 7392')).toEqual([]);
  });

  it('refuses a host whose key changed, naming the host, the fingerprint seen and the fix', async () => {
    const err = await rejection(connected({ knownHosts: sshd.wrongKnownHosts }));
    expect(err.kind).toBe('host-key');
    expect(err.message).toContain(`[${sshd.host}]:${sshd.port}`);
    expect(err.message).toContain(sshd.hostKeyFingerprint);
    expect(err.message).toMatch(/CHANGED/);
    expect(err.fix).toMatch(/ssh-keygen -R/);
  });

  it('refuses an unknown host and a wrong pin; accepts the right pin without known_hosts', async () => {
    const empty = join(sshd.dir, 'known_hosts.empty');
    writeFileSync(empty, '');
    const unknown = await rejection(connected({ knownHosts: empty }));
    expect(unknown.message).toMatch(/is not in .*known_hosts\.empty; it presented ssh-ed25519 SHA256:/);
    expect(unknown.fix).toContain(`hostKeyFingerprint: '${sshd.hostKeyFingerprint}'`);
    const wrongPin = await rejection(connected({ knownHosts: empty, hostKeyFingerprint: 'SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s' }));
    expect(wrongPin.message).toMatch(/not the pinned SHA256:uNiV/);
    const pinned = await connected({ knownHosts: empty, hostKeyFingerprint: sshd.hostKeyFingerprint });
    expect((await pinned.exec('echo ok')).stdout.toString()).toBe('ok\n');
  });

  it('reports a refused key as an auth error that never shows the key', async () => {
    const err = await rejection(connected({ privateKey: sshd.refusedKey }));
    expect(err.kind).toBe('auth');
    expect(err.message).toMatch(/refused the key in .*refused/);
    expect(err.fix).toMatch(/authorized_keys/);
    const key = readFileSync(sshd.refusedKey, 'utf8').split('\n').slice(1, -2).join('');
    expect(`${err.message} ${err.fix}`).not.toContain(key.slice(0, 40));
  });

  it('fails a command whose connection is dropped under it, at once and without hanging', async () => {
    const ssh = await connected();
    const running = ssh.exec('sleep 7393', { timeoutMs: 60_000 });
    // The sshd serving this connection (a child of the listener) dies: as a machine or link would.
    for (let i = 0; i < 50 && processesWith('sleep 7393').length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    for (const pid of sshd.connectionPids()) process.kill(pid, 'SIGKILL');
    const err = await rejection(running);
    expect(err.kind).toBe('dropped');
    expect(err.message).toMatch(new RegExp(`to root@${sshd.host.replaceAll('.', '\\.')}:${sshd.port} dropped|ended without an exit status`));
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(ssh.isClosed).toBe(true);
    for (const pid of processesWith('sleep 7393')) process.kill(pid, 'SIGKILL');
  });

  it('notices a connection that went silent (keepalives unanswered) and fails the command, without a hang', async () => {
    const ssh = await connected();
    const running = ssh.exec('sleep 7395', { timeoutMs: 120_000 });
    for (let i = 0; i < 50 && processesWith('sleep 7395', true).length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    // A machine that froze or a link that went dark: the server side stops answering, nothing closes.
    const frozen = sshd.connectionTrees();
    const signal = (pid: number, sig: NodeJS.Signals) => {
      try {
        process.kill(pid, sig);
      } catch {
        // it ended between the listing and the signal
      }
    };
    for (const pid of frozen) signal(pid, 'SIGSTOP');
    const started = Date.now();
    try {
      const err = await rejection(running);
      expect(err.kind).toBe('dropped');
      expect(err.message).toMatch(/dropped \(Keepalive timeout\)/);
      expect(Date.now() - started).toBeLessThan(30_000);
    } finally {
      for (const pid of frozen) signal(pid, 'SIGKILL');
    }
  }, 60_000);
});

describe.skipIf(unavailable !== undefined)(`tsuite run on an ssh target${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  let configDir: string;
  beforeAll(async () => {
    sshd = await startHostSshd();
    configDir = tempDir('ssh-config');
    const ssh = { host: sshd.host, port: sshd.port, user: sshd.user, privateKey: sshd.clientKey, knownHosts: sshd.knownHosts };
    const config = {
      targets: {
        lab: { runner: 'ssh', ssh },
        'lab-changed': { runner: 'ssh', ssh: { ...ssh, knownHosts: sshd.wrongKnownHosts } },
        'lab-refused': { runner: 'ssh', ssh: { ...ssh, privateKey: sshd.refusedKey } },
      },
    };
    writeFileSync(join(configDir, 'tsuite.config.ts'), `export default ${JSON.stringify(config, null, 2)};\n`);
    mkdirSync(join(configDir, 'tsuite'));
    writeFileSync(join(configDir, 'tsuite', 'hang.suite.ts'), HANG_SUITE);
  });
  const made: string[] = [];
  afterAll(async () => {
    await sshd?.stop();
    for (const d of [configDir, ...made]) if (d) rmSync(d, { recursive: true, force: true });
  });

  function cli(args: string[]) {
    const out = tempDir('ssh-run');
    made.push(out);
    const run = startCli(['run', '-r', 'json', '--output-dir', out, ...args], {}, configDir);
    return { ...run, out, results: () => JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as RunResult };
  }

  const statuses = (r: RunResult) => new Map(r.tests.map((t) => [t.id, t.status]));

  it('runs the syscall and isolation suites there with the same tests and statuses as the local target', async () => {
    const local = cli(['--target', 'local', '--suite', 'syscall,isolation']);
    expect((await local.done).stderr).not.toMatch(/infraError/);
    const remote = cli(['--target', 'lab', '--suite', 'syscall,isolation']);
    const res = await remote.done;
    const r = remote.results();
    expect(r.summary.infraError + r.summary.parseError + r.summary.crashed + r.summary.timedOut).toBe(0);
    expect(r.summary.total).toBeGreaterThan(500);
    expect(statuses(r)).toEqual(statuses(local.results()));
    expect(res.code).toBe(local.results().summary.failed > 0 ? 1 : 0);
    // The machine's kernel as the session found it; the session's evidence; its scratch dir gone from the machine.
    expect(r.run.kernel).toMatchObject({ source: 'endpoint', version: release() });
    const evidence = JSON.parse(readFileSync(join(remote.out, r.sessions[0]!.id, 'ssh.json'), 'utf8')) as { scratchRoot: string; hostKey: { fingerprint: string } };
    expect(evidence.hostKey.fingerprint).toBe(sshd.hostKeyFingerprint);
    expect(evidence.scratchRoot).toMatch(/\/tsuite-ssh-/);
    expect(existsSync(evidence.scratchRoot)).toBe(false);
    expect(readFileSync(join(remote.out, r.sessions[0]!.id, 'console.log'), 'utf8')).toMatch(/^tsuite-ssh: ready$/m);
  }, 240_000);

  it('a changed host key or a refused key makes every test infraError, saying why', async () => {
    for (const [target, message] of [['lab-changed', /host key of .* has CHANGED.*SHA256:/], ['lab-refused', /refused the key in/]] as const) {
      const run = cli(['--target', target, '--suite', 'isolation']);
      const res = await run.done;
      const r = run.results();
      expect(res.code).toBe(3);
      expect(r.tests.length).toBeGreaterThan(0);
      for (const t of r.tests) {
        expect(t.status).toBe('infraError');
        expect(t.error?.message).toMatch(message);
      }
    }
  }, 60_000);

  it('a connection dropped mid-command makes the test infraError, without a hang', async () => {
    const run = cli(['--target', 'lab', '--suite-files', join(configDir, 'tsuite', 'hang.suite.ts'), '--suite', 'hang']);
    for (let i = 0; i < 300 && processesWith('sleep 7394').length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(processesWith('sleep 7394').length).toBeGreaterThan(0);
    const cut = Date.now();
    for (const pid of sshd.connectionPids()) process.kill(pid, 'SIGKILL');
    await run.done;
    expect(Date.now() - cut).toBeLessThan(20_000);
    const t = run.results().tests.find((x) => x.id === 'hang/sleeps')!;
    expect(t.status).toBe('infraError');
    expect(t.error?.message).toMatch(/dropped|without an exit status/);
    // The command itself outlives its connection (sshd does not kill it): not tsuite's to reach any more.
    for (const pid of processesWith('sleep 7394')) process.kill(pid, 'SIGKILL');
  }, 60_000);
});
