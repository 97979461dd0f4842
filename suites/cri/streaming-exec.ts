import type { RemoteCommand, RemoteCommandResult } from '../../src/index.js';
import { criExec, CriStreamError, openExec } from '../../src/index.js';
import { criTest } from './cri-test.js';
import { failureOf, same, streamOpts } from './streaming-checks.js';

/**
 * Exec over the runtime's streaming server: the URL the Exec RPC returns (mapped by
 * `cri.streamUrl` to where this host reaches it), opened the way the kubelet's clients open it.
 * The wire facts (no stdin half-close without a terminal, one-time tokens) are in
 * src/channels/cri-stream-wire.ts.
 */

/** Asks `stty size` until the terminal shows `want` (a resize travels apart from stdin, so it lands a moment later). */
async function sizeBecomes(ex: RemoteCommand, want: string): Promise<void> {
  let seen = '(no answer)';
  for (let i = 0; i < 20 && seen !== want; i++) {
    ex.write('stty size\n');
    const m = await ex.waitFor(/^(\d+ \d+)\r$/m, { timeoutMs: 1_500 }).catch(() => undefined);
    if (m) seen = m[1]!;
  }
  if (seen !== want) throw new Error(`stty size in the exec's terminal: expected '${want}' (rows columns) after the resize, saw '${seen}'`);
}

const LINES = ['alpha', 'beta', 'gamma'];
const MIB = 1024 * 1024;

