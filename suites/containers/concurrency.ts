import { createHash } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type { TestDef } from '../../src/index.js';
import { dockerTest } from './scope.js';

const COUNT = 10;

/** What `seq 1 n | sha256sum` prints, computed here. */
const seqSha = (n: number) =>
  createHash('sha256')
    .update(Array.from({ length: n }, (_, i) => `${i + 1}\n`).join(''))
    .digest('hex');

export const concurrencyTests: TestDef[] = [
  dockerTest({
    name: 'concurrency-ten-containers',
    title: '10 containers created and started at once all run at the same time (a barrier on a shared volume), do their work and exit 0, each with its own id, hostname and log',
    timeoutMs: 240_000,
    async run(s) {
      // Every request in flight listens on the test's signal: ten at once is expected, not a leak.
      setMaxListeners(8 * COUNT, s.signal);
      const vol = await s.volume();
      // Each one checks in, then waits until all have: it can only get past the barrier if all ten run at once.
      const script = [
        'touch /sync/$I',
        'n=0; while [ $(ls /sync | wc -l) -lt $COUNT ]; do n=$((n+1)); [ $n -gt 900 ] && { echo "barrier timed out with $(ls /sync | wc -l)"; exit 3; }; usleep 200000; done',
        'echo "host=$(hostname) i=$I sum=$(seq 1 $((I * 1000)) | sha256sum | cut -d" " -f1)"',
      ].join('; ');
      const runs = await Promise.all(
        Array.from({ length: COUNT }, (_, i) =>
          s.run(s.images.busybox, ['sh', '-c', script], { Env: [`I=${i + 1}`, `COUNT=${COUNT}`], HostConfig: { Mounts: [{ Type: 'volume', Source: vol.name, Target: '/sync' }] } }),
        ),
      );
      const problems: string[] = [];
      const hostnames = new Set<string>();
      runs.forEach((r, idx) => {
        const i = idx + 1;
        const want = `host=${r.info.Config.Hostname} i=${i} sum=${seqSha(i * 1000)}\n`;
        if (r.exitCode !== 0 || r.stdout !== want) problems.push(`container ${i} exited ${r.exitCode} printing ${JSON.stringify(r.stdout + r.stderr)}, not ${JSON.stringify(want)}`);
        hostnames.add(r.info.Config.Hostname);
      });
      const ids = new Set(runs.map((r) => r.container.id));
      if (ids.size !== COUNT) problems.push(`${ids.size} distinct container ids for ${COUNT} containers`);
      if (hostnames.size !== COUNT) problems.push(`${hostnames.size} distinct hostnames for ${COUNT} containers: ${[...hostnames].join(', ')}`);
      if (problems.length) throw new Error(problems.join('; '));
    },
  }),
];
