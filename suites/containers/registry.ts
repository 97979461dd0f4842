import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTestImages } from '../../oci-images/index.js';
import type { TestContext, TestDef } from '../../src/index.js';
import { docker, requireCli } from './docker-cli.js';
import { dockerChannel } from './fixture.js';
import { digestOf, hideSecrets, mustFail, mustLack, mustNotCarry, mustPull, type RegistryRun } from './registry-pull.js';
import { trustedRegistry, type TrustedRegistry } from './registry-trust.js';
import { withScope, type Scope } from './scope.js';

/**
 * The first test of a session also starts and fills the registries and, when it runs without
 * images-test-images before it (`--test containers/registry-`), waits for the test images to load:
 * minutes under TCG.
 */
const TEST_MS = 600_000;

const UNAUTHORIZED = /unauthori[sz]ed|authentication required|no basic auth credentials/i;
const NOT_FOUND = /not found|manifest unknown|name unknown/i;
const UNKNOWN_CA = /x509|certificate signed by unknown authority/i;

const quiet = { step: <T>(_label: string, work: () => Promise<T>) => work() };

/** The id tsuite computed for busybox (its config's digest): what the engine must report for every pull of it. */
async function busyboxId(ctx: TestContext): Promise<string> {
  return (await buildTestImages(ctx.target.arch, quiet, { only: ['busybox'] })).busybox.id;
}

/**
 * A containers test against the session's registries, skipped (with what the engine would need)
 * on a target whose engine tsuite cannot make trust them. No error it throws shows a password:
 * one that would have is redacted and says so.
 */
function registryTest(def: { name: string; title: string; timeoutMs?: number; run(run: RegistryRun): Promise<void> }): TestDef {
  return {
    name: def.name,
    title: def.title,
    requires: ['docker'],
    timeoutMs: def.timeoutMs ?? TEST_MS,
    async run(ctx) {
      const t = await trustedRegistry(ctx, dockerChannel(ctx));
      if ('missing' in t) return ctx.skip(t.missing);
      const secrets = [t.registry.registries.credentials.password];
      try {
        await withScope(ctx, (s) => def.run({ s, t, secrets }), { test: def.name });
      } catch (err) {
        const left = await leftBehind(ctx, t).catch(() => []);
        if (err instanceof Error) {
          if (left.length) err.message += `\n(the cleanup also left ${left.join(', ')})`;
          if (secrets.some((secret) => err.message.includes(secret))) {
            err.message = `${hideSecrets(err.message, secrets)}\n(this message carried the registry password: shown as ***)`;
            err.stack = hideSecrets(err.stack ?? '', secrets);
          }
        }
        throw err;
      }
      const left = await leftBehind(ctx, t);
      if (left.length) throw new Error(`the test passed, but its cleanup left what it pulled: ${left.join(', ')}`);
    },
  };
}

/** Image refs at the session's registries still on the engine (a test's scope removes what it pulled). */
async function leftBehind(ctx: TestContext, t: TrustedRegistry): Promise<string[]> {
  const hosts = Object.values(t.registry.hosts).map((h) => `${h}/`);
  const images = await dockerChannel(ctx).api.listImages();
  return images.flatMap((i) => [...(i.RepoTags ?? []), ...(i.RepoDigests ?? [])]).filter((ref) => hosts.some((h) => ref.startsWith(h)));
}

/** The image under `ref` is tsuite's busybox, and RepoDigests names the manifest tsuite pushed. */
async function mustBeBusybox(s: Scope, ref: string, byDigest: string): Promise<{ RepoTags: string[]; RepoDigests: string[] }> {
  const info = await s.api.getImage(ref).inspect();
  const want = await busyboxId(s.ctx);
  if (info.Id !== want) throw new Error(`${ref} was pulled as image ${info.Id}; tsuite built it as ${want}`);
  if (!info.RepoDigests?.includes(byDigest)) throw new Error(`RepoDigests of ${ref} is ${JSON.stringify(info.RepoDigests)}: it lacks ${byDigest}, the manifest tsuite pushed`);
  return { RepoTags: info.RepoTags ?? [], RepoDigests: info.RepoDigests };
}

const creds = (t: TrustedRegistry, password = t.registry.registries.credentials.password) => ({
  username: t.registry.registries.credentials.username,
  password,
  serveraddress: t.registry.hosts.auth,
});

