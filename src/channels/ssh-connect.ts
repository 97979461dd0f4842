import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { resolve } from 'node:path';
import type { ConnectConfig } from 'ssh2';
import { InfraError, UsageError } from '../core/errors.js';
import {
  checkHostKey, hostKeyAlgorithms, keyBlobType, knownHostsName, knownKeyTypes, normalizeFingerprint, parseKnownHosts, sha256Fingerprint,
  type HostKeyVerdict, type KnownHostEntry,
} from './ssh-host-keys.js';

/** Where an SSH machine is and how to log in (a target's `ssh:` settings). */
export interface SshEndpoint {
  host: string;
  /** Default 22. */
  port?: number;
  user: string;
  /** A private key file (OpenSSH or PEM); without it, the SSH agent at SSH_AUTH_SOCK. */
  privateKey?: string;
  /** known_hosts file to check the host key against; default ~/.ssh/known_hosts. */
  knownHosts?: string;
  /** Accept exactly this host key (`SHA256:…`, as `ssh-keygen -lf` prints it) instead of known_hosts. */
  hostKeyFingerprint?: string;
}

/**
 * What went wrong reaching or using an SSH machine. An InfraError: the harness lost its way to the
 * machine, which by itself says nothing about the kernel there.
 * - `connect`: no TCP connection or no SSH handshake in time;
 * - `host-key`: the server's key is unknown, changed, revoked, or not the pinned one;
 * - `auth`: the server refused every key offered;
 * - `dropped`: the connection closed or stopped answering keepalives;
 * - `timeout`: a command or transfer outlived its limit (the remote command was killed);
 * - `sftp`: a file transfer failed.
 */
export class SshError extends InfraError {
  constructor(readonly kind: 'connect' | 'host-key' | 'auth' | 'dropped' | 'timeout' | 'sftp', message: string, fix?: string) {
    super(message, fix);
  }
}

/** The passphrase of an encrypted key file: from the environment only, never from the config (which is committed). */
export const PASSPHRASE_ENV = 'TSUITE_SSH_KEY_PASSPHRASE';

/** `user@host:port`, the way messages name the machine. */
export const describeEndpoint = (e: SshEndpoint) => `${e.user}@${e.host}:${e.port ?? 22}`;

/** Settings for ssh2's Client, plus what the host key check concluded (read after a failed handshake). */
export interface PreparedConnect {
  config: ConnectConfig;
  hostKeyProblem(): SshError | undefined;
  /** The key the server presented: type and fingerprint (once the handshake got that far). */
  seen(): { type: string; fingerprint: string } | undefined;
}

