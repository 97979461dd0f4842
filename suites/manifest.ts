import type { SuiteDef } from '../src/index.js';

/**
 * The built-in suites by name, without loading them. A suite's module imports every test it has
 * and what those tests use (the CRI's gRPC client, the probe catalog, the GPU checks); loading all
 * nine costs a `tsuite run --suite boot` about 200 ms before anything boots. A command loads only
 * the suites it plans (`loadBuiltInSuites`); `suites/index.ts` still loads them all at once.
 * The order is `tsuite list`'s; test/unit/suite-manifest.test.ts holds it to the suites themselves.
 */
export interface BuiltInSuiteEntry {
  name: string;
  /** Left out of a plain `tsuite run`, as the suite's own `explicit` says. */
  explicit: boolean;
  load(): Promise<SuiteDef>;
}

export const builtInManifest: readonly BuiltInSuiteEntry[] = [
  { name: 'boot', explicit: false, load: async () => (await import('./boot/index.js')).default },
  { name: 'kernel', explicit: false, load: async () => (await import('./kernel/index.js')).default },
  { name: 'shell', explicit: false, load: async () => (await import('./shell/index.js')).default },
  { name: 'syscall', explicit: false, load: async () => (await import('./syscall/index.js')).default },
  { name: 'isolation', explicit: false, load: async () => (await import('./isolation/index.js')).default },
  { name: 'containers', explicit: false, load: async () => (await import('./containers/index.js')).default },
  { name: 'cri', explicit: false, load: async () => (await import('./cri/index.js')).default },
  { name: 'gpu', explicit: true, load: async () => (await import('./gpu/index.js')).default },
  { name: 'bench', explicit: true, load: async () => (await import('./bench/index.js')).default },
];

/** The built-in suites named (all when `names` is undefined), loaded at once, in manifest order; names that are not built in are ignored. */
export async function loadBuiltInSuites(names?: readonly string[]): Promise<SuiteDef[]> {
  const wanted = builtInManifest.filter((e) => names === undefined || names.includes(e.name));
  return Promise.all(wanted.map((e) => e.load()));
}
