import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFixtureKernel } from '../../kernel/fixture/build-fixture-kernel.js';
import {
  FIXTURE_EXIT_DEVICE,
  FIXTURE_LANDMARK,
  FIXTURE_TESTS,
  qemuStatusForExitValue,
} from '../../kernel/fixture/fixture-protocol.js';

/**
 * Builds the fixture kernel with the host's gcc and boots each of its modes in plain QEMU (not
 * through tsuite: this checks the kernel itself, which tsuite's own tests then rely on).
 */

const QBOOT = '/usr/share/qemu/qboot.rom';

interface Boot {
  /** QEMU's exit status, or null if it was still running when we killed it. */
  status: number | null;
  /** Every console byte, untranslated. */
  bytes: Buffer;
  /** The console as lines, `\r` dropped (as tsuite's console channel reads it). */
  lines: string[];
  /** Set for a boot we had to kill: how long the console stayed silent before that. */
  silentMs?: number;
}

const toLines = (b: Buffer) => b.toString('latin1').replace(/\r/g, '').split('\n');

/**
 * Boots the kernel. Without `until`, waits for QEMU to exit by itself (at most 30 s). With it,
 * waits for a console line matching `until`, then watches `quietMs` more: QEMU must neither exit
 * nor print in that time, and is then killed.
 */
async function boot(elf: string, append: string, opts: { until?: RegExp; quietMs?: number; firmware?: string } = {}): Promise<Boot> {
  const args = ['-M', 'pc', '-accel', 'tcg', '-nodefaults', '-display', 'none', '-no-reboot', '-serial', 'stdio',
    '-device', FIXTURE_EXIT_DEVICE, '-kernel', elf, '-append', append];
  if (opts.firmware) args.push('-bios', opts.firmware);
  const child = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const chunks: Buffer[] = [];
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => chunks.push(b));
  child.stderr.on('data', (b: Buffer) => (stderr += b));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const bytes = () => Buffer.concat(chunks);
  const deadline = Date.now() + 30_000;
  try {
    if (!opts.until) {
      const status = await Promise.race([exited, sleep(30_000, 'timeout' as const)]);
      if (status === 'timeout') throw new Error(`QEMU (${append}) did not exit within 30 s; console:\n${bytes().toString('latin1')}`);
      if (stderr.trim()) throw new Error(`QEMU (${append}) complained: ${stderr}`);
      return { status, bytes: bytes(), lines: toLines(bytes()) };
    }
    while (!toLines(bytes()).some((l) => opts.until!.test(l))) {
      if (child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`no console line matching ${opts.until} (QEMU exit ${child.exitCode}); console:\n${bytes().toString('latin1')}`);
      }
      await sleep(50);
    }
    const seen = bytes().length;
    const quietMs = opts.quietMs ?? 1500;
    const early = await Promise.race([exited, sleep(quietMs, 'running' as const)]);
    if (early !== 'running') return { status: early, bytes: bytes(), lines: toLines(bytes()) };
    return { status: null, bytes: bytes(), lines: toLines(bytes()), silentMs: bytes().length === seen ? quietMs : 0 };
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  }
}

const HEADER = ['KTAP version 1', '1..1', '    KTAP version 1', '    # Subtest: fixture', `    1..${FIXTURE_TESTS.length}`];
const resultLine = (n: number, ok = true) => `    ${ok ? 'ok' : 'not ok'} ${n} ${FIXTURE_TESTS[n - 1]}`;
const allResults = (failing: number[] = []) => FIXTURE_TESTS.map((_, i) => resultLine(i + 1, !failing.includes(i + 1)));
const FAILING = FIXTURE_TESTS.indexOf('memory_address_in_address') + 1;

