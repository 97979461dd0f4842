import { describe, expect, it } from 'vitest';
import type { ExecOptions, ExecResult } from '../../src/channels/agent.js';
import type { GuestAgent } from '../../src/channels/guest-agent.js';
import type { ChildResult, TestContext } from '../../src/core/suite.js';
import { ConsoleChannel } from '../../src/channels/console.js';
import { LINUX_EVENT_PATTERNS } from '../../src/parsers/kernel-events.js';
import { runProbe } from '../../suites/probe-runner.js';

const KTAP = 'KTAP version 1\n1..1\n    KTAP version 1\n    # Subtest: getrandom\n    1..1\n    ok 1 fills_buffer\nok 1 getrandom\n';

/** An agent that records what it is asked and answers every command with success (the probe with KTAP). */
function recordingAgent(scratchRoot?: string) {
  const calls: string[] = [];
  const ok = (stdout = ''): ExecResult => ({ exitCode: 0, stdout: Buffer.from(stdout), stderr: Buffer.alloc(0), truncated: false });
  const agent = {
    scratchRoot,
    isClosed: false,
    async exec(argv: readonly string[], _o?: ExecOptions) {
      calls.push(`exec ${JSON.stringify(argv)}`);
      return ok(argv[0] === '/bin/sh' ? KTAP : '');
    },
    async writeFile(path: string, _d: Buffer | string, mode?: number) {
      if (path.endsWith('/random')) calls.push(`write ${path} ${mode?.toString(8)}`);
    },
  } as unknown as GuestAgent;
  return { agent, calls };
}

function context(agent: GuestAgent): { ctx: TestContext; children: ChildResult[] } {
  const children: ChildResult[] = [];
  const session = { agent, console: new ConsoleChannel(), eventPatterns: LINUX_EVENT_PATTERNS, channels: new Set(['agent']) };
  const ctx = { session, target: { name: 't', arch: 'x86_64', ktap: false, containerImages: 'local' }, emit: (c: ChildResult) => children.push(c) } as unknown as TestContext;
  return { ctx, children };
}

describe('probe paths over the agent', () => {
  it('in a guest: exactly the commands QGA guests always got', async () => {
    const { agent, calls } = recordingAgent();
    const { ctx, children } = context(agent);
    await runProbe(ctx, 'random', 'random/', 30_000);
    expect(calls).toEqual([
      'exec ["/bin/mkdir","-p","/opt/tsuite/probes"]',
      'write /opt/tsuite/probes/random 755',
      'exec ["/bin/sh","-c","cd /tmp && exec /opt/tsuite/probes/random"]',
    ]);
    expect(children.map((c) => `${c.name} ${c.status}`)).toEqual(['random/getrandom/fills_buffer passed']);
  });

  it('on the host: under the scratch root, quoted for the shell', async () => {
    const { agent, calls } = recordingAgent('/tmp/tsuite local-1');
    await runProbe(context(agent).ctx, 'random', 'random/', 30_000);
    expect(calls).toEqual([
      'exec ["/bin/mkdir","-p","/tmp/tsuite local-1/opt/tsuite/probes"]',
      'write /tmp/tsuite local-1/opt/tsuite/probes/random 755',
      `exec ["/bin/sh","-c","cd '/tmp/tsuite local-1/tmp' && exec '/tmp/tsuite local-1/opt/tsuite/probes'/random"]`,
    ]);
  });
});
