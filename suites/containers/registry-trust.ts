import { posix } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { localRegistryUnavailable } from '../../oci-images/index.js';
import type { DockerChannel, GuestAgent, Session, TestContext } from '../../src/index.js';
import { sessionRegistry, type SessionRegistry } from '../local-registry.js';

/**
 * The session's local registries, trusted by the engine under test: dockerd reads
 * /etc/docker/certs.d/<host:port>/*.crt at every pull (so the TLS registries' CA goes there), and
 * speaks plain HTTP only to registries in `insecure-registries` of /etc/docker/daemon.json, which it
 * rereads on SIGHUP. Both are written through the guest agent once per session and undone after its
 * last test; an engine tsuite cannot reach that way cannot be made to trust registries that start
 * on new ports with a new CA each session.
 */
export interface TrustedRegistry {
  registry: SessionRegistry;
  /** The CA file the engine reads for each TLS registry. */
  caFiles: Record<'tls' | 'auth', string>;
  /** Removes (false) or writes back (true) one TLS registry's CA file: for a pull that must fail verification. */
  setCa(kind: 'tls' | 'auth', present: boolean): Promise<void>;
  /** dockerd's log in the guest (where the node init sends it): evidence of what the engine logged. */
  engineLog(): Promise<string>;
}

/** Where dockerd looks for per-registry CAs (docker's `certs.d` layout). */
export const CERTS_DIR = '/etc/docker/certs.d';
/** dockerd's default config file: read at start and at each SIGHUP. */
export const DAEMON_JSON = '/etc/docker/daemon.json';
/** Written by the node init (kernel/node/node-init.sh) when it starts dockerd. */
export const DOCKERD_PID_FILE = '/run/tsuite-dockerd.pid';
/** Where the node init sends dockerd's output. */
export const DOCKERD_LOG = '/var/log/dockerd.log';
/** How long dockerd has to show the reloaded insecure-registries in GET /info. */
const RELOAD_WAIT_MS = 30_000;

/** What an engine must be configured with to run these tests, for the skip reason of a target tsuite cannot configure. */
export function trustNeeded(target: string, why: string): string {
  return (
    `target '${target}' ${why}, so tsuite cannot make its engine trust the session's local registries, ` +
    `which start on new ports with a new CA each session: the engine must have that CA in ${CERTS_DIR}/<host:port>/ca.crt ` +
    `for the TLS and auth registries and the plain one in insecure-registries of ${DAEMON_JSON} (reloaded with SIGHUP); ` +
    'tsuite writes both through the guest agent on a QEMU node target (qemu-x86-node)'
  );
}

/** daemon.json text with `hosts` added to insecure-registries, everything else kept. */
export function addInsecure(original: string | undefined, hosts: readonly string[]): string {
  const conf = parseDaemonJson(original);
  const had = conf['insecure-registries'];
  const list = Array.isArray(had) ? (had as unknown[]).filter((h): h is string => typeof h === 'string') : [];
  return `${JSON.stringify({ ...conf, 'insecure-registries': [...new Set([...list, ...hosts])] }, null, 2)}\n`;
}

/**
 * daemon.json text that puts insecure-registries back as the original had it. A reload leaves the
 * list alone when the key is absent, so an original without it is undone with an explicit empty
 * list (dockerd's default) before the original file itself comes back.
 */
export function restoreInsecure(original: string | undefined): string {
  const conf = parseDaemonJson(original);
  return `${JSON.stringify({ ...conf, 'insecure-registries': conf['insecure-registries'] ?? [] }, null, 2)}\n`;
}

function parseDaemonJson(text: string | undefined): Record<string, unknown> {
  if (text === undefined || text.trim() === '') return {};
  let conf: unknown;
  try {
    conf = JSON.parse(text);
  } catch (err) {
    throw new Error(`the guest's ${DAEMON_JSON} is not JSON (${(err as Error).message}): fix it, or remove it`);
  }
  if (typeof conf !== 'object' || conf === null || Array.isArray(conf)) throw new Error(`the guest's ${DAEMON_JSON} is not a JSON object`);
  return conf as Record<string, unknown>;
}

const bySession = new WeakMap<Session, Promise<TrustedRegistry | { missing: string }>>();

/**
 * The registries, trusted by the engine, set up by the first test of the session that asks; or why
 * this target cannot have them (its tests skip with that). A failed setup undid what it had done
 * and is not remembered: the next test tries again.
 */
export function trustedRegistry(ctx: TestContext, docker: DockerChannel): Promise<TrustedRegistry | { missing: string }> {
  let pending = bySession.get(ctx.session);
  if (!pending) {
    pending = setUp(ctx, docker);
    bySession.set(ctx.session, pending);
    pending.catch(() => bySession.delete(ctx.session));
  }
  return pending;
}

