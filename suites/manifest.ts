import type { SuiteDef } from '../src/index.js';

/**
 * The built-in suites by name, without loading them. A suite's module imports every test it has
 * and what those tests use (the CRI's gRPC client, the probe catalog, the GPU checks); loading all
 * nine costs a `tsuite run --suite boot` about 200 ms before anything boots. A command loads only
 * the suites it plans (`loadBuiltInSuites`); `suites/index.ts` still loads them all at once.
 * Each entry also says what its sessions ask of the machine, so that `tsuite run` can boot the
 * first one while the suites load (src/cli/boot-ahead.ts).
 * The order is `tsuite list`'s; test/unit/suite-manifest.test.ts holds it to the suites themselves.
 */
export interface BuiltInSuiteEntry extends SuiteMachineFacts {
  name: string;
  /** Left out of a plain `tsuite run`, as the suite's own `explicit` says. */
  explicit: boolean;
  load(): Promise<SuiteDef>;
}

/** What a suite's sessions ask of the machine beyond the target's plain boot (a loaded suite's: suiteMachineFacts in src/cli/boot-ahead.ts). */
export interface SuiteMachineFacts {
  /** The guest engines some test requires outright: each boot then waits for them. */
  engines: readonly ('docker' | 'cri')[];
  /** Benchmarks: booted with the benchmark clock, in sessions of their own unless it is real time. */
  benchmarks: boolean;
  /** More of the machine than the target's own (SuiteDef.machine): a session of its own. */
  ownMachine: boolean;
}

const plain = { engines: [], benchmarks: false, ownMachine: false } as const;

export const builtInManifest: readonly BuiltInSuiteEntry[] = [
  { name: 'boot', explicit: false, ...plain, load: async () => (await import('./boot/index.js')).default },
  { name: 'kernel', explicit: false, ...plain, load: async () => (await import('./kernel/index.js')).default },
  { name: 'shell', explicit: false, ...plain, load: async () => (await import('./shell/index.js')).default },
  { name: 'syscall', explicit: false, ...plain, load: async () => (await import('./syscall/index.js')).default },
  { name: 'isolation', explicit: false, ...plain, load: async () => (await import('./isolation/index.js')).default },
  { name: 'containers', explicit: false, ...plain, engines: ['docker'], load: async () => (await import('./containers/index.js')).default },
  { name: 'cri', explicit: false, ...plain, engines: ['cri'], load: async () => (await import('./cri/index.js')).default },
  { name: 'gpu', explicit: true, ...plain, engines: ['docker'], ownMachine: true, load: async () => (await import('./gpu/index.js')).default },
  { name: 'bench', explicit: true, ...plain, engines: ['docker', 'cri'], benchmarks: true, load: async () => (await import('./bench/index.js')).default },
];

/** The built-in suites named (all when `names` is undefined), loaded at once, in manifest order; names that are not built in are ignored. */
export async function loadBuiltInSuites(names?: readonly string[]): Promise<SuiteDef[]> {
  const wanted = builtInManifest.filter((e) => names === undefined || names.includes(e.name));
  return Promise.all(wanted.map((e) => e.load()));
}
