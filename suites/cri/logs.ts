import type { Cri, CriChannel, TestContext, TestDef } from '../../src/index.js';
import { criTest } from './cri-test.js';
import { lines, messages, readLog, type LogRecord } from './cri-log.js';
import type { CriFixture } from './fixture.js';
import { runToExit, sh } from './logged-container.js';
import { logReopenTests } from './logs-reopen.js';
import type { CriScope } from './scope.js';

/** Enough to compare: the stream's last expected line arrived (what came before it is in), or as many lines as expected. */
const complete = (stream: 'stdout' | 'stderr', want: readonly string[]) => (r: LogRecord[]) => {
  const got = lines(r, stream);
  return got.length >= want.length || (got.length > 0 && got.at(-1) === want.at(-1));
};

function expectLines(records: LogRecord[], stream: 'stdout' | 'stderr', want: readonly string[], path: string): void {
  const got = lines(records, stream);
  const at = got.findIndex((l, i) => l !== want[i]);
  if (got.length === want.length && at < 0) return;
  const show = (l: readonly string[]) => JSON.stringify(l.length > 12 ? [...l.slice(0, 6), '…', ...l.slice(-4)] : l);
  // Text that looks the same may differ in bytes (a changed encoding, a decomposed accent).
  const hex = (t: string | undefined) => (t === undefined ? 'none' : Buffer.from(t).subarray(0, 40).toString('hex'));
  const first = at < 0 ? '' : `; line ${at + 1} of ${stream} is ${hex(got[at])} in hex, expected ${hex(want[at])}`;
  throw new Error(`${stream} lines of ${path} are ${show(got)} (${got.length}); expected ${show(want)} (${want.length})${first}`);
}

/** The runtime's maximum log line size from its verbose Status config (containerd: maxContainerLogSize), if it says. */
async function maxLineSize(cri: CriChannel): Promise<number | undefined> {
  const s = await cri.runtime<Cri.StatusResponse>('Status', { verbose: true });
  for (const value of Object.values(s.info)) {
    try {
      const size = (JSON.parse(value) as { maxContainerLogSize?: unknown }).maxContainerLogSize;
      if (typeof size === 'number') return size;
    } catch {
      /* not JSON */
    }
  }
  return undefined;
}

/**
 * A line longer than the runtime's maximum must come back whole from its parts (P records, then
 * the F that ends it), none longer than the maximum when the runtime says what it is (else any
 * split, or none, passes). `unit` is repeated to make the line: a 3-byte character makes the
 * runtime cut inside one.
 */
async function longLineTest({ ctx, cri, fx, scope }: { ctx: TestContext; cri: CriChannel; fx: CriFixture; scope: CriScope }, unit: string): Promise<void> {
  const max = await maxLineSize(cri);
  if (max !== undefined && max <= 0) ctx.skip(`the runtime does not split long log lines (its max line size is ${max})`);
  const limit = max ?? 16 * 1024;
  const count = Math.ceil((limit * 2.5) / Buffer.byteLength(unit));
  const want = unit.repeat(count);
  const { files, path } = await runToExit(ctx, fx, scope, sh('yes "$1" | head -n "$2" | tr -d "\\n"; echo; echo done', unit, String(count)));
  const records = await readLog(files, path, complete('stdout', ['', 'done']), 'hold the long line and `done`');
  const [line, done] = messages(records, 'stdout');
  if (!line || done?.text !== 'done') throw new Error(`${path} does not hold the long line then 'done' (${messages(records).length} messages)`);
  if (max !== undefined) {
    if (line.parts.length < 2) throw new Error(`the ${Buffer.byteLength(want)}-byte line was written as one record, though the runtime's max line size is ${max}`);
    const over = line.parts.find((p) => p.text.length > max);
    if (over) throw new Error(`line ${over.line} of ${path} holds ${over.text.length} bytes of the long line, more than the runtime's max line size ${max}`);
  }
  if (!line.bytes.equals(Buffer.from(want))) {
    const at = [...line.bytes].findIndex((b, i) => b !== Buffer.from(want)[i]);
    throw new Error(`the ${line.parts.length} parts of the long line join to ${line.bytes.length} bytes, not the ${Buffer.byteLength(want)} written (first difference at byte ${at})`);
  }
}