/** Reads the key or finds the agent, and builds the host key check; problems the user can fix before connecting are UsageErrors. */
export async function prepareConnect(e: SshEndpoint, timing: { readyTimeoutMs: number; keepaliveMs: number; keepaliveCountMax: number }): Promise<PreparedConnect> {
  const port = e.port ?? 22;
  const auth: Pick<ConnectConfig, 'privateKey' | 'passphrase' | 'agent'> = {};
  if (e.privateKey) {
    const file = resolve(e.privateKey.replace(/^~(?=\/)/, homedir()));
    try {
      // The key's bytes go to ssh2 only: never into a message.
      auth.privateKey = await readFile(file);
    } catch (err) {
      throw new UsageError(`cannot read the SSH private key ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, 'set ssh.privateKey to a readable key file, or drop it to use the SSH agent (SSH_AUTH_SOCK)');
    }
    const passphrase = process.env[PASSPHRASE_ENV];
    if (passphrase) auth.passphrase = passphrase;
  } else if (process.env.SSH_AUTH_SOCK) {
    auth.agent = process.env.SSH_AUTH_SOCK;
  } else {
    throw new UsageError(`no way to log in to ${describeEndpoint(e)}: the target has no ssh.privateKey and SSH_AUTH_SOCK is not set`, 'set ssh.privateKey to a key file, or start an SSH agent and ssh-add the key');
  }

  const name = knownHostsName(e.host, port);
  let entries: KnownHostEntry[] = [];
  const knownHostsFile = resolve((e.knownHosts ?? '~/.ssh/known_hosts').replace(/^~(?=\/)/, homedir()));
  if (!e.hostKeyFingerprint) {
    try {
      entries = parseKnownHosts(await readFile(knownHostsFile, 'utf8'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new UsageError(`cannot read known hosts file ${knownHostsFile}: ${(err as Error).message}`, 'fix its permissions, or point ssh.knownHosts at another file');
    }
  }
  let problem: SshError | undefined;
  let seen: { type: string; fingerprint: string } | undefined;
  const verify = (key: Buffer): boolean => {
    seen = { type: keyBlobType(key), fingerprint: sha256Fingerprint(key) };
    if (e.hostKeyFingerprint) {
      const pin = normalizeFingerprint(e.hostKeyFingerprint);
      if (seen.fingerprint === pin) return true;
      problem = new SshError('host-key', `the host key of ${name} is ${seen.type} ${seen.fingerprint}, not the pinned ${pin}: the machine may have been reinstalled, or this is not the machine you meant`,
        'if the key changed legitimately, set ssh.hostKeyFingerprint to the new fingerprint (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the machine); otherwise do not connect');
      return false;
    }
    problem = hostKeyError(checkHostKey(entries, name, key), name, knownHostsFile, seen, port);
    return problem === undefined;
  };
  // Ask first for the key types the known hosts hold for this host, as OpenSSH does: a server with an
  // ed25519 and an RSA key must present the one we can check.
  const types = knownKeyTypes(entries, name);
  return {
    config: {
      host: e.host, port, username: e.user, ...auth,
      hostVerifier: verify,
      readyTimeout: timing.readyTimeoutMs,
      keepaliveInterval: timing.keepaliveMs,
      keepaliveCountMax: timing.keepaliveCountMax,
      ...(types.length > 0 ? { algorithms: { serverHostKey: { prepend: hostKeyAlgorithms(types) } } as ConnectConfig['algorithms'] } : {}),
    },
    hostKeyProblem: () => problem,
    seen: () => seen,
  };
}

/** The message for a host key that is not accepted; undefined for an accepted one. */
export function hostKeyError(v: HostKeyVerdict, name: string, file: string, seen: { type: string; fingerprint: string }, port: number): SshError | undefined {
  const scan = `ssh-keyscan ${port === 22 ? '' : `-p ${port} `}${name.replace(/^\[(.*)\]:\d+$/, '$1')}`;
  switch (v.kind) {
    case 'known':
      return undefined;
    case 'unknown':
      return new SshError('host-key', `the host ${name} is not in ${file}; it presented ${seen.type} ${seen.fingerprint}`,
        `check that fingerprint on the machine (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub), then add it: ${scan} >> ${file}; or pin it with ssh.hostKeyFingerprint: '${seen.fingerprint}'`);
    case 'changed':
      return new SshError('host-key', `the host key of ${name} has CHANGED: it presented ${seen.type} ${seen.fingerprint}, and ${file} line ${v.line} holds another ${seen.type} key. Someone may be intercepting the connection, or the machine was reinstalled`,
        `if the change is expected, remove the old key (ssh-keygen -R '${name}' -f ${file}) and add the new one after checking it; otherwise do not connect`);
    case 'other-types':
      return new SshError('host-key', `${file} knows ${name} only by ${v.types.join(', ')} keys, but it presented ${seen.type} ${seen.fingerprint}`,
        `check the fingerprint on the machine, then add that key: ${scan} -t ${seen.type} >> ${file}`);
    case 'revoked':
      return new SshError('host-key', `the host key ${seen.type} ${seen.fingerprint} of ${name} is marked @revoked in ${file} line ${v.line}`, 'the machine must get a new host key; do not connect to it with this one');
  }
}

/** Turns a failed handshake into an SshError naming the machine and the fix (never the key's contents). */
export function connectError(err: Error & { level?: string }, e: SshEndpoint, prepared: PreparedConnect, timeoutMs: number): SshError {
  const hostKey = prepared.hostKeyProblem();
  if (hostKey) return hostKey;
  const where = describeEndpoint(e);
  if (err.level === 'client-authentication') {
    const how = e.privateKey ? `the key in ${e.privateKey}` : `the keys of the SSH agent (${process.env.SSH_AUTH_SOCK})`;
    return new SshError('auth', `${where} refused ${how} (server key ${prepared.seen()?.fingerprint ?? 'unknown'})`,
      `add the matching public key to ~${e.user}/.ssh/authorized_keys on the machine, or set ssh.user / ssh.privateKey to an account and key it accepts`);
  }
  if (/passphrase|decrypt|Cannot parse privateKey|Unsupported key format/i.test(err.message)) {
    // ssh2's parse errors name the problem, not the key material.
    return new SshError('auth', `cannot use the private key ${e.privateKey}: ${err.message}`,
      `for an encrypted key, set ${PASSPHRASE_ENV} in the environment or load it into an SSH agent (ssh-add) and drop ssh.privateKey`);
  }
  if (err.level === 'client-timeout' || /Timed out/i.test(err.message)) {
    return new SshError('connect', `no SSH handshake with ${where} within ${timeoutMs} ms`, 'check the host and port, that sshd runs there, and that no firewall drops the connection');
  }
  return new SshError('connect', `cannot connect to ${where}: ${err.message}`, 'check the host and port, and that sshd runs there');
}
