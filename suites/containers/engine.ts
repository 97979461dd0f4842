import type { TestDef } from '../../src/index.js';
import { dockerChannel } from './fixture.js';
import { dockerTest, type Scope } from './scope.js';

/** Go's GOARCH for each tsuite arch: what the engine reports as `Arch`. */
const GOARCH: Record<string, string> = { x86_64: 'amd64', aarch64: 'arm64', riscv64: 'riscv64' };

/** `1.41` → [1, 41], so versions compare as numbers (1.9 < 1.41). */
function apiVersion(v: string): [number, number] {
  const m = /^v?(\d+)\.(\d+)$/.exec(v);
  if (!m) throw new Error(`not an Engine API version: ${JSON.stringify(v)}`);
  return [Number(m[1]), Number(m[2])];
}
const compareVersions = (a: string, b: string) => {
  const [x, y] = [apiVersion(a), apiVersion(b)];
  return x[0] - y[0] || x[1] - y[1];
};

/**
 * /info's container counts next to GET /containers/json?all=1, read until the list holds still
 * across the /info call (another client may be creating containers on a shared engine).
 */
async function stableCount(s: Scope): Promise<{ info: Awaited<ReturnType<Scope['api']['info']>>; ids: Set<string> }> {
  for (let attempt = 0; ; attempt++) {
    const list1 = await s.api.listContainers({ all: true, abortSignal: s.signal });
    const info = await s.api.info();
    const list2 = await s.api.listContainers({ all: true, abortSignal: s.signal });
    const ids = new Set(list2.map((c) => c.Id));
    if (list1.length === list2.length && list1.every((c) => ids.has(c.Id))) {
      const total = info.ContainersRunning + info.ContainersPaused + info.ContainersStopped;
      if (info.Containers !== ids.size || total !== ids.size)
        throw new Error(`/info counts Containers=${info.Containers} (running ${info.ContainersRunning} + paused ${info.ContainersPaused} + stopped ${info.ContainersStopped}) while the engine lists ${ids.size}`);
      return { info, ids };
    }
    if (attempt === 5) throw new Error('the container list kept changing around GET /info (another client busy on this engine)');
  }
}

export const engineTests: TestDef[] = [
  {
    name: 'engine-ping',
    title: 'GET /_ping answers OK',
    requires: ['docker'],
    timeoutMs: 60_000,
    async run(ctx) {
      const body = await dockerChannel(ctx).api.ping();
      const text = Buffer.isBuffer(body) ? body.toString() : String(body);
      if (text !== 'OK') throw new Error(`/_ping answered ${JSON.stringify(text)}, not "OK"`);
    },
  },
  {
    name: 'engine-version',
    title: 'GET /version: Linux on the target arch, an API version range that holds the negotiated one',
    requires: ['docker'],
    timeoutMs: 60_000,
    async run(ctx) {
      const docker = dockerChannel(ctx);
      const v = await docker.api.version();
      const problems: string[] = [];
      if (v.Os !== 'linux') problems.push(`Os is ${JSON.stringify(v.Os)}, not "linux"`);
      const arch = GOARCH[ctx.target.arch] ?? ctx.target.arch;
      if (v.Arch !== arch) problems.push(`Arch is ${JSON.stringify(v.Arch)}, not ${JSON.stringify(arch)} (target arch ${ctx.target.arch})`);
      if (!v.Version) problems.push('Version (the engine version) is empty');
      const negotiated = docker.info.apiVersion;
      if (compareVersions(negotiated, v.ApiVersion) > 0) problems.push(`the negotiated API version ${negotiated} is above the server's ${v.ApiVersion}`);
      if (v.MinAPIVersion && compareVersions(negotiated, v.MinAPIVersion) < 0) problems.push(`the negotiated API version ${negotiated} is below the server's minimum ${v.MinAPIVersion}`);
      if (docker.info.serverApiVersion !== v.ApiVersion) problems.push(`the channel recorded server API ${docker.info.serverApiVersion}, /version says ${v.ApiVersion}`);
      if (problems.length) throw new Error(problems.join('; '));
    },
  },
  dockerTest({
    name: 'engine-info',
    title: 'GET /info: cgroups, storage driver, CPUs and memory, and container counts that follow what we create and start',
    async run(s) {
      const info = await s.api.info();
      const problems: string[] = [];
      if (info.OSType !== 'linux') problems.push(`OSType is ${JSON.stringify(info.OSType)}`);
      if (!info.Driver) problems.push('Driver (the storage driver) is empty');
      if (!['1', '2'].includes(info.CgroupVersion)) problems.push(`CgroupVersion is ${JSON.stringify(info.CgroupVersion)}, not "1" or "2"`);
      if (!['cgroupfs', 'systemd'].includes(info.CgroupDriver)) problems.push(`CgroupDriver is ${JSON.stringify(info.CgroupDriver)}`);
      if (!(info.NCPU >= 1)) problems.push(`NCPU is ${info.NCPU}`);
      if (!(info.MemTotal > 0)) problems.push(`MemTotal is ${info.MemTotal}`);
      if (!info.KernelVersion) problems.push('KernelVersion is empty');
      if (problems.length) throw new Error(problems.join('; '));

      // Other clients may share the engine: /info must agree with the engine's own list, read while that list holds still.
      const c = await s.createContainer({ Image: s.images.busybox, Cmd: ['sh', '-c', 'while :; do sleep 1; done'] });
      const after = await stableCount(s);
      if (!after.ids.has(c.id)) throw new Error('the created container is not listed by GET /containers/json?all=1');
      if (after.info.ContainersStopped < 1) throw new Error(`a created container counts as stopped, yet /info says ContainersStopped=${after.info.ContainersStopped}`);
      await c.start({ abortSignal: s.signal });
      const running = await s.api.info();
      if (running.ContainersRunning < 1) throw new Error(`a container is running, yet /info counts ContainersRunning=${running.ContainersRunning}`);
    },
  }),
];