describe('fixture kernel', () => {
  let cache: string;
  let elf: string;

  beforeAll(async () => {
    cache = mkdtempSync(join(tmpdir(), 'tsuite-test-fixture-'));
    elf = await buildFixtureKernel(undefined, cache);
  }, 60_000);

  afterAll(() => rmSync(cache, { recursive: true, force: true }));

  it('is built into the cache under a hash of its sources, and a second build is a lookup', async () => {
    expect(elf.startsWith(join(cache, 'fixture-kernel'))).toBe(true);
    expect(elf).toMatch(/[/\\][0-9a-f]{16}[/\\]fixture\.elf$/);
    const built = statSync(elf).mtimeMs;
    expect(await buildFixtureKernel(undefined, cache)).toBe(elf);
    expect(statSync(elf).mtimeMs).toBe(built);
  });

  it.each([
    ['SeaBIOS', undefined],
    ['qboot', QBOOT],
  ])('ok under %s: landmark first, every test passes, QEMU exits 1', async (_name, firmware) => {
    if (firmware) expect(existsSync(firmware), `${firmware} (qemu-system-data)`).toBe(true);
    const r = await boot(elf, 'ok', { firmware });
    expect(r.lines[0]).toBe(FIXTURE_LANDMARK);
    expect(r.lines).toEqual(expect.arrayContaining([...HEADER, ...allResults(), 'ok 1 fixture', 'tsuite-fixture: exit 0']));
    expect(r.lines.some((l) => l.includes('not ok'))).toBe(false);
    expect(r.status).toBe(1);
  });

  it('ignores words it does not know, such as a Linux command line', async () => {
    const r = await boot(elf, 'console=ttyS0 panic=-1 ok', { firmware: existsSync(QBOOT) ? QBOOT : undefined });
    expect(r.lines).toContain('ok 1 fixture');
    expect(r.status).toBe(1);
  });

  it('fail: one test reports not ok after a diagnostic, and QEMU exits 3', async () => {
    const r = await boot(elf, 'fail');
    const notOk = r.lines.indexOf(resultLine(FAILING, false));
    expect(notOk).toBeGreaterThan(0);
    expect(r.lines[notOk - 1]).toMatch(/^ {4}# memory_address_in_address: 1 bad word\(s\); first at 0x[0-9a-f]{8} holds 0x[0-9a-f]{8}$/);
    expect(r.lines).toEqual(expect.arrayContaining([...allResults([FAILING]), 'not ok 1 fixture', '# Totals: pass:5 fail:1 skip:0 total:6']));
    expect(r.status).toBe(3);
  });

  it('panic: prints the PANIC line, then nothing, and never exits', async () => {
    const r = await boot(elf, 'panic', { until: /^PANIC:/ });
    expect(r.status).toBeNull();
    expect(r.silentMs).toBeGreaterThan(0);
    expect(r.lines[0]).toBe(FIXTURE_LANDMARK);
    const panic = r.lines.indexOf('PANIC: fixture panic requested');
    expect(r.lines.slice(panic - 1, panic + 1)).toEqual([resultLine(1), 'PANIC: fixture panic requested']);
    expect(r.lines.slice(panic + 1).join('')).toBe('');
  });

  it('hang: prints the landmark and the KTAP header, then stays silent and never exits', async () => {
    const r = await boot(elf, 'hang', { until: /^ {4}1\.\.\d+$/, quietMs: 2000 });
    expect(r.status).toBeNull();
    expect(r.silentMs).toBe(2000);
    expect(r.lines[0]).toBe(FIXTURE_LANDMARK);
    const header = r.lines.indexOf(HEADER[0]!);
    expect(r.lines.slice(header, header + HEADER.length)).toEqual(HEADER);
    expect(r.lines.slice(header + HEADER.length).join('')).toBe('');
  });

  it('triple-fault: the CPU resets and QEMU (-no-reboot) exits 0 by itself', async () => {
    const r = await boot(elf, 'triple-fault');
    expect(r.lines).toContain('tsuite-fixture: raising a triple fault');
    expect(r.lines.some((l) => l.startsWith('tsuite-fixture: exit'))).toBe(false);
    expect(r.status).toBe(0);
  });

  it('garbage: binary noise between the lines, yet every KTAP line is whole', async () => {
    const r = await boot(elf, 'garbage');
    for (const byte of [0x00, 0x0d, 0x1b, 0xff, 0xfe, 0x80]) expect(r.bytes.includes(byte), `byte 0x${byte.toString(16)}`).toBe(true);
    expect(r.bytes.includes(Buffer.from('\x1b[2J'))).toBe(true);
    expect(r.bytes.length).toBeGreaterThan(3000);
    // Not valid UTF-8: decoding must have replaced something.
    expect(r.bytes.toString('utf8')).toContain('\ufffd');
    expect(r.lines[0]).toBe(FIXTURE_LANDMARK);
    expect(r.lines).toEqual(expect.arrayContaining([...HEADER, ...allResults(), 'ok 1 fixture', 'tsuite-fixture: exit 0']));
    expect(r.status).toBe(1);
  });

  it('exit=7: exits through isa-debug-exit with 7, so QEMU exits 15', async () => {
    const r = await boot(elf, 'exit=7');
    expect(r.lines).toContain('tsuite-fixture: exit 7');
    expect(r.status).toBe(qemuStatusForExitValue(7));
    expect(r.status).toBe(15);
  });

  it('exit=N wins over a failure; an out-of-range value is reported and ignored', async () => {
    expect((await boot(elf, 'fail exit=0')).status).toBe(1);
    const bad = await boot(elf, 'exit=300');
    expect(bad.lines).toContain("tsuite-fixture: ignoring 'exit=300': the exit value must be 0..255");
    expect(bad.status).toBe(1);
  });
});