export const execTests = [
  criTest({
    name: 'streaming-exec-stdout-stderr',
    title: 'Exec without a tty delivers stdout and stderr apart, and exit code 0',
    rpcs: ['Exec'],
    async run({ ctx, cri, scope }) {
      const { id } = await scope.podWithContainer();
      const r = await (await criExec(cri, { container_id: id, cmd: ['sh', '-c', 'echo to-out; echo to-err >&2; echo more-out'] }, streamOpts(ctx))).wait();
      same('exec stdout', r.stdout, 'to-out\nmore-out\n');
      same('exec stderr', r.stderr, 'to-err\n');
      same('exec exit code', r.exitCode, 0);
    },
  }),
  criTest({
    name: 'streaming-exec-exit-code',
    title: 'Exec reports a non-zero exit code, with the output written before it',
    rpcs: ['Exec'],
    async run({ ctx, cri, scope }) {
      const { id } = await scope.podWithContainer();
      const r = await (await criExec(cri, { container_id: id, cmd: ['sh', '-c', 'echo before; echo oops >&2; exit 42'] }, streamOpts(ctx))).wait();
      same('exec exit code', r.exitCode, 42);
      same('exec output', { stdout: r.stdout, stderr: r.stderr }, { stdout: 'before\n', stderr: 'oops\n' });
    },
  }),
  criTest({
    name: 'streaming-exec-missing-program',
    title: 'Exec of a program that does not exist fails naming it, never as exit 0',
    rpcs: ['Exec'],
    async run({ ctx, cri, scope }) {
      const { id } = await scope.podWithContainer();
      const program = '/no/such/program';
      let ended: RemoteCommandResult;
      try {
        ended = await (await criExec(cri, { container_id: id, cmd: [program] }, streamOpts(ctx))).wait();
      } catch (err) {
        // The RPC or the stream fails: containerd sends a Failure status (InternalError) with the exec error.
        if (err instanceof CriStreamError && err.kind === 'timeout') throw new Error(`exec of ${program} hung instead of failing: ${err.message}`);
        if (!(err as Error).message.includes(program)) throw new Error(`exec of ${program} failed without naming the program: ${(err as Error).message}`);
        return;
      }
      // A runtime that runs it through a shell answers 126/127: acceptable, if it says what was missing.
      if (ended.exitCode === 0) throw new Error(`exec of ${program} ended with exit code 0, expected a failure`);
      if (!`${ended.stdout}${ended.stderr}`.includes(program)) throw new Error(`exec of ${program} exited ${ended.exitCode} without naming the program: ${JSON.stringify(ended)}`);
    },
  }),
  criTest({
    name: 'streaming-exec-tty',
    title: 'Exec with a tty runs on a terminal that merges stderr into stdout; without one, not',
    rpcs: ['Exec'],
    async run({ ctx, cri, scope }) {
      const { id } = await scope.podWithContainer();
      // stdin too (kubectl exec -it): containerd 1.6 drops the output of a tty exec without stdin, and
      // the command waits for a line so that its output is read before it exits (a terminal's last
      // output can be lost at exit). Both are races in the runtime, not the behaviour tested here.
      const ex = await criExec(cri, { container_id: id, cmd: ['sh', '-c', 'tty; echo to-err >&2; read done'], stdin: true, tty: true }, streamOpts(ctx));
      const device = await ex.waitFor(/^(\S+)\r$/m, { timeoutMs: 10_000 }).catch((e: Error) => { throw new Error(`\`tty\` with tty set printed no line: ${e.message}`); });
      if (!/^\/dev\/(pts\/\d+|console|tty\w*)$/.test(device[1]!)) throw new Error(`\`tty\` with tty set: expected a terminal device, saw '${device[1]}'`);
      // A terminal has one output stream: stderr arrives on stdout, with the terminal's CRLF.
      await ex.waitFor(/to-err\r\n/, { timeoutMs: 10_000 }).catch((e: Error) => { throw new Error(`with tty set, stderr should reach stdout as 'to-err\\r\\n': ${e.message}`); });
      ex.write('\n');
      const onTty = await ex.wait();
      same('exit code of the tty exec', onTty.exitCode, 0);
      same('stderr with tty set', onTty.stderr, '');
      const noTty = await (await criExec(cri, { container_id: id, cmd: ['sh', '-c', 'echo to-err >&2; tty'] }, streamOpts(ctx))).wait();
      same('exit code of `tty` without a terminal', noTty.exitCode, 1);
      same('stderr without a terminal', noTty.stderr, 'to-err\n');
    },
  }),
  criTest({
    name: 'streaming-exec-tty-resize',
    title: 'Exec with a tty takes a terminal size sent at the start and another sent mid-session',
    rpcs: ['Exec'],
    async run({ ctx, cri, scope }) {
      const { id } = await scope.podWithContainer();
      const ex = await criExec(cri, { container_id: id, cmd: ['sh'], stdin: true, tty: true }, streamOpts(ctx));
      ex.resize({ width: 123, height: 45 });
      await sizeBecomes(ex, '45 123');
      ex.resize({ width: 80, height: 24 });
      await sizeBecomes(ex, '24 80');
      ex.write('exit 5\n');
      same('exit code of the tty shell', (await ex.wait()).exitCode, 5);
    },
  }),
  criTest({
    name: 'streaming-exec-stdin-lines',
    title: 'Exec with stdin answers each line before the next is sent, then exits with its code',
    rpcs: ['Exec'],
    async run({ ctx, cri, scope }) {
      const { id } = await scope.podWithContainer();
      const script = 'while read line; do [ "$line" = quit ] && exit 7; echo "got:$line"; done; echo eof';
      const ex = await criExec(cri, { container_id: id, cmd: ['sh', '-c', script], stdin: true }, streamOpts(ctx));
      for (const line of LINES) {
        ex.write(`${line}\n`);
        // The next line goes only once this one's answer came back: a round trip each time.
        await ex.waitFor(new RegExp(`got:${line}\\n`), { timeoutMs: 10_000 });
      }
      ex.write('quit\n');
      const r = await ex.wait();
      same('exit code after quit', r.exitCode, 7);
      same('stdout of the stdin loop', r.stdout, LINES.map((l) => `got:${l}\n`).join(''));
    },
  }),
  criTest({
    name: 'streaming-exec-tty-ctrl-d',
    title: "Ctrl-D on an exec's terminal ends a reading `cat`, and the command goes on",
    rpcs: ['Exec'],
    async run({ ctx, cri, scope }) {
      const { id } = await scope.podWithContainer();
      const ex = await criExec(cri, { container_id: id, cmd: ['sh', '-c', 'cat; echo cat-ended:$?; read done'], stdin: true, tty: true }, streamOpts(ctx));
      ex.write('typed\n');
      // The terminal echoes the line, then cat prints it: two copies.
      await ex.waitFor(/typed\r\n[^]*typed\r\n/, { timeoutMs: 10_000 });
      // Ctrl-D typed at the start of a line (what closeStdin() sends on a terminal over v4), written
      // as a byte so that the line that lets the shell finish can follow it.
      ex.write('\x04');
      await ex.waitFor(/cat-ended:(\d+)/, { timeoutMs: 10_000 }).then(
        (m) => same("cat's exit status after Ctrl-D", m[1], '0'),
        (e: Error) => { throw new Error(`after Ctrl-D, expected cat to end and 'cat-ended:0' on stdout: ${e.message}`); },
      );
      ex.write('\n');
      const r = await ex.wait();
      same('exit code after Ctrl-D', r.exitCode, 0);
    },
  }),
  criTest({
    name: 'streaming-exec-large-output',
    title: 'Exec delivers 1 MiB of output complete and in order',
    rpcs: ['Exec'],
    async run({ ctx, cri, scope }) {
      const { id } = await scope.podWithContainer();
      const ex = await criExec(cri, { container_id: id, cmd: ['sh', '-c', "head -c 1048576 /dev/zero | tr '\\0' a; echo end >&2"] }, streamOpts(ctx));
      const r = await ex.wait();
      same('exit code', r.exitCode, 0);
      const out = ex.bytes('stdout');
      same('stdout bytes', out.length, MIB);
      const odd = out.findIndex((b) => b !== 0x61);
      if (odd >= 0) throw new Error(`stdout byte ${odd} is 0x${out[odd]!.toString(16)}, expected 'a' (0x61) throughout`);
      same('stderr after the large stdout', r.stderr, 'end\n');
    },
  }),
  criTest({
    name: 'streaming-exec-env',
    title: "Exec sees the container's environment (its config's envs and the image's PATH)",
    rpcs: ['Exec'],
    async run({ ctx, cri, scope }) {
      const value = `v-${scope.id} with spaces`;
      const { id } = await scope.podWithContainer('main', { envs: [{ key: 'TSUITE_STREAM_ENV', value }] });
      const r = await (await criExec(cri, { container_id: id, cmd: ['sh', '-c', 'printf "%s|%s" "$TSUITE_STREAM_ENV" "$PATH"'] }, streamOpts(ctx))).wait();
      same('exit code', r.exitCode, 0);
      const [seen, path] = r.stdout.split('|');
      same('TSUITE_STREAM_ENV in the exec', seen, value);
      if (!path?.split(':').includes('/bin')) throw new Error(`PATH in the exec should include /bin (so \`sh\` resolved); saw ${JSON.stringify(path)}`);
    },
  }),
  criTest({
    name: 'streaming-exec-stopped-container',
    title: 'Exec into a stopped container fails promptly, saying the container is not running',
    rpcs: ['Exec'],
    async run({ ctx, cri, scope }) {
      const { id } = await scope.podWithContainer();
      await cri.runtime('StopContainer', { container_id: id, timeout: 10 }, { timeoutMs: 60_000, signal: ctx.signal });
      await scope.waitStatus(id, (s) => s.state === 'CONTAINER_EXITED', 'exit after StopContainer');
      const err = await failureOf(async () => (await criExec(cri, { container_id: id, cmd: ['echo', 'hi'] }, streamOpts(ctx))).wait(), 'exec into a stopped container');
      if (err instanceof CriStreamError && err.kind === 'timeout') throw new Error(`exec into a stopped container hung: ${err.message}`);
      if (!/not running|stopped|exited|state/i.test(err.message)) throw new Error(`exec into a stopped container failed without saying it is not running: ${err.message}`);
    },
  }),
  criTest({
    name: 'streaming-exec-url-one-time',
    title: 'An Exec URL works once; opening it again is refused with 404',
    rpcs: ['Exec'],
    async run({ ctx, cri, scope }) {
      const { id } = await scope.podWithContainer();
      const { url } = await cri.runtime<{ url: string }>('Exec', { container_id: id, cmd: ['echo', 'once'], stdout: true }, { signal: ctx.signal });
      const first = await (await openExec(cri.streamUrl(url), streamOpts(ctx))).wait();
      same('first use of the URL', { exitCode: first.exitCode, stdout: first.stdout }, { exitCode: 0, stdout: 'once\n' });
      const err = await failureOf(async () => (await openExec(cri.streamUrl(url), streamOpts(ctx))).wait(), 'opening a used Exec URL again');
      if (!(err instanceof CriStreamError) || err.details.httpStatus !== 404) throw new Error(`a used Exec URL should be answered 404; got ${err.message}`);
    },
  }),
];
