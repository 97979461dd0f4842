import type Dockerode from 'dockerode';
import type { TestDef } from '../../src/index.js';
import { dockerTest, type Scope } from './scope.js';
import { demuxBuffer, engineTimeNs, followLogs, parseTimestamped, type TimestampedLine } from './streams.js';

const lines = (text: string) => text.split('\n').filter((l) => l !== '');

/** GET /containers/{id}/logs, not following, demultiplexed. */
async function logsOf(s: Scope, c: Dockerode.Container, opts: Omit<Dockerode.ContainerLogsOptions, 'follow'> = { stdout: true, stderr: true }) {
  return demuxBuffer(s.api, await c.logs({ ...opts, follow: false, abortSignal: s.signal }));
}

/** Each line parsed as `<RFC 3339 time> <text>`; fails naming the first line that is not. */
function timestamped(text: string): TimestampedLine[] {
  return lines(text).map((l) => {
    const t = parseTimestamped(l);
    if (!t) throw new Error(`a timestamps log line does not start with an RFC 3339 time: ${JSON.stringify(l)}`);
    return t;
  });
}

export const logTests: TestDef[] = [
  dockerTest({
    name: 'logs-stdout-stderr',
    title: 'logs: stdout and stderr come back apart, in order, and each alone when only it is asked for',
    async run(s) {
      const r = await s.run(s.images.busybox, ['sh', '-c', 'echo out-1; echo err-1 >&2; echo out-2; echo err-2 >&2']);
      if (r.stdout !== 'out-1\nout-2\n' || r.stderr !== 'err-1\nerr-2\n') throw new Error(`stdout ${JSON.stringify(r.stdout)}, stderr ${JSON.stringify(r.stderr)}`);
      const onlyOut = await logsOf(s, r.container, { stdout: true, stderr: false });
      if (onlyOut.stdout !== 'out-1\nout-2\n' || onlyOut.stderr !== '') throw new Error(`stdout=1 stderr=0 gave stdout ${JSON.stringify(onlyOut.stdout)}, stderr ${JSON.stringify(onlyOut.stderr)}`);
      const onlyErr = await logsOf(s, r.container, { stdout: false, stderr: true });
      if (onlyErr.stderr !== 'err-1\nerr-2\n' || onlyErr.stdout !== '') throw new Error(`stdout=0 stderr=1 gave stdout ${JSON.stringify(onlyErr.stdout)}, stderr ${JSON.stringify(onlyErr.stderr)}`);
    },
  }),
  dockerTest({
    name: 'logs-follow',
    title: 'logs follow: lines arrive while the container runs, and the stream ends when it exits',
    async run(s) {
      // The container waits for a line on stdin before its last output, so "while it runs" is certain, not timed.
      const c = await s.startContainer({ Image: s.images.busybox, Cmd: ['sh', '-c', 'echo first; echo err-first >&2; read x; echo "last:$x"'], OpenStdin: true });
      const logs = await followLogs(s.api, c, s.signal);
      await logs.stdout.waitFor('first\n', s.signal);
      await logs.stderr.waitFor('err-first\n', s.signal);
      const st = (await c.inspect()).State;
      if (!st.Running) throw new Error(`the followed lines arrived, but the container is already ${st.Status}`);
      const stdin = await c.attach({ stream: true, stdin: true, hijack: true });
      stdin.end('go\n');
      await logs.ended;
      if (logs.stdout.text !== 'first\nlast:go\n') throw new Error(`followed stdout is ${JSON.stringify(logs.stdout.text)}`);
      const code = ((await c.wait({ abortSignal: s.signal })) as { StatusCode: number }).StatusCode;
      if (code !== 0) throw new Error(`the container exited ${code}`);
    },
  }),
  dockerTest({
    name: 'logs-since',
    title: 'logs since: only the lines logged at or after the given time (taken from the log timestamps)',
    async run(s) {
      const c = await s.startContainer({ Image: s.images.busybox, Cmd: ['sh', '-c', 'echo early-1; echo early-2; read x; echo late-1; echo late-2'], OpenStdin: true });
      const logs = await followLogs(s.api, c, s.signal, { timestamps: true });
      await logs.stdout.waitFor('early-2\n', s.signal);
      const stdin = await c.attach({ stream: true, stdin: true, hijack: true });
      stdin.end('go\n');
      await logs.ended;
      const all = timestamped(logs.stdout.text);
      const late = all.find((l) => l.text === 'late-1');
      if (!late || all.length !== 4) throw new Error(`the logs with timestamps are ${JSON.stringify(logs.stdout.text)}`);
      // since takes seconds with a nanosecond fraction: "1700000000.123456789".
      const since = `${late.ns / 1_000_000_000n}.${String(late.ns % 1_000_000_000n).padStart(9, '0')}`;
      const after = await logsOf(s, c, { stdout: true, stderr: true, since });
      if (after.stdout !== 'late-1\nlate-2\n') throw new Error(`since=${since} (late-1's time) gave ${JSON.stringify(after.stdout)}, not late-1 and late-2`);
      const future = await logsOf(s, c, { stdout: true, stderr: true, since: `${late.ns / 1_000_000_000n + 3600n}` });
      if (future.stdout !== '') throw new Error(`since an hour after the last line gave ${JSON.stringify(future.stdout)}`);
    },
  }),
  dockerTest({
    name: 'logs-timestamps',
    title: "logs timestamps: each line starts with an RFC 3339 nanosecond time, in order, on the engine's clock between the container's creation and now",
    async run(s) {
      const r = await s.run(s.images.busybox, ['sh', '-c', 'for i in 1 2 3 4 5; do echo "line-$i"; done; echo to-err >&2']);
      const both = await logsOf(s, r.container, { stdout: true, stderr: true, timestamps: true });
      const out = timestamped(both.stdout);
      const err = timestamped(both.stderr);
      if (out.map((l) => l.text).join(',') !== 'line-1,line-2,line-3,line-4,line-5' || err.map((l) => l.text).join(',') !== 'to-err')
        throw new Error(`timestamped logs: stdout ${JSON.stringify(both.stdout)}, stderr ${JSON.stringify(both.stderr)}`);
      for (const l of [...out, ...err]) if (!/\.\d{9}Z$|\.\d{9}[+-]\d{2}:\d{2}$/.test(l.time)) throw new Error(`timestamp ${l.time} lacks nanoseconds (RFC3339Nano)`);
      for (let i = 1; i < out.length; i++) if (out[i]!.ns < out[i - 1]!.ns) throw new Error(`timestamps go backwards: ${out[i - 1]!.time} then ${out[i]!.time}`);
      // Stamped by the engine's clock as it read each line: not before the container was created, not after now.
      const created = engineTimeNs(r.info.Created);
      const now = engineTimeNs((await s.api.info()).SystemTime);
      for (const l of [...out, ...err]) if (l.ns < created || l.ns > now) throw new Error(`line ${l.text} is stamped ${l.time}, outside the engine's ${r.info.Created} (created) – ${new Date(Number(now / 1_000_000n)).toISOString()} (now)`);
    },
  }),
  dockerTest({
    name: 'logs-tail',
    title: 'logs tail: only the last N lines',
    async run(s) {
      const r = await s.run(s.images.busybox, ['sh', '-c', 'for i in 1 2 3 4 5 6; do echo "t-$i"; done']);
      const tail = await logsOf(s, r.container, { stdout: true, stderr: true, tail: 2 });
      if (tail.stdout !== 't-5\nt-6\n') throw new Error(`tail=2 gave ${JSON.stringify(tail.stdout)}`);
      const none = await logsOf(s, r.container, { stdout: true, stderr: true, tail: 0 });
      if (none.stdout !== '') throw new Error(`tail=0 gave ${JSON.stringify(none.stdout)}`);
    },
  }),
];
