import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defineSuite, scanKernelEvents } from '../../src/index.js';

/** Slack for comparing the guest's clock with the host's: the two start at different moments. */
const CLOCK_SLACK_MS = 1_000;
/**
 * RAM the firmware keeps from the OS, measured here: qboot and SeaBIOS keep under 1 MiB (below
 * 1 MiB and the e820 hole), OVMF 6.5 MiB whatever the memory size. Beyond this, memory is missing.
 */
const FIRMWARE_RESERVED_KB: Record<string, number> = { uefi: 8_192 };
const DEFAULT_RESERVED_KB = 2_048;

export default defineSuite({
  name: 'boot',
  description: 'The kernel boots to its landmark, sees the machine it was given, and powers off cleanly',
  tests: [
    {
      name: 'reaches-landmark',
      title: 'reaches the boot landmark within the timeout, and the console log on disk shows it',
      requires: ['console'],
      async run({ session, metric }) {
        const landmark = session.console.lines[session.landmarkLine!]!.text;
        const log = await readFile(join(session.dir, 'console.log'), 'utf8').catch(() => undefined);
        if (log !== undefined) assert.ok(log.includes(landmark.trim()), `console.log does not contain the landmark line "${landmark}"`);
        else assert.ok(!session.spec, `no console.log in ${session.dir}`);
        if (session.bootMs !== undefined) metric({ name: 'boot-time-host', unit: 'ms', value: session.bootMs, better: 'lower' });
      },
    },
    {
      name: 'boot-time',
      title: "boot time by the guest's own clock is recorded and consistent with the host's",
      requires: ['boot-report'],
      run({ session, bootReport, metric }) {
        const guestMs = (bootReport!.uptimeS ?? NaN) * 1000;
        assert.ok(guestMs > 0, `the boot report's uptime_s is missing or not positive (${bootReport!.uptimeS})`);
        metric({ name: 'boot-time-guest', unit: 'ms', value: Math.round(guestMs), better: 'lower' });
        if (session.bootMs !== undefined) {
          assert.ok(
            guestMs <= session.bootMs + CLOCK_SLACK_MS,
            `the guest says it ran ${guestMs} ms before init, longer than the host saw from QEMU start to landmark (${session.bootMs} ms): its clock is wrong`,
          );
        }
      },
    },
    {
      name: 'no-kernel-errors',
      title: 'no panic, oops, BUG or WARN on the console during boot',
      requires: ['console'],
      run({ session }) {
        const lines = session.console.lines.map((l) => l.text);
        const events = scanKernelEvents(lines, session.eventPatterns, 0, (session.landmarkLine ?? lines.length - 1) + 1);
        assert.deepEqual(
          events.map((e) => `${e.kind} at line ${e.line + 1}: ${e.text}`),
          [],
          'the kernel reported problems during boot',
        );
      },
    },
    {
      name: 'cmdline',
      title: 'the guest sees exactly the kernel command line it was given',
      requires: ['boot-report', 'live'],
      run({ session, bootReport, skip }) {
        if (!session.spec!.cmdline) skip("the image's bootloader chose the command line and the target does not state it (give --image-cmdline)");
        assert.equal(bootReport!.cmdline, session.spec!.cmdline);
      },
    },
    {
      name: 'cpus',
      title: 'the guest sees as many CPUs as QEMU was given',
      requires: ['boot-report', 'live'],
      run({ session, bootReport }) {
        assert.equal(bootReport!.cpus, session.spec!.cpus);
      },
    },
    {
      name: 'memory',
      title: 'the guest sees the memory QEMU was given',
      requires: ['boot-report', 'live'],
      run({ session, bootReport }) {
        const givenKb = session.spec!.memoryMb * 1024;
        const ramKb = bootReport!.memSystemRamKb ?? NaN;
        const totalKb = bootReport!.memTotalKb ?? NaN;
        const reserveKb = FIRMWARE_RESERVED_KB[session.spec!.firmware ?? ''] ?? DEFAULT_RESERVED_KB;
        assert.ok(ramKb <= givenKb && ramKb >= givenKb - reserveKb, `System RAM ${ramKb} KiB, given ${givenKb} KiB (firmware may keep ${reserveKb} KiB)`);
        assert.ok(totalKb < ramKb && totalKb > ramKb / 2, `MemTotal ${totalKb} KiB is implausible for ${ramKb} KiB of RAM`);
      },
    },
    {
      name: 'arch',
      title: 'the guest runs the architecture of the target',
      requires: ['boot-report', 'live'],
      run({ session, bootReport }) {
        assert.equal(bootReport!.arch, session.spec!.arch);
      },
    },
    {
      name: 'clean-shutdown',
      title: 'a clean power-off ends QEMU with status 0 and no panic',
      requires: ['live', 'power-off'],
      endsSession: true,
      timeoutMs: 30_000,
      async run({ session }) {
        const from = session.console.lines.length;
        const exit = await session.shutdown('boot/clean-shutdown');
        const panics = scanKernelEvents(session.console.lines.map((l) => l.text), session.eventPatterns, from);
        assert.deepEqual(panics.map((e) => e.text), [], 'the kernel reported problems while powering off');
        assert.equal(exit.kind, 'clean', `the machine ended as '${exit.kind}' (${exit.detail ?? ''}), not a clean power-off`);
        assert.equal(exit.code, 0, `QEMU exited with status ${exit.code}`);
      },
    },
  ],
});
