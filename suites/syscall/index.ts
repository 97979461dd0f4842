import { readdirSync, readFileSync } from 'node:fs';
import { assetPath, defineSuite, type TestDef } from '../../src/index.js';
import { probeCatalog } from '../probe-catalog.js';
import { runProbe } from '../probe-runner.js';

/** What each family covers, for titles; the families themselves are the probe sources. */
const FAMILY_TITLES: Record<string, string> = {
  files: 'files and directories',
  fds: 'file descriptors and polling',
  memory: 'memory mappings',
  process: 'processes and threads',
  signals: 'signals',
  time: 'time and clocks',
  sockets: 'sockets',
  identity: 'identity and credentials',
  namespaces: 'namespaces and mounts',
  limits: 'resource limits',
  random: 'randomness',
  misc: 'miscellaneous',
  dirs: 'directories and file metadata',
  xattr: 'extended attributes',
  sched: 'scheduling and priorities',
  ipc: 'System V and POSIX IPC',
  aio: 'asynchronous I/O (AIO and io_uring)',
};

/** One probe per family of system calls: every fixtures/probes/<family>.c but the isolation probe. */
const families = readdirSync(assetPath('fixtures', 'probes'))
  .filter((f) => f.endsWith('.c') && f !== 'isolation.c')
  .map((f) => f.slice(0, -2))
  .sort();

const numbers = new Map<string, Record<string, number>>();

/** Syscall numbers per arch are data (fixtures/syscalls/<arch>.json), shown in the matrix. */
function syscallNumber(arch: string, name: string): number | undefined {
  if (!numbers.has(arch)) {
    try {
      numbers.set(arch, JSON.parse(readFileSync(assetPath('fixtures', 'syscalls', `${arch}.json`), 'utf8')) as Record<string, number>);
    } catch {
      numbers.set(arch, {});
    }
  }
  return numbers.get(arch)![name];
}

const familyTest = (family: string): TestDef => ({
  name: family,
  title: `${FAMILY_TITLES[family] ?? family}: each system call's return values, errnos and side effects as Linux gives them`,
  // Over the agent in the guest, or in a privileged container for a kernel that offers only a Docker Engine API.
  requires: [['agent', 'docker']],
  timeoutMs: 180_000,
  run: (ctx) => runProbe(ctx, family, `${family}/`, 170_000),
  describeChildren() {
    const { names, archSpecific } = probeCatalog(family);
    return {
      ids: names.map((n) => `${family}/${n}/…`),
      notes: ['runs as root in the guest (or in a privileged container from the tsuite/probes image over docker), with checks as uid 1000 where behaviour differs', ...(archSpecific.length ? [`only on some arches: ${archSpecific.join(', ')}`] : [])],
    };
  },
});

export default defineSuite({
  name: 'syscall',
  description: 'Linux system calls, family by family, judged against the behaviour of Linux itself (the reference guest)',
  tests: families.map(familyTest),
  conformance: {
    itemKind: 'syscall',
    itemDepth: 2,
    details(item, arch) {
      const nr = syscallNumber(arch, item.split('/')[1]!);
      return nr === undefined ? undefined : { number: nr };
    },
  },
});
