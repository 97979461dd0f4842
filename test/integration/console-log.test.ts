import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveBoot } from '../../kernel/resolve-boot.js';
import { profileFor } from '../../runners/qemu/profiles/index.js';
import { qemuRunner } from '../../runners/qemu/qemu-runner.js';
import { createProgress } from '../../src/core/progress.js';
import { findTarget } from '../../src/core/target.js';
import { referenceRequest } from './reference-request.js';

/**
 * The session's console.log against the console stream the tests saw, on the reference guest,
 * when tsuite stops reading for a while mid-boot (a busy event loop on a loaded host). QEMU's
 * own `logfile=` logged bytes twice then ("tsuite-booot: ready"); console-log.ts writes the log
 * from the stream instead.
 */
describe('console.log of a QEMU session (reference guest)', () => {
  it('holds exactly the lines the console stream delivered, even when tsuite read late', async () => {
    const { boot } = await resolveBoot(findTarget('qemu-x86'), profileFor('x86_64'), createProgress(process.stderr, true));
    const req = referenceRequest('console-log', 'x86_64', boot);
    // 1.5 s of a blocked event loop while the kernel prints its boot messages: QEMU's stdout
    // socket fills and its writes are refused (EAGAIN) until tsuite reads again.
    const busy = setTimeout(() => {
      const until = Date.now() + 1_500;
      while (Date.now() < until);
    }, 300);
    const session = await qemuRunner.provision(req, new AbortController().signal);
    clearTimeout(busy);
    await session[Symbol.asyncDispose]();

    const seen = session.console.lines.map((l) => l.text);
    const logged = readFileSync(join(req.dir, 'console.log'), 'utf8').replace(/\r/g, '').split('\n');
    if (logged.at(-1) === '') logged.pop();
    expect(seen.some((l) => l.includes('tsuite-boot: ready'))).toBe(true);
    expect(logged).toEqual(seen);
  }, 300_000);
});