export const registryTests: TestDef[] = [
  registryTest({
    name: 'registry-pull-plain-by-tag',
    title: 'POST /images/create by tag from a plain-HTTP registry (insecure-registries): the image tsuite built and pushed, and it runs',
    async run(run) {
      const { s, t } = run;
      const p = t.registry.images.plain.busybox!;
      await mustLack(s, p.byTag, 'before the pull');
      const events = await mustPull(run, p.byTag);
      if (digestOf(events) !== p.digest) throw new Error(`the pull reported digest ${digestOf(events)}; tsuite pushed ${p.digest}`);
      const info = await mustBeBusybox(s, p.byTag, p.byDigest);
      if (!info.RepoTags.includes(p.byTag)) throw new Error(`RepoTags is ${JSON.stringify(info.RepoTags)}: it lacks the pulled ${p.byTag}`);
      const r = await s.run(p.byTag, ['echo', 'pulled']);
      if (r.exitCode !== 0 || r.stdout !== 'pulled\n') throw new Error(`a container of ${p.byTag} printed ${JSON.stringify(r.stdout)} and exited ${r.exitCode}`);
    },
  }),
  registryTest({
    name: 'registry-pull-plain-by-digest',
    title: 'POST /images/create by digest: RepoDigests holds the digest tsuite pushed, the id is the one tsuite computed, and no tag is invented',
    async run(run) {
      const { s, t } = run;
      const p = t.registry.images.plain.busybox!;
      await mustLack(s, p.byDigest, 'before the pull');
      await mustPull(run, p.byDigest);
      const info = await mustBeBusybox(s, p.byDigest, p.byDigest);
      if (info.RepoTags.includes(p.byTag)) throw new Error(`after a pull by digest only, RepoTags lists ${p.byTag}`);
    },
  }),
  registryTest({
    name: 'registry-pull-tls',
    title: "POST /images/create from a TLS registry: refused as x509 without tsuite's CA in certs.d, pulled with it",
    async run(run) {
      const { s, t } = run;
      const p = t.registry.images.tls.busybox!;
      await t.setCa('tls', false);
      try {
        await mustFail(run, p.byTag, undefined, UNKNOWN_CA, `without ${t.caFiles.tls}`);
      } finally {
        await t.setCa('tls', true);
      }
      const events = await mustPull(run, p.byTag);
      if (digestOf(events) !== p.digest) throw new Error(`the pull reported digest ${digestOf(events)}; tsuite pushed ${p.digest}`);
      await mustBeBusybox(s, p.byTag, p.byDigest);
    },
  }),
  registryTest({
    name: 'registry-auth-credentials',
    title: "POST /images/create with X-Registry-Auth from a TLS + basic-auth registry: pulled with the registry's user and password",
    async run(run) {
      const { s, t } = run;
      const p = t.registry.images.auth.busybox!;
      await mustLack(s, p.byTag, 'before the pull');
      await mustPull(run, p.byTag, creds(t));
      await mustBeBusybox(s, p.byTag, p.byDigest);
    },
  }),
  registryTest({
    name: 'registry-auth-wrong-credentials',
    title: "A pull with a wrong password fails promptly with the registry's unauthorized, and no image",
    async run(run) {
      const wrong = randomBytes(24).toString('base64url');
      run.secrets.push(wrong);
      const p = run.t.registry.images.auth.busybox!;
      await mustFail(run, p.byTag, creds(run.t, wrong), UNAUTHORIZED, 'with a wrong password');
    },
  }),
  registryTest({
    name: 'registry-auth-no-credentials',
    title: 'A pull from the basic-auth registry without credentials fails promptly with unauthorized, and no image',
    async run(run) {
      const p = run.t.registry.images.auth.busybox!;
      await mustFail(run, p.byTag, undefined, UNAUTHORIZED, 'without credentials');
    },
  }),
  registryTest({
    name: 'registry-pull-missing-tag',
    title: 'A pull of a tag the registry lacks fails promptly with not found (HTTP 404)',
    async run(run) {
      const p = run.t.registry.images.plain.busybox!;
      const ref = `${run.t.registry.hosts.plain}/${p.repo}:no-such-tag-${randomBytes(4).toString('hex')}`;
      await mustFail(run, ref, undefined, NOT_FOUND, '(a tag the registry lacks)', 404);
    },
  }),
  registryTest({
    name: 'registry-pull-missing-repo',
    title: 'A pull from a repository the registry lacks fails promptly with not found (HTTP 404)',
    async run(run) {
      const ref = `${run.t.registry.hosts.plain}/tsuite/no-such-repo-${randomBytes(4).toString('hex')}:latest`;
      await mustFail(run, ref, undefined, NOT_FOUND, '(a repository the registry lacks)', 404);
    },
  }),
  registryTest({
    name: 'registry-auth-password-hidden',
    title: 'The registry password shows in no pull progress or error, image inspect, engine event, dockerd log or registry log',
    async run(run) {
      const { s, t } = run;
      const since = Math.floor(Date.now() / 1000) - 1;
      const wrong = randomBytes(24).toString('base64url');
      run.secrets.push(wrong);
      const p = t.registry.images.auth.busybox!;
      await mustFail(run, p.byTag, creds(t, wrong), UNAUTHORIZED, 'with a wrong password');
      await mustPull(run, p.byTag, creds(t));
      mustNotCarry(run, `GET /images/${p.byTag}/json`, JSON.stringify(await s.api.getImage(p.byTag).inspect()));
      const events = await s.api.getEvents({ since, until: Math.ceil(Date.now() / 1000) + 1 });
      const eventText = await new Promise<string>((resolve, reject) => {
        let text = '';
        events.on('data', (c: Buffer) => (text += c.toString()));
        events.on('end', () => resolve(text));
        events.on('error', reject);
      });
      if (!eventText.includes(p.byTag)) throw new Error(`GET /events lists no event of the pull of ${p.byTag}`);
      mustNotCarry(run, 'GET /events', eventText);
      mustNotCarry(run, "dockerd's log in the guest", await t.engineLog());
      mustNotCarry(run, "the auth registry's log", await readFile(t.registry.registries.auth.logFile, 'utf8'));
    },
  }),
  registryTest({
    name: 'registry-cli-login-pull',
    title: "The docker CLI: `docker login --password-stdin`, `docker pull` and `docker logout` against the auth registry; the password in no output",
    async run(run) {
      const { s, t } = run;
      await requireCli(s);
      const host = t.registry.hosts.auth;
      const p = t.registry.images.auth.busybox!;
      const { username, password } = t.registry.registries.credentials;
      const dir = await mkdtemp(join(tmpdir(), 'tsuite-docker-config-'));
      const env = { DOCKER_CONFIG: dir };
      const outputs: [string, string][] = [];
      const cli = async (args: string[], opts: { code?: number; input?: string } = {}) => {
        const r = await docker(s, args, { ...opts, env });
        outputs.push([`docker ${args.join(' ')}`, r.stdout + r.stderr]);
        return r;
      };
      const logins = async () => Object.keys((JSON.parse(await readFile(join(dir, 'config.json'), 'utf8').catch(() => '{}')) as { auths?: object }).auths ?? {});
      try {
        s.adoptImage(p.byTag);
        const login = await cli(['login', '--username', username, '--password-stdin', host], { input: `${password}\n` });
        if (!/Login Succeeded/.test(login.stdout)) throw new Error(`\`docker login\` printed ${JSON.stringify(login.stdout)}, not Login Succeeded`);
        if (!(await logins()).includes(host)) throw new Error(`after \`docker login\`, ${dir}/config.json has no credentials for ${host}`);
        const pulled = await cli(['pull', p.byTag]);
        if (!pulled.stdout.includes(`Digest: ${p.digest}`)) throw new Error(`\`docker pull\` printed ${JSON.stringify(pulled.stdout)}: no Digest: ${p.digest}`);
        await mustBeBusybox(s, p.byTag, p.byDigest);
        const logout = await cli(['logout', host]);
        if (!logout.stdout.includes(host)) throw new Error(`\`docker logout ${host}\` printed ${JSON.stringify(logout.stdout)}`);
        if ((await logins()).includes(host)) throw new Error(`after \`docker logout\`, ${dir}/config.json still has credentials for ${host}`);
        // Logged out, the CLI sends no credentials: the registry refuses the same pull.
        const refused = await cli(['pull', p.byTag], { code: 1 });
        if (!UNAUTHORIZED.test(refused.stderr)) throw new Error(`\`docker pull\` after logout failed, but not with ${UNAUTHORIZED}: ${JSON.stringify(refused.stderr)}`);
        for (const [command, text] of outputs) mustNotCarry(run, `the output of \`${command}\``, text);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  }),
];
