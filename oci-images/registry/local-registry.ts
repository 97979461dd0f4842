/**
 * Local registries for the suites that pull images (CRI): three CNCF distribution 2.8 registries
 * (Debian's `docker-registry`) started by tsuite on this host — plain HTTP, TLS, and TLS with basic
 * auth — sharing nothing but the CA. Guests behind QEMU's user-mode network reach them at the
 * gateway (10.0.2.2 is the host's 127.0.0.1), so the certificate also names the `advertise` addresses.
 *
 * Everything lives in one private temp dir named by a state file; stop() (or a later start, if
 * this process died) stops the processes and removes it. Logs may go elsewhere, to outlive it.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InfraError } from '../../src/core/errors.js';
import { htpasswdLine, randomCredentials, type RegistryCredentials } from './htpasswd.js';
import { RegistryClient, type RegistryAccess } from './registry-client.js';
import { DOCKER_REGISTRY, startRegistryProcess } from './registry-process.js';
import { REGISTRY_DIR_PREFIX, sweepStaleRegistries, teardownRegistries, writeRegistriesState, type RegistriesState } from './registry-state.js';
import { makeRegistryTls } from './registry-tls.js';

export const REGISTRY_KINDS = ['plain', 'tls', 'auth'] as const;
export type RegistryKind = (typeof REGISTRY_KINDS)[number];

export interface LocalRegistry extends RegistryAccess {
  kind: RegistryKind;
  /** `127.0.0.1:PORT` (or the listen address, when it is a specific one). */
  host: string;
  port: number;
  scheme: 'http' | 'https';
  /** `scheme://host`. */
  url: string;
  pid: number;
  logFile: string;
}

export interface LocalRegistries {
  plain: LocalRegistry;
  tls: LocalRegistry;
  auth: LocalRegistry & { credentials: RegistryCredentials };
  /** The same three, by kind (what fillRegistries takes). */
  registries: Record<RegistryKind, LocalRegistry>;
  /** The CA that signed the TLS registries' certificate: what a client (a guest's containerd) must trust. */
  ca: { path: string; pem: string };
  /** The auth registry's user and password (fresh each start; the password is not enumerable). */
  credentials: RegistryCredentials;
  /** The private dir (config, storage, TLS material), removed by stop(). */
  dir: string;
  /** Stops the three and removes `dir`; logs in a caller's `logDir` stay. Safe to call twice. */
  stop(): Promise<void>;
}

export interface LocalRegistriesOptions {
  /** The address the registries bind: 127.0.0.1 by default (QEMU user-mode guests reach it as 10.0.2.2). */
  listen?: string;
  /** Other addresses clients dial them at (e.g. '10.0.2.2'): the TLS certificate names them too. */
  advertise?: readonly string[];
  /** Where the private dir is made (and stale ones are swept): the OS temp dir by default. */
  parentDir?: string;
  /** Where the logs go (kept after stop); inside the private dir (removed with it) by default. */
  logDir?: string;
  /** How long each registry has to answer GET /v2/. */
  readyTimeoutMs?: number;
}

const REALM = 'tsuite-registry';
const READY_TIMEOUT_MS = 20_000;

/** Why the local registries cannot start here (tests skip with it), or undefined. */
export function localRegistryUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'the local registries need Linux';
  if (!existsSync(DOCKER_REGISTRY)) return `${DOCKER_REGISTRY} is missing: install Debian's docker-registry (apt-get install docker-registry)`;
  if (!existsSync('/usr/bin/openssl')) return 'openssl is missing (apt-get install openssl): it makes the registries\' TLS certificate';
  return undefined;
}

