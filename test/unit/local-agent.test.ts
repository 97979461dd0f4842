import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentError } from '../../src/channels/agent-error.js';
import { guestPath, shellWord } from '../../src/channels/guest-agent.js';
import type { Session } from '../../src/core/session.js';
import { LocalAgent } from '../../runners/local/local-agent.js';
import { uploadOnce } from '../../suites/guest-upload.js';

let parent: string | undefined;
let agent: LocalAgent | undefined;

/** A scratch root inside a parent of its own, so "nothing else was written" can be checked by listing. */
async function setup(): Promise<{ agent: LocalAgent; root: string; parent: string }> {
  parent = mkdtempSync(join(tmpdir(), 'local-agent-test-'));
  const root = join(parent, 'scratch');
  await mkdir(join(root, 'tmp'), { recursive: true });
  agent = new LocalAgent(root);
  return { agent, root, parent };
}

afterEach(() => {
  agent?.close();
  if (parent) rmSync(parent, { recursive: true, force: true });
  agent = parent = undefined;
});

/** Every path under `dir`, relative to it. */
function listAll(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    out.push(relative(dir, p));
    if (e.isDirectory()) out.push(...listAll(p).map((q) => join(e.name, q)));
  }
  return out.sort();
}

/** A process that exists and is not a zombie (this host's init may reap late). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

async function failure(p: Promise<unknown>): Promise<AgentError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(AgentError);
  return err as AgentError;
}

describe('guest paths', () => {
  it('are unchanged for a guest (no scratch root), so QEMU commands stay byte-identical', () => {
    expect(guestPath({}, '/opt/tsuite/probes')).toBe('/opt/tsuite/probes');
    expect(`cd ${shellWord(guestPath({}, '/tmp'))} && exec ${shellWord('/opt/tsuite/probes')}/files`).toBe('cd /tmp && exec /opt/tsuite/probes/files');
  });

  it('land under the scratch root on the host, quoted when they must be', () => {
    expect(guestPath({ scratchRoot: '/tmp/tsuite-local-1-ab' }, '/opt/tsuite/probes')).toBe('/tmp/tsuite-local-1-ab/opt/tsuite/probes');
    expect(shellWord("/tmp/a b/it's")).toBe(`'/tmp/a b/it'\\''s'`);
  });
});

describe('LocalAgent: exec', () => {
  it('runs a command with its output, exit code, stdin and cwd in the scratch tmp', async () => {
    const { agent, root } = await setup();
    const res = await agent.exec(['/bin/sh', '-c', 'cat; pwd; echo err >&2; exit 3'], { input: 'in\n' });
    expect(res.exitCode).toBe(3);
    expect(res.stdout.toString()).toBe(`in\n${join(root, 'tmp')}\n`);
    expect(res.stderr.toString()).toBe('err\n');
    expect(res.truncated).toBe(false);
  });

  it('replaces the environment when given one, as QGA does', async () => {
    const { agent } = await setup();
    const res = await agent.exec(['/usr/bin/env'], { env: { ONLY: 'this' } });
    expect(res.stdout.toString()).toBe('ONLY=this\n');
  });

  it('reports a signal death by number', async () => {
    const { agent } = await setup();
    const res = await agent.exec(['/bin/sh', '-c', 'kill -9 $$']);
    expect(res.signal).toBe(9);
    expect(res.exitCode).toBeUndefined();
  });

  it('refuses a program that does not exist', async () => {
    const { agent } = await setup();
    expect((await failure(agent.exec(['/no/such/program']))).kind).toBe('rejected');
  });

  it('kills a command past its limit, with the processes it started in other groups', async () => {
    const { agent, root } = await setup();
    const pidFile = join(root, 'tmp', 'bg.pid');
    // setsid: the grandchild leaves the command's process group, as a probe's per-test children do.
    const err = await failure(agent.exec(['/bin/sh', '-c', `setsid sleep 60 & echo $! > ${pidFile}; sleep 60`], { timeoutMs: 500 }));
    expect(err.kind).toBe('still-running');
    const bg = Number(readFileSync(pidFile, 'utf8'));
    await sleep(100);
    expect(running(bg)).toBe(false);
  });

  it('execStart/execStatus: running, then the result once', async () => {
    const { agent } = await setup();
    const pid = await agent.execStart(['/bin/sh', '-c', 'sleep 0.2; echo done']);
    expect(await agent.execStatus(pid)).toBeUndefined();
    await sleep(500);
    expect((await agent.execStatus(pid))?.stdout.toString()).toBe('done\n');
    expect((await failure(agent.execStatus(pid))).kind).toBe('rejected');
  });

  it('close kills what is still running, and later calls fail as dead', async () => {
    const { agent } = await setup();
    const pid = await agent.execStart(['/bin/sleep', '60']);
    expect(running(pid)).toBe(true);
    agent.close();
    await sleep(100);
    expect(running(pid)).toBe(false);
    expect((await failure(agent.ping())).kind).toBe('dead');
  });

  it('never powers the host off', async () => {
    const { agent } = await setup();
    expect((await failure(agent.shutdown())).kind).toBe('rejected');
  });
});

describe('LocalAgent: files', () => {
  it('uploads guest folders into the scratch root and writes nothing outside it', async () => {
    const { agent, root, parent } = await setup();
    const built = mkdtempSync(join(parent, 'built-'));
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(built, 'files'), '#!/bin/sh\necho ok\n');
    writeFileSync(join(built, 'dirs'), 'x');
    const optBefore = existsSync('/opt/tsuite/probes');
    const session = {} as Session;
    const dir = await uploadOnce(session, agent, '/opt/tsuite/probes', async () => ({ dir: built, names: ['files', 'dirs'] }));
    expect(dir).toBe(join(root, 'opt/tsuite/probes'));
    expect(listAll(parent)).toEqual([relative(parent, built), `${relative(parent, built)}/dirs`, `${relative(parent, built)}/files`,
      'scratch', 'scratch/opt', 'scratch/opt/tsuite', 'scratch/opt/tsuite/probes', 'scratch/opt/tsuite/probes/dirs', 'scratch/opt/tsuite/probes/files', 'scratch/tmp'].sort());
    expect(statSync(join(dir, 'files')).mode & 0o777).toBe(0o755);
    expect(existsSync('/opt/tsuite/probes')).toBe(optBefore);
    expect((await agent.exec([join(dir, 'files')])).stdout.toString()).toBe('ok\n');
  });

  it('refuses to write outside the scratch root, also through a symlink', async () => {
    const { agent, root, parent } = await setup();
    const outside = join(parent, 'outside.txt');
    expect((await failure(agent.writeFile(outside, 'x'))).kind).toBe('rejected');
    expect((await failure(agent.writeFile(join(root, '..', 'outside.txt'), 'x'))).kind).toBe('rejected');
    symlinkSync(parent, join(root, 'escape'));
    expect((await failure(agent.writeFile(join(root, 'escape', 'outside.txt'), 'x'))).kind).toBe('rejected');
    expect(existsSync(outside)).toBe(false);
  });

  it('reads any file, and writes with QGA modes (0600 unless told)', async () => {
    const { agent, root } = await setup();
    await agent.writeFile(join(root, 'tmp', 'a'), 'hello');
    expect(statSync(join(root, 'tmp', 'a')).mode & 0o777).toBe(0o600);
    expect((await agent.readFile(join(root, 'tmp', 'a'))).toString()).toBe('hello');
    expect((await agent.osInfo()).kernelRelease).toBe((await import('node:os')).release());
  });
});
