import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BOOT_REPORT_READY, parseBootReport } from '../../src/parsers/boot-report.js';

const fixture = (name: string) => readFileSync(new URL(`../../fixtures/console/${name}`, import.meta.url), 'utf8');
/** Split as a saved log is split; the fixtures have CRLF line ends. */
const lines = (text: string) => text.split(/\r?\n/);

const REPORT = [
  'tsuite-boot: version=1',
  'tsuite-boot: release=6.1.0-test',
  'tsuite-boot: arch=x86_64',
  'tsuite-boot: cmdline=console=ttyS0 panic=-1 quiet',
  'tsuite-boot: cpus=4',
  'tsuite-boot: mem_total_kb=1000',
  'tsuite-boot: mem_system_ram_kb=2000',
  'tsuite-boot: uptime_s=0.5',
  'tsuite-boot: ready',
];

describe('parseBootReport on the reference x86_64 console logs', () => {
  it('reads every field of the report from a successful boot', () => {
    const log = lines(fixture('reference-x86_64-ok.log'));
    const report = parseBootReport(log);
    expect(report).toBeDefined();
    expect(report).toMatchObject({
      version: 1,
      release: '6.1.0-56-cloud-amd64',
      arch: 'x86_64',
      cpus: 2,
      cmdline: 'console=ttyS0 panic=-1',
      memTotalKb: 481180,
      memSystemRamKb: 523899,
      uptimeS: 1.72,
    });
    expect(typeof report!.memTotalKb).toBe('number');
    expect(typeof report!.memSystemRamKb).toBe('number');
    expect(report!.uptimeS).toBeGreaterThan(0);
    expect(log[report!.readyLine]).toBe('tsuite-boot: ready');
    expect(log.findIndex((l) => BOOT_REPORT_READY.test(l))).toBe(report!.readyLine);
  });

  // Serial consoles end lines with \r\n; `tsuite parse` splits a saved log on \n alone.
  it('reads a CRLF log split on \\n only (trailing \\r tolerated)', () => {
    const report = parseBootReport(fixture('reference-x86_64-ok.log').split('\n'));
    expect(report?.cmdline).toBe('console=ttyS0 panic=-1');
    expect(report?.release).toBe('6.1.0-56-cloud-amd64');
    expect(report?.cpus).toBe(2);
  });

  it('finds no report in a boot that panicked before init printed one', () => {
    expect(parseBootReport(lines(fixture('reference-x86_64-panic-init.log')))).toBeUndefined();
  });
});

describe('parseBootReport on synthetic reports', () => {
  it('ignores a prefix such as a console timestamp before the marker', () => {
    const prefixed = ['[    0.10] booting', ...REPORT.map((l, i) => `[    1.${i}3] ${l}`)];
    const report = parseBootReport(prefixed);
    expect(report).toMatchObject({ version: 1, release: '6.1.0-test', cpus: 4, cmdline: 'console=ttyS0 panic=-1 quiet', uptimeS: 0.5 });
    expect(report!.readyLine).toBe(prefixed.length - 1);
  });

  it('returns undefined for a report cut short before `ready`', () => {
    expect(parseBootReport(REPORT.slice(0, -1))).toBeUndefined();
    expect(parseBootReport(REPORT.slice(0, 3))).toBeUndefined();
  });

  it('returns undefined for a `ready` line without a version (not a tsuite report)', () => {
    expect(parseBootReport(REPORT.slice(1))).toBeUndefined();
  });

  it('returns undefined for no lines at all', () => {
    expect(parseBootReport([])).toBeUndefined();
  });

  it('leaves a non-numeric numeric field undefined and keeps the others', () => {
    const report = parseBootReport(REPORT.map((l) => (l.startsWith('tsuite-boot: cpus=') ? 'tsuite-boot: cpus=two' : l)));
    expect(report).toBeDefined();
    expect(report!.cpus).toBeUndefined();
    expect(report!.memTotalKb).toBe(1000);
    expect(report!.release).toBe('6.1.0-test');
  });

  it('leaves absent fields undefined', () => {
    const report = parseBootReport(['tsuite-boot: version=1', 'tsuite-boot: ready']);
    expect(report).toEqual({
      version: 1,
      release: undefined,
      arch: undefined,
      cmdline: undefined,
      cpus: undefined,
      memTotalKb: undefined,
      memSystemRamKb: undefined,
      uptimeS: undefined,
      readyLine: 1,
    });
  });

  it('reads the first complete report when the console holds two', () => {
    const second = REPORT.map((l) => l.replace('cpus=4', 'cpus=8'));
    const report = parseBootReport([...REPORT, 'reboot', ...second]);
    expect(report!.cpus).toBe(4);
    expect(report!.readyLine).toBe(REPORT.length - 1);
  });
});
