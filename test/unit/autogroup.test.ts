import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { raiseAutogroupPriority } from '../../runners/qemu/autogroup.js';

describe('raiseAutogroupPriority', () => {
  it("sets a detached process's autogroup nice, or says why it could not", async () => {
    // Detached, as QEMU is: a session, and so an autogroup, of its own.
    const child = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
    try {
      const said = await raiseAutogroupPriority(child.pid!, -5);
      const file = `/proc/${child.pid}/autogroup`;
      let now: string | undefined;
      try {
        now = readFileSync(file, 'utf8');
      } catch {
        now = undefined;
      }
      if (said === 'autogroup nice -5') expect(now).toMatch(/nice -5\s*$/);
      else expect(said).toMatch(/^default priority: autogroup nice not set \((no autogrouping on this host|not permitted \(needs root or CAP_SYS_NICE\))\)$/);
    } finally {
      child.kill();
    }
  });

  it('names a process that is gone', async () => {
    expect(await raiseAutogroupPriority(2 ** 22 + 7)).toMatch(/^default priority: autogroup nice not set \((no autogrouping on this host|ENOENT)\)$/);
  });
});
