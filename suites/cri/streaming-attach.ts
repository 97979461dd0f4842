import { criAttach } from '../../src/index.js';
import { criTest } from './cri-test.js';
import { same, streamOpts } from './streaming-checks.js';

/** A counter on stdout, and in /tmp/n for ExecSync to read; TERM ends it at once. */
const COUNTER = 'trap "exit 0" TERM; i=0; while true; do i=$((i+1)); echo "tick $i"; echo $i > /tmp/n; sleep 0.2; done';

/** Attach: joining the stdio of a container's own process (its command), not a new one. */
export const attachTests = [
  criTest({
    name: 'streaming-attach-tty-stdin',
    title: 'Attach to a container with stdin and a tty: typed commands reach its shell, and its exit ends the attach',
    rpcs: ['Attach'],
    async run({ ctx, cri, scope }) {
      const { id } = await scope.podWithContainer('shell', { command: ['sh'], stdin: true, tty: true });
      const at = await criAttach(cri, { container_id: id, stdin: true, tty: true }, streamOpts(ctx));
      at.write('echo $((6*7))\n');
      // 42 appears only in the shell's answer, not in the terminal's echo of the typed line.
      await at.waitFor(/\b42\b/, { timeoutMs: 10_000 });
      at.write('exit 3\n');
      const r = await at.wait();
      same('how the attach ended once the shell exited', r.status?.status, 'Success');
      const s = await scope.waitStatus(id, (x) => x.state === 'CONTAINER_EXITED', 'exit after `exit 3` typed through attach');
      same("the container's exit code (typed `exit 3`)", s.exit_code, 3);
    },
  }),
  criTest({
    name: 'streaming-attach-output',
    title: "Attach without stdin follows a container's output live, from the moment it joins",
    rpcs: ['Attach'],
    async run({ ctx, cri, scope }) {
      const { id } = await scope.podWithContainer('counter', { command: ['sh', '-c', COUNTER] });
      // Let the counter run ahead, so output from before the attach would show as a low number.
      let before = 0;
      const deadline = Date.now() + 30_000;
      while (before < 5) {
        if (Date.now() > deadline) throw new Error(`the counter container did not count to 5 within 30 s (at ${before})`);
        before = Number(await scope.sh(id, 'cat /tmp/n 2>/dev/null || echo 0'));
        await new Promise((r) => setTimeout(r, 200));
      }
      const at = await criAttach(cri, { container_id: id }, streamOpts(ctx));
      const first = Number((await at.waitFor(/tick (\d+)\n/, { timeoutMs: 10_000 }))[1]);
      const next = Number((await at.waitFor(/tick (\d+)\n/, { timeoutMs: 10_000 }))[1]);
      if (first < before) throw new Error(`attach began with 'tick ${first}', older than the counter's ${before} when it attached: a replay, not live output`);
      same('the tick after the first one seen', next, first + 1);
      at.close();
      same('attach closed by this side', (await at.wait()).status, null);
    },
  }),
];
