import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load-config.js';
import { declaredChannels } from '../../src/cli/target-facts.js';
import { destructiveRefusal } from '../../src/core/destructive.js';
import type { Session } from '../../src/core/session.js';
import { findTarget } from '../../src/core/target.js';
import { hostArch } from '../../src/core/host-info.js';

const known = { knownSuites: ['syscall'], knownReporters: ['console'] };
const check = (target: object) => validateConfig({ targets: { lab: target } }, known);

describe('ssh targets in the config', () => {
  it('needs host and user, and nothing else (arch and kernel have defaults)', () => {
    expect(check({ runner: 'ssh', ssh: { host: 'board', user: 'root' } })).toEqual([]);
    expect(check({ runner: 'ssh' })).toEqual([expect.objectContaining({ path: 'targets.lab.ssh', message: expect.stringContaining('missing: host, user') })]);
    expect(check({ runner: 'ssh', ssh: { host: 'board' } })).toEqual([expect.objectContaining({ message: expect.stringContaining('missing: user') })]);
  });

  it('rejects unknown fields, bad ports, fingerprints and relative work dirs', () => {
    const paths = check({ runner: 'ssh', ssh: { host: 'b', user: 'u', port: 0, hostKeyFingerprint: 'MD5:aa', workDir: 'tmp', passphrase: 'x' } }).map((p) => p.path).sort();
    // A passphrase has no config field on purpose: it would be committed (TSUITE_SSH_KEY_PASSPHRASE or an agent instead).
    expect(paths).toEqual(['targets.lab.ssh.hostKeyFingerprint', 'targets.lab.ssh.passphrase', 'targets.lab.ssh.port', 'targets.lab.ssh.workDir']);
    expect(check({ runner: 'ssh', ssh: { host: 'b', user: 'u', hostKeyFingerprint: 'SHA256:dfnxYKm1sCicvYEY1pWttc20MncJb8GF0QJBLUzYoz8' } })).toEqual([]);
  });

  it('defaults arch to this host and offers console, agent and ssh', () => {
    const def = findTarget('lab', { lab: { runner: 'ssh', ssh: { host: 'b', user: 'u' } } });
    expect(def).toMatchObject({ runner: 'ssh', arch: hostArch(), kernel: 'remote' });
    expect(declaredChannels(def)).toEqual(['console', 'agent', 'ssh']);
  });

  it('refuses destructive operations on an ssh machine without the flag, naming the target kind', () => {
    const session = { agent: { scratchRoot: '/tmp/tsuite-ssh-x' }, ssh: {} } as unknown as Session;
    expect(destructiveRefusal(session, false, 'load a module')).toBe('refused on the ssh target (a machine tsuite did not boot) without --allow-destructive (it would load a module)');
    expect(destructiveRefusal(session, true, 'load a module')).toBeUndefined();
  });
});
