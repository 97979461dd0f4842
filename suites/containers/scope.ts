import type Dockerode from 'dockerode';
import type { TestImages } from '../../oci-images/index.js';
import type { DockerChannel } from '../../src/index.js';
import type { TestContext, TestDef } from '../../src/index.js';
import { containerFixture, RUN_LABEL, SCOPE_LABEL, TEST_LABEL } from './fixture.js';
import { demuxBuffer } from './streams.js';

export type CreateOptions = Dockerode.ContainerCreateOptions;

/** A container that ran to its end: its exit code and its output, stdout and stderr apart. */
export interface RunOutput {
  container: Dockerode.Container;
  exitCode: number;
  stdout: string;
  stderr: string;
  /** The container as the engine describes it after exit (State.FinishedAt, OOMKilled...). */
  info: Dockerode.ContainerInspectInfo;
}

/**
 * What one test creates on the engine. Every object carries `tsuite.run=<runId>` (and
 * `tsuite.test=<name>` when the test is named) and is removed when the test ends, passed or not.
 */
export interface Scope {
  readonly ctx: TestContext;
  readonly docker: DockerChannel;
  readonly api: Dockerode;
  readonly images: TestImages;
  /** The labels every object of this test carries. */
  readonly labels: Readonly<Record<string, string>>;
  readonly signal: AbortSignal;
  /** A name unique to this run, for objects that need one (networks, volumes, image tags). */
  name(what: string): string;
  /** Creates a container (labelled, removed at the end with its anonymous volumes). */
  createContainer(opts: CreateOptions): Promise<Dockerode.Container>;
  /** Creates and starts a container. */
  startContainer(opts: CreateOptions): Promise<Dockerode.Container>;
  /** create + start + wait + logs: the container's exit code and its output, demultiplexed. */
  run(image: string, cmd: readonly string[], opts?: Omit<CreateOptions, 'Image' | 'Cmd'>): Promise<RunOutput>;
  /** Creates a network (labelled; named by the scope unless `Name` is given), removed at the end. */
  network(opts?: Partial<Dockerode.NetworkCreateOptions>): Promise<Dockerode.Network>;
  /** Creates a volume (labelled; named by the scope unless `Name` is given), removed at the end. */
  volume(opts?: Dockerode.VolumeCreateOptions): Promise<Dockerode.Volume>;
  /** Tags `image` as `repo:tag` and removes that tag at the end; returns the new reference. */
  tag(image: string, repo: string, tag: string): Promise<string>;
  /** Removes this image reference (or id) at the end, e.g. one the test loaded or built. */
  adoptImage(ref: string): void;
  /** Runs `fn` at the end, after the containers are gone and before networks, volumes and images. */
  defer(fn: () => Promise<void> | void): void;
}

let nameCounter = 0;

/**
 * Runs `fn` with a scope, then removes everything the scope created, even when `fn` throws.
 * A cleanup failure (other than "already gone") is reported: it fails a passing test, and is
 * appended to the error of a failing one.
 */
