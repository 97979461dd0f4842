import type { TestDef } from '../../src/index.js';
import { execEnded, execIn, startIdle } from './container-exec.js';
import { dockerTest } from './scope.js';
import { demux } from './streams.js';

export const execTests: TestDef[] = [
  dockerTest({
    name: 'exec-output',
    title: 'exec without a TTY: stdout and stderr apart, the exit code in ExecInspect, the exec a process of the container',
    async run(s) {
      const c = await startIdle(s);
      const r = await execIn(s, c, ['sh', '-c', 'echo out; echo err >&2; exit 3']);
      if (r.stdout !== 'out\n' || r.stderr !== 'err\n') throw new Error(`exec stdout ${JSON.stringify(r.stdout)}, stderr ${JSON.stringify(r.stderr)}`);
      if (r.exitCode !== 3) throw new Error(`ExecInspect ExitCode is ${r.exitCode}, not 3`);
      if (r.info.ContainerID !== c.id) throw new Error(`ExecInspect ContainerID is ${r.info.ContainerID}`);
      // The exec joins the container's pid namespace: it sees the container's init as PID 1.
      const ps = await execIn(s, c, ['sh', '-c', 'cat /proc/1/cmdline | tr "\\0" " "; echo; echo "self=$$"']);
      if (!ps.stdout.startsWith('sh -c trap') || !/self=(\d+)/.test(ps.stdout) || /self=1\n/.test(ps.stdout)) throw new Error(`inside the exec, PID 1 and self are ${JSON.stringify(ps.stdout)}`);
    },
  }),
  dockerTest({
    name: 'exec-exit-codes',
    title: "exec exit codes: 0, a non-zero code, and death by a signal as 128 + n; the container keeps running",
    async run(s) {
      const c = await startIdle(s);
      const wrong: string[] = [];
      for (const [script, want] of [['true', 0], ['exit 42', 42], ['kill -USR1 $$', 138], ['kill -KILL $$', 137]] as const) {
        const r = await execIn(s, c, ['sh', '-c', script]);
        if (r.exitCode !== want) wrong.push(`\`${script}\`: ${r.exitCode}, not ${want}`);
      }
      if (wrong.length) throw new Error(`exec exit codes: ${wrong.join('; ')}`);
      if (!(await c.inspect()).State.Running) throw new Error('the container stopped when its execs ended');
    },
  }),
  dockerTest({
    name: 'exec-options',
    title: 'exec with Env, User and WorkingDir: the process sees them; the container keeps its own',
    async run(s) {
      const c = await startIdle(s);
      const r = await execIn(s, c, ['sh', '-c', 'echo "$TSUITE_X|$(id -u):$(id -g)|$(pwd)"'], { Env: ['TSUITE_X=exec value'], User: '1000:1000', WorkingDir: '/tmp' });
      if (r.exitCode !== 0 || r.stdout !== 'exec value|1000:1000|/tmp\n') throw new Error(`the exec saw ${JSON.stringify(r.stdout)} (exit ${r.exitCode}), not "exec value|1000:1000|/tmp"`);
      const plain = await execIn(s, c, ['sh', '-c', 'echo "${TSUITE_X:-unset}|$(id -u)|$(pwd)"']);
      if (plain.stdout !== 'unset|0|/\n') throw new Error(`a later plain exec saw ${JSON.stringify(plain.stdout)}, not "unset|0|/"`);
    },
  }),
  dockerTest({
    name: 'exec-tty-interactive',
    title: 'exec with a TTY and stdin: a line-by-line round trip, terminal size from resize, and the exit code',
    async run(s) {
      const c = await startIdle(s);
      const script = '[ -t 0 ] && echo tty-yes; while read l; do case "$l" in quit) exit 5;; size) stty size;; *) echo "<$l>";; esac; done';
      const e = await c.exec({ Cmd: ['sh', '-c', script], AttachStdin: true, AttachStdout: true, AttachStderr: true, Tty: true });
      const stream = await e.start({ hijack: true, stdin: true, Tty: true });
      const out = demux(s.api, stream, true).stdout;
      await out.waitFor('tty-yes', s.signal);
      // Each reply is awaited before the next line is sent: a round trip, not a batch.
      for (const word of ['one', 'two words']) {
        stream.write(`${word}\n`);
        await out.waitFor(`<${word}>`, s.signal);
      }
      await e.resize({ h: 33, w: 97 });
      stream.write('size\n');
      await out.waitFor('33 97', s.signal);
      // A terminal turns "\n" into "\r\n" on output: proof the process wrote to a TTY.
      if (!out.text.includes('<one>\r\n')) throw new Error(`the TTY output has no CRLF line ends: ${JSON.stringify(out.text)}`);
      stream.write('quit\n');
      const info = await execEnded(s, e);
      if (info.ExitCode !== 5) throw new Error(`the interactive exec ended with ${info.ExitCode}, not 5`);
      stream.destroy();
    },
  }),
  dockerTest({
    name: 'attach-round-trip',
    title: "attach to a container's stdin, stdout and stderr: lines round-trip, stderr apart, and the container's exit code",
    async run(s) {
      const c = await s.createContainer({
        Image: s.images.busybox,
        Cmd: ['sh', '-c', 'echo ready; while read l; do [ "$l" = bye ] && exit 4; echo "echo:$l"; echo "err:$l" >&2; done'],
        OpenStdin: true,
        StdinOnce: true,
        AttachStdin: true,
        AttachStdout: true,
        AttachStderr: true,
      });
      const stream = await c.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true });
      const io = demux(s.api, stream);
      await c.start();
      await io.stdout.waitFor('ready', s.signal);
      for (const word of ['ping', 'pong']) {
        stream.write(`${word}\n`);
        await io.stdout.waitFor(`echo:${word}\n`, s.signal);
        await io.stderr.waitFor(`err:${word}\n`, s.signal);
      }
      if (io.stdout.text.includes('err:') || io.stderr.text.includes('echo:')) throw new Error(`stdout and stderr mixed: stdout ${JSON.stringify(io.stdout.text)}, stderr ${JSON.stringify(io.stderr.text)}`);
      stream.write('bye\n');
      const code = ((await c.wait({ abortSignal: s.signal })) as { StatusCode: number }).StatusCode;
      if (code !== 4) throw new Error(`the attached container exited ${code}, not 4`);
    },
  }),
];
