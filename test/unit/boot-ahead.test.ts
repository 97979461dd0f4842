import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bootAhead, firstSessionAsk } from '../../src/cli/boot-ahead.js';
import type { ProvisionRequest, Runner } from '../../src/core/runner.js';
import type { Session } from '../../src/core/session.js';
import { findTarget } from '../../src/core/target.js';
import { LINUX_EVENT_PATTERNS } from '../../src/parsers/kernel-events.js';
import { builtInManifest } from '../../suites/manifest.js';
import type { ResolvedTarget } from '../../src/cli/target-options.js';

/**
 * A runner whose machines boot when the test says: each provision is recorded with its signal, and
 * an aborted boot rejects as the QEMU runner's does. Its console log is a real file in the session dir.
 */
function fakeRunner() {
  const boots: { request: ProvisionRequest; signal: AbortSignal; finish(): void; disposed: boolean }[] = [];
  const runner: Runner = {
    name: 'fake',
    provision: (request, signal) => new Promise<Session>((resolve, reject) => {
      mkdirSync(request.dir, { recursive: true });
      writeFileSync(join(request.dir, 'console.log'), 'booting\n');
      const boot = {
        request, signal, disposed: false,
        finish: () => resolve({ id: request.sessionId, dir: request.dir, [Symbol.asyncDispose]: async () => { boot.disposed = true; } } as unknown as Session),
      };
      boots.push(boot);
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    }),
  };
  return { runner, boots };
}

describe('bootAhead', () => {
  let out: string;
  let request: ProvisionRequest;
  beforeEach(() => {
    out = mkdtempSync(join(tmpdir(), 'tsuite-boot-ahead-'));
    request = {
      sessionId: 'qemu-x86-1', dir: join(out, 'qemu-x86-1'), arch: 'x86_64', boot: { kernel: '/k', cmdline: 'console=ttyS0' },
      cpus: 2, memoryMb: 512, accel: 'auto', landmark: /ready/, bootTimeoutMs: 60_000, eventPatterns: LINUX_EVENT_PATTERNS,
    };
  });
  afterEach(() => rmSync(out, { recursive: true, force: true }));

  it('hands its machine to the session that asks for the same request, and then never stops it', async () => {
    const { runner, boots } = fakeRunner();
    const ahead = bootAhead(runner, request, new AbortController().signal);
    expect(boots).toHaveLength(1);
    const taking = ahead.take({ ...request, boot: { ...request.boot }, landmark: /ready/ }, new AbortController().signal);
    boots[0]!.finish();
    const session = await taking;
    expect(session?.id).toBe('qemu-x86-1');
    await ahead.discard();
    expect(boots[0]!.disposed).toBe(false);
    expect(boots[0]!.signal.aborted).toBe(false);
    expect(existsSync(join(request.dir, 'console.log'))).toBe(true);
    // Taken once: a second ask gets nothing.
    expect(await ahead.take(request, new AbortController().signal)).toBeUndefined();
  });

  it('stops the early boot and removes its console log when the session asks for anything else', async () => {
    const { runner, boots } = fakeRunner();
    const ahead = bootAhead(runner, request, new AbortController().signal);
    const other = { ...request, docker: { guestPort: 2375, readyTimeoutMs: 1000, publishPorts: [] } };
    expect(await ahead.take(other, new AbortController().signal)).toBeUndefined();
    expect(boots[0]!.signal.aborted).toBe(true);
    expect(existsSync(request.dir)).toBe(false);
  });

  it('a machine already up when it is not wanted is disposed, and a folder with other files in it is kept', async () => {
    const { runner, boots } = fakeRunner();
    const ahead = bootAhead(runner, request, new AbortController().signal);
    boots[0]!.finish();
    writeFileSync(join(request.dir, 'kept.txt'), 'not ours');
    await ahead.discard();
    expect(boots[0]!.disposed).toBe(true);
    expect(existsSync(join(request.dir, 'console.log'))).toBe(false);
    expect(existsSync(join(request.dir, 'kept.txt'))).toBe(true);
  });

  it('leaves it alone when another session asks', async () => {
    const { runner, boots } = fakeRunner();
    const ahead = bootAhead(runner, request, new AbortController().signal);
    expect(await ahead.take({ ...request, sessionId: 'qemu-x86-2', dir: join(out, 'qemu-x86-2') }, new AbortController().signal)).toBeUndefined();
    expect(boots[0]!.signal.aborted).toBe(false);
    await ahead.discard();
    expect(boots[0]!.signal.aborted).toBe(true);
  });

  it('is stopped by the run signal (Ctrl-C) before it is taken, and by the session signal after', async () => {
    const { runner, boots } = fakeRunner();
    const run = new AbortController();
    bootAhead(runner, request, run.signal);
    run.abort(new Error('SIGINT'));
    expect(boots[0]!.signal.aborted).toBe(true);

    const { runner: second, boots: secondBoots } = fakeRunner();
    const ahead = bootAhead(second, request, new AbortController().signal);
    const session = new AbortController();
    const taking = ahead.take(request, session.signal);
    session.abort(new Error('usage error in another session'));
    await expect(taking).rejects.toThrow('usage error in another session');
    expect(secondBoots[0]!.signal.aborted).toBe(true);
  });
});

describe('firstSessionAsk', () => {
  const target = (name: string): ResolvedTarget => ({ name, def: findTarget(name), landmark: /x/, eventPatterns: LINUX_EVENT_PATTERNS, benchClock: 'time' });
  const facts = (...names: string[]) => names.map((n) => builtInManifest.find((e) => e.name === n)!);

  it('asks for the engines the planned suites require, on the plain machine of the first session', () => {
    expect(firstSessionAsk(target('qemu-x86'), facts('boot'))).toEqual({ id: 'qemu-x86-1', engines: [] });
    expect(firstSessionAsk(target('qemu-x86'), facts('boot', 'cri', 'containers'))).toEqual({ id: 'qemu-x86-1', engines: ['docker', 'cri'] });
    // A suite with a machine of its own boots later: the first session is the plain suites'.
    expect(firstSessionAsk(target('qemu-x86'), facts('gpu', 'kernel'))).toEqual({ id: 'qemu-x86-1', engines: ['docker'] });
  });

  it('guesses nothing when the first session is not the plain one, or the target is not QEMU', () => {
    expect(firstSessionAsk(target('qemu-x86'), facts('gpu'))).toBeUndefined();
    expect(firstSessionAsk(target('qemu-x86'), facts('boot', 'bench'))).toBeUndefined();
    expect(firstSessionAsk(target('local'), facts('boot'))).toBeUndefined();
    // A kernel that ends its machine by itself (the fixture's exit device) is not started before its tests can read it.
    const fixture = target('qemu-x86');
    fixture.def = { ...fixture.def, exitSuccessValue: 0 };
    expect(firstSessionAsk(fixture, facts('boot'))).toBeUndefined();
    const ktap = target('qemu-x86');
    ktap.def = { ...ktap.def, ktap: true };
    expect(firstSessionAsk(ktap, facts('boot'))).toBeUndefined();
  });
});
