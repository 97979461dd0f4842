import type Dockerode from 'dockerode';
import type { TestDef } from '../../src/index.js';
import { shIn, startIdle } from './container-exec.js';
import { jsonReport } from './custom-images.js';
import { dockerTest, type Scope } from './scope.js';
import { demuxBuffer } from './streams.js';

interface FsioReport {
  written: number;
  read?: number;
  crc?: string;
  expected_crc?: string;
  verified: boolean;
  error?: string;
}

const MiB = 1024 * 1024;

/** Starts a created (or exited) container, waits for its end, and returns its whole stdout log so far. */
async function startAndLog(s: Scope, c: Dockerode.Container): Promise<string> {
  await c.start({ abortSignal: s.signal });
  await c.wait({ abortSignal: s.signal });
  const body = await c.logs({ stdout: true, stderr: true, follow: false, abortSignal: s.signal });
  return (await demuxBuffer(s.api, body)).stdout;
}
const volumeAt = (name: string, Target: string, ReadOnly = false) => ({ Type: 'volume' as const, Source: name, Target, ReadOnly });

export const volumesTests: TestDef[] = [
  dockerTest({
    name: 'volumes-named-persist',
    title: 'a named volume keeps 4 MiB fsio wrote after its container is removed; a second volume does not have it',
    timeoutMs: 150_000,
    async run(s) {
      const vol = await s.volume();
      const other = await s.volume();
      const writer = await s.run(s.images.fsio, ['/data', '4'], { HostConfig: { Mounts: [volumeAt(vol.name, '/data')] } });
      const wrote = jsonReport<FsioReport>(writer.stdout, 'fsio');
      if (writer.exitCode !== 0 || !wrote.verified || wrote.written !== 4 * MiB) throw new Error(`fsio writing to the volume: ${writer.stdout.trim()}`);
      await writer.container.remove({ v: false });

      const reader = await s.run(s.images.fsio, ['/data', '4', 'verify'], { HostConfig: { Mounts: [volumeAt(vol.name, '/data')] } });
      const read = jsonReport<FsioReport>(reader.stdout, 'fsio verify');
      if (reader.exitCode !== 0 || !read.verified || read.read !== 4 * MiB || read.crc !== wrote.crc) {
        throw new Error(`a new container reading the volume back: ${reader.stdout.trim()} (written with crc ${wrote.crc})`);
      }
      const stranger = await s.run(s.images.fsio, ['/data', '4', 'verify'], { HostConfig: { Mounts: [volumeAt(other.name, '/data')] } });
      const none = jsonReport<FsioReport>(stranger.stdout, 'fsio verify');
      if (stranger.exitCode === 0 || none.verified || !/No such file/.test(none.error ?? '')) throw new Error(`another volume has the file: ${stranger.stdout.trim()}`);
    },
  }),
  dockerTest({
    name: 'volumes-bind-shared',
    title: "a bind mount of a volume's directory is shared live between containers: each sees what the other writes",
    timeoutMs: 150_000,
    async run(s) {
      const vol = await s.volume();
      // The volume's directory on the engine's host: a bind source that exists wherever the engine runs.
      const source = ((await vol.inspect()) as { Mountpoint: string }).Mountpoint;
      if (!source?.startsWith('/')) throw new Error(`the volume's Mountpoint is ${JSON.stringify(source)}`);
      const bind = (Target: string) => ({ HostConfig: { Mounts: [{ Type: 'bind' as const, Source: source, Target }] } });
      const a = await startIdle(s, bind('/shared'));
      const b = await startIdle(s, bind('/elsewhere'));
      await shIn(s, a, 'echo written-by-a > /shared/a.txt');
      const inB = await shIn(s, b, 'cat /elsewhere/a.txt && echo written-by-b > /elsewhere/b.txt');
      if (inB.trim() !== 'written-by-a') throw new Error(`B reads ${JSON.stringify(inB)} through its bind mount`);
      const inA = await shIn(s, a, 'cat /shared/b.txt');
      if (inA.trim() !== 'written-by-b') throw new Error(`A reads ${JSON.stringify(inA)} through its bind mount`);
      // The same files through the volume itself.
      const viaVolume = await s.run(s.images.busybox, ['cat', '/v/a.txt', '/v/b.txt'], { HostConfig: { Mounts: [volumeAt(vol.name, '/v')] } });
      if (viaVolume.stdout !== 'written-by-a\nwritten-by-b\n') throw new Error(`the volume holds ${JSON.stringify(viaVolume.stdout)}`);
    },
  }),
  dockerTest({
    name: 'volumes-read-only',
    title: 'a read-only volume mount and a read-only bind mount can be read but writes fail with EROFS',
    timeoutMs: 150_000,
    async run(s) {
      const vol = await s.volume();
      const seed = await s.run(s.images.busybox, ['sh', '-c', 'echo seed > /v/seed'], { HostConfig: { Mounts: [volumeAt(vol.name, '/v')] } });
      if (seed.exitCode !== 0) throw new Error(`seeding the volume failed: ${seed.stderr}`);
      const source = ((await vol.inspect()) as { Mountpoint: string }).Mountpoint;
      const script = 'cat /v/seed; echo x > /v/new; echo "write=$?"; touch /v/seed; echo "touch=$?"';
      for (const [what, mount] of [
        ['volume', volumeAt(vol.name, '/v', true)],
        ['bind', { Type: 'bind' as const, Source: source, Target: '/v', ReadOnly: true }],
      ] as const) {
        const r = await s.run(s.images.busybox, ['sh', '-c', script], { HostConfig: { Mounts: [mount] } });
        if (!r.stdout.startsWith('seed\n')) throw new Error(`the read-only ${what} mount cannot be read: ${JSON.stringify(r.stdout + r.stderr)}`);
        if (!/write=[1-9]/.test(r.stdout) || !/touch=[1-9]/.test(r.stdout)) throw new Error(`writes to the read-only ${what} mount succeeded: ${JSON.stringify(r.stdout)}`);
        if (!/Read-only file system/.test(r.stderr)) throw new Error(`writes to the read-only ${what} mount failed, but not with EROFS: ${JSON.stringify(r.stderr)}`);
      }
      const after = await s.run(s.images.busybox, ['ls', '/v'], { HostConfig: { Mounts: [volumeAt(vol.name, '/v')] } });
      if (after.stdout.trim() !== 'seed') throw new Error(`after the read-only runs the volume holds ${JSON.stringify(after.stdout)}`);
    },
  }),
  dockerTest({
    name: 'volumes-tmpfs',
    title: 'a 1 MiB tmpfs mount on a read-only root: writable up to its size (then ENOSPC), the root refuses writes, and it is empty again after a restart',
    timeoutMs: 150_000,
    async run(s) {
      const script = [
        'grep " /scratch " /proc/mounts',
        'echo "ls=[$(ls /scratch | tr "\\n" " ")]"',
        'echo kept > /scratch/note && echo "note=ok"',
        'dd if=/dev/zero of=/scratch/big bs=1024 count=2048 2>&1; echo "dd=$?"',
        'touch /rootfile 2>&1; echo "root=$?"',
      ].join('; ');
      const c = await s.createContainer({
        Image: s.images.busybox,
        Cmd: ['sh', '-c', script],
        HostConfig: { ReadonlyRootfs: true, Mounts: [{ Type: 'tmpfs', Source: '', Target: '/scratch', TmpfsOptions: { SizeBytes: MiB, Mode: 0o1777 } }] },
      });
      const first = await startAndLog(s, c);
      const mountLine = first.split('\n')[0] ?? '';
      if (!/^\S+ \/scratch tmpfs /.test(mountLine) || !/size=1024k/.test(mountLine)) throw new Error(`/scratch is not a 1 MiB tmpfs: ${JSON.stringify(mountLine)}`);
      if (!first.includes('note=ok')) throw new Error(`writing to the tmpfs failed: ${JSON.stringify(first)}`);
      if (!/No space left on device/.test(first) || !/dd=[1-9]/.test(first)) throw new Error(`writing 2 MiB to a 1 MiB tmpfs did not fail with ENOSPC: ${JSON.stringify(first)}`);
      if (!/Read-only file system/.test(first) || !/root=[1-9]/.test(first)) throw new Error(`writing to the read-only root did not fail with EROFS: ${JSON.stringify(first)}`);
      // Started again: a fresh tmpfs, without the files of the first run.
      const second = (await startAndLog(s, c)).slice(first.length);
      if (!first.includes('ls=[]')) throw new Error(`the new tmpfs was not empty: ${JSON.stringify(first)}`);
      if (!second.includes('ls=[]')) throw new Error(`after a restart the tmpfs is not empty: ${JSON.stringify(second)}`);
    },
  }),
];