async function setUp(ctx: TestContext, docker: DockerChannel): Promise<TrustedRegistry | { missing: string }> {
  const { session, target } = ctx;
  const agent = session.agent;
  if (!agent) {
    // A target that declares the agent but whose agent never answered fails: it promised one.
    if (target.channels?.includes('agent') && session.agentProblem) throw new Error(`the guest agent did not come up: ${session.agentProblem}`);
    return { missing: trustNeeded(target.name, 'has no guest agent') };
  }
  if (!session.machine) return { missing: trustNeeded(target.name, 'is not a QEMU machine (whose engine reaches this host at 10.0.2.2)') };
  if (session.machine.noNetwork) return { missing: `target '${target.name}' has no network (machine.nics: none): its engine cannot reach a registry` };
  const unavailable = localRegistryUnavailable();
  if (unavailable) return { missing: `no local registry: ${unavailable}` };
  const pid = await guestText(agent, DOCKERD_PID_FILE);
  if (!pid?.trim()) return { missing: trustNeeded(target.name, `has no ${DOCKERD_PID_FILE} (written by tsuite's node init), so its dockerd cannot be told to reload`) };

  // QEMU user-mode networking: the guest reaches this host's 127.0.0.1 at the gateway.
  const registry = await sessionRegistry(ctx, { listen: '127.0.0.1', engineAddress: '10.0.2.2' });
  const undo: { what: string; run: () => Promise<void> }[] = [];
  try {
    const caFiles = { tls: `${CERTS_DIR}/${registry.hosts.tls}/ca.crt`, auth: `${CERTS_DIR}/${registry.hosts.auth}/ca.crt` };
    if (!(await guestExists(agent, CERTS_DIR))) {
      // Made here: removed again once its folders are gone (rmdir leaves it if anyone else put something in it).
      undo.push({ what: `removing ${CERTS_DIR} in the guest`, run: () => guestRun(agent, ['/bin/sh', '-c', `rmdir '${CERTS_DIR}' 2>/dev/null || true`]) });
    }
    for (const file of Object.values(caFiles)) {
      // The folder is named by this session's port: nothing else lives in it.
      undo.push({ what: `removing ${posix.dirname(file)} in the guest`, run: () => guestRun(agent, ['/bin/rm', '-rf', '--', posix.dirname(file)]) });
      await guestWrite(agent, file, registry.registries.ca.pem);
    }

    const plain = registry.hosts.plain;
    const original = await guestText(agent, DAEMON_JSON);
    undo.push({
      what: `restoring the guest's ${DAEMON_JSON} and reloading dockerd`,
      run: async () => {
        await guestWrite(agent, DAEMON_JSON, restoreInsecure(original));
        await reload(agent, docker, plain, false);
        if (original === undefined) await guestRun(agent, ['/bin/rm', '-f', '--', DAEMON_JSON]);
        else await guestWrite(agent, DAEMON_JSON, original);
      },
    });
    await guestWrite(agent, DAEMON_JSON, addInsecure(original, [plain]));
    await reload(agent, docker, plain, true);

    // The session runs them latest first: daemon.json, then the CA folders, then certs.d if it was made here.
    for (const u of undo) ctx.atSessionEnd(u.what, u.run);
    const setCa = async (kind: 'tls' | 'auth', present: boolean) => {
      if (present) await guestWrite(agent, caFiles[kind], registry.registries.ca.pem);
      else await guestRun(agent, ['/bin/rm', '-f', '--', caFiles[kind]]);
    };
    return { registry, caFiles, setCa, engineLog: async () => (await agent.readFile(DOCKERD_LOG)).toString('utf8') };
  } catch (err) {
    for (const u of undo.reverse()) await u.run().catch(() => undefined);
    throw err;
  }
}

/**
 * SIGHUP to the node's dockerd, then GET /info until the plain registry is (or no longer is) an
 * insecure one there: a reload that failed (a bad daemon.json, a key also given as a flag) never
 * gets there, and its reason is in the log named.
 */
async function reload(agent: GuestAgent, docker: DockerChannel, host: string, insecure: boolean): Promise<void> {
  await guestRun(agent, ['/bin/sh', '-c', `kill -HUP "$(cat ${DOCKERD_PID_FILE})"`]);
  const deadline = Date.now() + RELOAD_WAIT_MS;
  for (;;) {
    const info = (await docker.api.info()) as { RegistryConfig?: { IndexConfigs?: Record<string, { Secure?: boolean }> } };
    const entry = info.RegistryConfig?.IndexConfigs?.[host];
    if (insecure ? entry?.Secure === false : entry?.Secure !== false) return;
    if (Date.now() > deadline) {
      throw new Error(
        `dockerd did not ${insecure ? 'add' : 'drop'} ${host} ${insecure ? 'to' : 'from'} its insecure registries within ${RELOAD_WAIT_MS / 1000} s of SIGHUP ` +
          `(GET /info RegistryConfig.IndexConfigs[${host}] is ${JSON.stringify(entry)}): see "reload" in ${DOCKERD_LOG} in the guest`,
      );
    }
    await sleep(200);
  }
}

async function guestExists(agent: GuestAgent, path: string): Promise<boolean> {
  return (await agent.exec(['/bin/sh', '-c', `test -e '${path}'`], { timeoutMs: 10_000 })).exitCode === 0;
}

/** A guest file's text, or undefined when it does not exist. */
async function guestText(agent: GuestAgent, path: string): Promise<string | undefined> {
  return (await guestExists(agent, path)) ? (await agent.readFile(path)).toString('utf8') : undefined;
}

async function guestWrite(agent: GuestAgent, path: string, data: string): Promise<void> {
  await guestRun(agent, ['/bin/mkdir', '-p', '--', posix.dirname(path)]);
  await agent.writeFile(path, data);
}

async function guestRun(agent: GuestAgent, argv: readonly string[]): Promise<void> {
  const r = await agent.exec(argv, { timeoutMs: 10_000 });
  if (r.exitCode !== 0) throw new Error(`\`${argv.join(' ')}\` in the guest exited ${r.exitCode ?? `on signal ${r.signal}`}: ${r.stderr.toString().trim()}`);
}