export async function startLocalRegistries(opts: LocalRegistriesOptions = {}): Promise<LocalRegistries> {
  const unavailable = localRegistryUnavailable();
  if (unavailable) throw new InfraError(unavailable, 'apt-get install docker-registry openssl');
  const listen = opts.listen ?? '127.0.0.1';
  const parent = opts.parentDir ?? tmpdir();
  await sweepStaleRegistries(parent);
  // mkdtemp makes it 0700: keys, the htpasswd file and config secrets stay private.
  const dir = await mkdtemp(join(parent, REGISTRY_DIR_PREFIX));
  const state: RegistriesState = { ownerPid: process.pid, dir, pids: [] };
  await writeRegistriesState(state);
  try {
    const tls = await makeRegistryTls(join(dir, 'tls'), [listen, ...(opts.advertise ?? [])]);
    const credentials = randomCredentials();
    const htpasswd = join(dir, 'htpasswd');
    await writeFile(htpasswd, await htpasswdLine(credentials), { mode: 0o600 });
    const dialHost = ['0.0.0.0', '::'].includes(listen) ? '127.0.0.1' : listen.includes(':') ? `[${listen}]` : listen;

    const start = async (kind: RegistryKind): Promise<LocalRegistry> => {
      const scheme = kind === 'plain' ? 'http' : 'https';
      const access = (port: number): RegistryAccess => ({
        host: `${dialHost}:${port}`,
        scheme,
        ...(scheme === 'https' && { caPem: tls.caPem }),
        ...(kind === 'auth' && { credentials }),
      });
      const proc = await startRegistryProcess({
        name: kind,
        dir: join(dir, kind),
        logDir: opts.logDir ?? join(dir, 'logs'),
        listen,
        ...(scheme === 'https' && { tls: { certificate: tls.certificate, key: tls.key } }),
        ...(kind === 'auth' && { htpasswd: { realm: REALM, path: htpasswd } }),
        onSpawn: async (pid) => {
          state.pids.push(pid);
          await writeRegistriesState(state);
        },
        ready: (port) => answers(access(port), kind),
        timeoutMs: opts.readyTimeoutMs ?? READY_TIMEOUT_MS,
      });
      const a = access(proc.port);
      return { ...a, kind, port: proc.port, scheme, url: `${scheme}://${a.host}`, pid: proc.pid, logFile: proc.logFile };
    };
    // One after another: each is up in a fraction of a second, and the state file is written in order.
    const registries = {} as Record<RegistryKind, LocalRegistry>;
    for (const kind of REGISTRY_KINDS) registries[kind] = await start(kind);
    return {
      plain: registries.plain,
      tls: registries.tls,
      auth: registries.auth as LocalRegistry & { credentials: RegistryCredentials },
      registries,
      ca: { path: tls.caPath, pem: tls.caPem },
      credentials,
      dir,
      stop: () => teardownRegistries(state),
    };
  } catch (err) {
    await teardownRegistries(state);
    throw err;
  }
}

/**
 * Readiness: GET /v2/ answers 200 — or, for the auth registry, 401 without credentials and then
 * 200 with them (which also proves the registry took the bcrypt htpasswd entry). Not answering
 * yet is false; a wrong answer throws.
 */
async function answers(access: RegistryAccess, kind: RegistryKind): Promise<boolean> {
  const anonymous = new RegistryClient({ ...access, credentials: undefined });
  const authed = new RegistryClient(access);
  try {
    const first = await anonymous.send('GET', '/v2/').catch((err: unknown) => {
      // Not listening yet; a TLS failure, though, would not go away by waiting.
      if (/ECONNREFUSED|ECONNRESET|socket|closed/i.test(String((err as Error).message))) return undefined;
      throw err;
    });
    if (!first) return false;
    if (kind !== 'auth') {
      if (first.status === 200) return true;
      throw anonymous.failure(first, 'GET /v2/ (readiness)');
    }
    if (first.status !== 401) throw anonymous.failure(first, 'GET /v2/ without credentials (readiness: expected 401)');
    const second = await authed.send('GET', '/v2/');
    if (second.status === 200) return true;
    throw authed.failure(second, 'GET /v2/ with the credentials tsuite wrote to its htpasswd file (readiness)');
  } finally {
    await Promise.all([anonymous.close(), authed.close()]);
  }
}