/** The CRI log format: each line of the container's output as a record at `<log_directory>/<log_path>` on the node. */
export const logTests: TestDef[] = [
  criTest({
    name: 'logs-format',
    title: 'Each output line is one record `<RFC3339Nano> <stdout|stderr> F <text>` in <log_directory>/<log_path>',
    rpcs: ['CreateContainer', 'StartContainer'],
    async run({ ctx, fx, scope }) {
      const { files, path } = await runToExit(ctx, fx, scope, sh('echo hello; echo to-stderr >&2; echo bye'));
      const records = await readLog(files, path, (r) => r.length >= 3, 'hold 3 records');
      const shown = records.map((r) => `${r.stream} ${r.partial ? 'P' : 'F'} ${r.text.toString('utf8')}`);
      for (const want of ['stdout F hello', 'stderr F to-stderr', 'stdout F bye']) {
        if (!shown.includes(want)) throw new Error(`${path} has no record '<time> ${want}'; its records: ${JSON.stringify(shown)}`);
      }
      if (records.length !== 3) throw new Error(`${path} holds ${records.length} records for 3 lines of output: ${JSON.stringify(shown)}`);
    },
  }),
  criTest({
    name: 'logs-streams',
    title: 'stdout and stderr lines are tagged with their stream, in order within each, and in order across them when apart in time',
    rpcs: ['CreateContainer', 'StartContainer'],
    async run({ ctx, fx, scope }) {
      const n = Array.from({ length: 10 }, (_, i) => i + 1);
      const script = 'for i in 1 2 3 4 5 6 7 8 9 10; do echo out-$i; echo err-$i >&2; done; sleep 1; echo late-err >&2; sleep 1; echo last-out';
      const { files, path } = await runToExit(ctx, fx, scope, sh(script));
      const out = [...n.map((i) => `out-${i}`), 'last-out'];
      const err = [...n.map((i) => `err-${i}`), 'late-err'];
      const records = await readLog(files, path, (r) => complete('stdout', out)(r) && complete('stderr', err)(r), 'hold every line');
      expectLines(records, 'stdout', out, path);
      expectLines(records, 'stderr', err, path);
      // A second apart, the order between streams is the order of writing.
      const lineOf = (text: string) => records.find((r) => r.text.toString() === text)!.line;
      const order = ['out-10', 'late-err', 'last-out'].map(lineOf);
      if (!(order[0]! < order[1]! && order[1]! < order[2]!)) throw new Error(`in ${path}, out-10, late-err and last-out (written 1 s apart) are at lines ${order.join(', ')}`);
    },
  }),
  criTest({
    name: 'logs-timestamps',
    title: 'Record times are RFC3339Nano, never decrease within a stream, and fall between the container’s creation and its exit',
    rpcs: ['CreateContainer', 'StartContainer', 'ContainerStatus'],
    async run({ ctx, fx, scope }) {
      const script = 'for i in $(seq 1 30); do echo t-$i; echo e-$i >&2; if [ $((i % 10)) = 0 ]; then sleep 0.2; fi; done';
      const { files, path, status } = await runToExit(ctx, fx, scope, sh(script));
      const records = await readLog(files, path, (r) => lines(r, 'stdout').length >= 30 && lines(r, 'stderr').length >= 30, 'hold 60 lines');
      // created_at is a float64 of ns: allow its rounding. The upper bound allows for a runtime that stamps the last lines late.
      const from = BigInt(Math.floor(status.created_at)) - 1_000_000n;
      const to = BigInt(Math.floor(status.finished_at)) + 60_000_000_000n;
      for (const stream of ['stdout', 'stderr'] as const) {
        let last: LogRecord | undefined;
        for (const r of records.filter((x) => x.stream === stream)) {
          if (last && r.ns < last.ns) throw new Error(`${stream} times go back in ${path}: line ${last.line} at ${last.time}, line ${r.line} at ${r.time}`);
          if (r.ns < from || r.ns > to) throw new Error(`line ${r.line} of ${path} is stamped ${r.time}, outside the container's life (created ${new Date(status.created_at / 1e6).toISOString()}, finished ${new Date(status.finished_at / 1e6).toISOString()})`);
          last = r;
        }
      }
    },
  }),
  criTest({
    name: 'logs-long-line',
    title: "A line longer than the runtime's max log line size is split into P records and a last F record that join to it",
    rpcs: ['CreateContainer', 'StartContainer', 'Status'],
    run: (t) => longLineTest(t, '0123456789abcdefghijklmnopqrstuvwxyz'),
  }),
  criTest({
    name: 'logs-long-line-utf8',
    title: 'A long line of 3-byte UTF-8 characters, split by the runtime, joins back to the same text',
    rpcs: ['CreateContainer', 'StartContainer', 'Status'],
    run: (t) => longLineTest(t, '✓'),
  }),
  criTest({
    name: 'logs-utf8',
    title: 'UTF-8 text (accents, Greek, CJK, emoji) and tabs survive in the log byte for byte',
    rpcs: ['CreateContainer', 'StartContainer'],
    async run({ ctx, fx, scope }) {
      const want = ['héllo wörld', 'Ελληνικά', '日本語のテキスト', 'emoji 🚀 ✓', 'tab\there', 'trailing space '];
      const { files, path } = await runToExit(ctx, fx, scope, sh('printf "%s\\n" "$@"', ...want));
      expectLines(await readLog(files, path, complete('stdout', want), 'hold every line'), 'stdout', want, path);
    },
  }),
  criTest({
    name: 'logs-no-trailing-newline',
    title: 'Output that ends without a newline at exit is kept, as a P (partial) record',
    rpcs: ['CreateContainer', 'StartContainer'],
    async run({ ctx, fx, scope }) {
      const { files, path } = await runToExit(ctx, fx, scope, sh('echo first; printf "no newline at exit"'));
      const records = await readLog(files, path, (r) => messages(r, 'stdout').length >= 2, 'hold both outputs');
      const all = messages(records, 'stdout');
      const last = all[all.length - 1]!;
      if (all.length !== 2 || all[0]!.text !== 'first' || last.text !== 'no newline at exit') throw new Error(`stdout of ${path} is ${JSON.stringify(all.map((m) => m.text))}; expected ["first", "no newline at exit"]`);
      if (last.complete) throw new Error(`the last output had no newline, but ${path} tags its record F (line ${last.parts.at(-1)!.line}); CRI tags an unfinished line P`);
    },
  }),
  criTest({
    name: 'logs-empty-lines',
    title: 'Empty lines are records with empty text, in place',
    rpcs: ['CreateContainer', 'StartContainer'],
    async run({ ctx, fx, scope }) {
      const want = ['a', '', '', 'b'];
      const { files, path } = await runToExit(ctx, fx, scope, sh('echo a; echo; echo; echo b'));
      expectLines(await readLog(files, path, complete('stdout', want), 'hold 4 lines'), 'stdout', want, path);
    },
  }),
  criTest({
    name: 'logs-status-path',
    title: 'ContainerStatus.log_path is <log_directory>/<log_path>, and the log is there, in a folder the runtime made',
    rpcs: ['ContainerStatus', 'CreateContainer'],
    async run({ ctx, fx, scope }) {
      // The kubelet's layout: <container name>/<restart count>.log.
      const { files, path, status } = await runToExit(ctx, fx, scope, sh('echo where-am-i'), { log_path: 'c/0.log' });
      if (status.log_path !== path) throw new Error(`ContainerStatus.log_path is '${status.log_path}'; expected '${path}' (log_directory + log_path)`);
      expectLines(await readLog(files, path, complete('stdout', ['where-am-i']), 'hold the line'), 'stdout', ['where-am-i'], path);
    },
  }),
  criTest({
    name: 'logs-exit-immediately',
    title: 'A container that writes 5000 lines and exits at once has every line in its log',
    rpcs: ['CreateContainer', 'StartContainer'],
    async run({ ctx, fx, scope }) {
      const want = Array.from({ length: 5000 }, (_, i) => String(i + 1));
      const { files, path } = await runToExit(ctx, fx, scope, ['seq', '1', '5000']);
      expectLines(await readLog(files, path, complete('stdout', want), 'hold 5000 lines'), 'stdout', want, path);
    },
  }),
  criTest({
    name: 'logs-tty',
    title: "A tty container's output (stderr too) is logged as stdout",
    rpcs: ['CreateContainer', 'StartContainer'],
    async run({ ctx, fx, scope }) {
      const { files, path } = await runToExit(ctx, fx, scope, sh('echo on-out; echo on-err >&2'), { tty: true });
      const records = await readLog(files, path, (r) => lines(r, 'stdout').length + lines(r, 'stderr').length >= 2, 'hold both lines');
      const stderr = records.filter((r) => r.stream === 'stderr');
      if (stderr.length > 0) throw new Error(`a tty has one stream, but ${path} tags line ${stderr[0]!.line} stderr`);
      // A terminal ends lines with CR LF.
      const got = lines(records, 'stdout').map((l) => l.replace(/\r$/, ''));
      if (got.join('|') !== 'on-out|on-err') throw new Error(`stdout lines of ${path} are ${JSON.stringify(got)}; expected ["on-out", "on-err"]`);
    },
  }),
  ...logReopenTests,
];