export async function withScope<T>(ctx: TestContext, fn: (scope: Scope) => Promise<T>, opts: { test?: string } = {}): Promise<T> {
  const { docker, images } = await containerFixture(ctx);
  const api = docker.api;
  // A label of this scope's own: a create whose answer was cut off (the test aborted mid-call) still
  // made the object on the engine, and the cleanup finds it by this label.
  const scopeId = `${ctx.runId}-${++nameCounter}`;
  const labels: Record<string, string> = { [RUN_LABEL]: ctx.runId, [SCOPE_LABEL]: scopeId, ...(opts.test && { [TEST_LABEL]: opts.test }) };
  const containers: string[] = [];
  const networks: string[] = [];
  const volumes: string[] = [];
  const imageRefs: string[] = [];
  const deferred: (() => Promise<void> | void)[] = [];
  const signal = ctx.signal;

  const scope: Scope = {
    ctx,
    docker,
    api,
    images,
    labels,
    signal,
    name: (what) => `tsuite-${ctx.runId}-${what}-${++nameCounter}`,
    async createContainer(o) {
      const c = await api.createContainer({ ...o, Labels: { ...o.Labels, ...labels }, abortSignal: signal });
      containers.push(c.id);
      return c;
    },
    async startContainer(o) {
      const c = await scope.createContainer(o);
      await c.start({ abortSignal: signal });
      return c;
    },
    async run(image, cmd, o = {}) {
      const container = await scope.startContainer({ ...o, Image: image, Cmd: [...cmd] });
      const waited = (await container.wait({ abortSignal: signal })) as { StatusCode: number };
      const body = await container.logs({ stdout: true, stderr: true, follow: false, abortSignal: signal });
      const { stdout, stderr } = await demuxBuffer(api, body, !!o.Tty);
      const info = await container.inspect({ abortSignal: signal });
      return { container, exitCode: waited.StatusCode, stdout, stderr, info };
    },
    async network(o = {}) {
      const n = await api.createNetwork({ Name: scope.name('net'), ...o, Labels: { ...o.Labels, ...labels }, abortSignal: signal });
      networks.push(n.id);
      return n;
    },
    async volume(o = {}) {
      const name = o.Name ?? scope.name('vol');
      // dockerode resolves with the engine's answer; the Volume handle is what tests use.
      await api.createVolume({ ...o, Name: name, Labels: { ...o.Labels, ...labels }, abortSignal: signal });
      volumes.push(name);
      return api.getVolume(name);
    },
    async tag(image, repo, tag) {
      await api.getImage(image).tag({ repo, tag });
      const ref = `${repo}:${tag}`;
      imageRefs.push(ref);
      return ref;
    },
    adoptImage: (ref) => void imageRefs.push(ref),
    defer: (f) => void deferred.push(f),
  };

  let result: T;
  try {
    result = await fn(scope);
  } catch (err) {
    const problems = await cleanUp();
    if (problems.length && err instanceof Error) err.message += `\n(cleanup also failed: ${problems.join('; ')})`;
    throw err;
  }
  const problems = await cleanUp();
  if (problems.length) throw new Error(`the test passed but its cleanup failed: ${problems.join('; ')}`);
  return result;

  async function cleanUp(): Promise<string[]> {
    const problems: string[] = [];
    const step = async (what: string, f: () => Promise<unknown> | unknown) => {
      try {
        await f();
      } catch (err) {
        // Gone already (the test removed it) is not a problem.
        if ((err as { statusCode?: number }).statusCode !== 404) problems.push(`${what}: ${(err as Error).message}`);
      }
    };
    const filters = { label: [`${SCOPE_LABEL}=${scopeId}`] };
    await step('list containers', async () => containers.push(...(await api.listContainers({ all: true, filters })).map((c) => c.Id)));
    await step('list networks', async () => networks.push(...(await api.listNetworks({ filters })).map((n) => n.Id)));
    await step('list volumes', async () => volumes.push(...((await api.listVolumes({ filters })).Volumes ?? []).map((v) => v.Name)));
    // Containers first: networks, volumes and images cannot go while one uses them.
    await Promise.all([...new Set(containers)].map((id) => step(`remove container ${id.slice(0, 12)}`, () => api.getContainer(id).remove({ force: true, v: true }))));
    for (const f of deferred.reverse()) await step('deferred cleanup', f);
    for (const id of new Set(networks)) await step(`remove network ${id.slice(0, 12)}`, () => api.getNetwork(id).remove());
    for (const name of new Set(volumes)) await step(`remove volume ${name}`, () => api.getVolume(name).remove());
    for (const ref of imageRefs.reverse()) await step(`remove image ${ref}`, () => api.getImage(ref).remove());
    return problems;
  }
}

/** A containers-suite test: needs the docker channel, runs in a scope labelled with its name. */
export function dockerTest(def: { name: string; title: string; timeoutMs?: number; run(scope: Scope): Promise<void> }): TestDef {
  return {
    name: def.name,
    title: def.title,
    requires: ['docker'],
    timeoutMs: def.timeoutMs ?? 120_000,
    run: (ctx) => withScope(ctx, def.run, { test: def.name }),
  };
}

/** The HTTP status of a failed Engine API call, or undefined when it did not fail that way. */
export function statusOf(err: unknown): number | undefined {
  return (err as { statusCode?: number } | undefined)?.statusCode;
}

/** Resolves with the status code an Engine API call fails with; fails the test if the call succeeds. */
export async function expectStatus(what: string, call: Promise<unknown>): Promise<number> {
  try {
    await call;
  } catch (err) {
    const code = statusOf(err);
    if (code === undefined) throw err;
    return code;
  }
  throw new Error(`${what} succeeded; the engine should have refused it`);
}
