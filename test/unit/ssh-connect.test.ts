import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SshChannel, SshError } from '../../src/channels/ssh.js';
import { UsageError } from '../../src/core/errors.js';

/** What fails before any server answers: key files and the way to log in. Nothing listens on the ports used. */
const dir = mkdtempSync(join(tmpdir(), 'tsuite-test-sshkey-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const SECRET = 'correct horse battery staple';

describe.skipIf(!existsSync('/usr/bin/ssh-keygen'))('ssh connection set-up', () => {
  it('an encrypted key without a passphrase is an auth error naming the fix, never the key or its passphrase', async () => {
    const key = join(dir, 'enc');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', SECRET, '-C', 'x', '-f', key]);
    const err = await SshChannel.connect({ host: '127.0.0.1', port: 1, user: 'u', privateKey: key, hostKeyFingerprint: 'SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SshError);
    expect((err as SshError).kind).toBe('auth');
    expect((err as SshError).fix).toMatch(/TSUITE_SSH_KEY_PASSPHRASE|ssh-add/);
    const body = readFileSync(key, 'utf8').split('\n')[1]!;
    expect(`${(err as Error).message} ${(err as SshError).fix}`).not.toContain(body.slice(0, 30));
  });

  it('no key and no agent is a usage error; an unreadable key file names the file', async () => {
    const saved = process.env.SSH_AUTH_SOCK;
    delete process.env.SSH_AUTH_SOCK;
    try {
      await expect(SshChannel.connect({ host: 'h', user: 'u' })).rejects.toThrow(UsageError);
      await expect(SshChannel.connect({ host: 'h', user: 'u' })).rejects.toThrow(/no ssh.privateKey and SSH_AUTH_SOCK is not set/);
      await expect(SshChannel.connect({ host: 'h', user: 'u', privateKey: join(dir, 'missing') })).rejects.toThrow(/cannot read the SSH private key .*missing \(ENOENT\)/);
    } finally {
      if (saved !== undefined) process.env.SSH_AUTH_SOCK = saved;
    }
  });

  it('no server is a connect error, not a hang', async () => {
    const key = join(dir, 'plain');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'x', '-f', key]);
    const err = await SshChannel.connect({ host: '127.0.0.1', port: 1, user: 'u', privateKey: key }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SshError);
    expect((err as SshError).kind).toBe('connect');
    expect((err as Error).message).toMatch(/cannot connect to u@127\.0\.0\.1:1: .*ECONNREFUSED/);
  });
});
